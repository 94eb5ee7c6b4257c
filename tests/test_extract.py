from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from scraper.errors import ExtractionError
from scraper.site.extract import extract_items, extract_page
from scraper.site.profile import SiteProfile, load_profile
from scraper.site.selector_files import FieldSpec, SelectorSet, load_selectors

REPO_SELECTORS = Path(__file__).resolve().parent.parent / "selectors"
HOT = "//news.youku.test/index/jrrm"
MOD = "225659"

# --- sample pages, written to site-spec §2 and §3 -------------------------------------


def card(vid: str, title: str, thumb: str, time_: str, plays: str, comments: str) -> str:
    href = f"//v.youku.test/v_show/id_{vid}==.html"
    return f"""
<div class="v">
  <div class="v-thumb">
    <img src="//vthumb.ykimg.test/{thumb}" alt="{title}">
    <div class="v-thumb-tagrb"><span class="v-time">{time_}</span></div>
  </div>
  <div class="v-link"><a href="{href}" title="{title}" target="video"></a></div>
  <div class="v-meta va">
    <div class="v-meta-title"><a href="{href}" target="video">{title}</a></div>
    <div class="v-meta-entry">
      <i class="ibg ico-statplay" title="播放"></i><span class="v-num">{plays}</span>
      <i class="ibg ico-statcomment" title="评论"></i><span class="v-num">{comments}</span>
    </div>
  </div>
</div>"""


CARDS = [
    card("XMTY0ODg5NTQ4NA", "男子深夜街头遭抢劫 监控拍下全过程", "0516" + "a" * 28, "01:05",
         "2.2万", "378"),
    card("XMzk3MjQ0NjE2OA", "“大国重器”首次亮相 & 更多", "0b" * 16, "1:02:03", "1,322", "0"),
    card("XNDAwMTIzNDU2MA", "台风登陆 <直播>", "cd" * 16, "00:41", "104万", "1,322"),
]


def page_link(n: int, text: str | None = None, title: str | None = None) -> str:
    href = HOT if n == 1 else f"{HOT}/_page{MOD}_{n}_cmodid_{MOD}"
    title_attr = f' title="{title}"' if title else ""
    return (f'<a href="{href}"{title_attr} '
            f"onclick=\"nova_update('m_{MOD}',this.href);return false;\">{text or n}</a>")


def pager(current: int, last: int) -> str:
    pages = "".join(f'<span class="current">{n}</span>' if n == current else page_link(n)
                    for n in range(max(1, current - 2), min(last, current + 2) + 1))
    nxt = (f'<span class="next">{page_link(current + 1, "下一页", "下一页")}</span>'
           if current < last else "")
    tail = f'<span class="last">{page_link(last, "末页", "末页")}</span>' if current < last else ""
    return f"""
<div class="LPageBar">
  <div class="page_index">
    <span class="first">{page_link(1, "首页", "首页")}</span>
    <span class="pages">{pages}</span>
    {nxt}
    {tail}
  </div>
</div>"""


def catalogue(cards: list[str], *, current: int = 2, last: int = 67) -> str:
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>今日热门-优酷资讯</title>
<script src="//log.mmstat.test/eg.js"></script></head>
<body>
<div class="yk-header"><div class="v"><span>not a card</span></div></div>
<div class="yk-box" id="m_{MOD}">
  <div class="yk-row">{"".join(cards)}
  </div>
  {pager(current, last)}
</div>
</body></html>"""


CHANNEL = "//i.youku.test/i/UMTIzNDU2Nzg5Mg=="


def video_page(*, tag: str | None = "社会", channel_href: str | None = CHANNEL,
               plays: str = "2.2万", rendered: bool = True) -> str:
    title = "男子深夜街头遭抢劫 监控拍下全过程 警方：已抓获"
    href = f' href="{channel_href}"' if channel_href is not None else ""
    tags = f'<span data-sn="tags"><a class="v-tag" href="//news.youku.test/tag">{tag}</a></span>'
    module = f"""<h1><span id="subtitle" title="{title}">{title}</span></h1>
<div class="desc">
  <span id="module_basic_sub">
    <a{href} target="_blank"><img src="//vthumb.ykimg.test/{'e' * 32}" alt="">
    央视新闻
</a>
    <a class="v-sub-btn" href="javascript:void(0);">+订阅</a>
  </span>
  {tags if tag else ""}
  <span class="play-count">{plays}</span>
</div>"""
    escaped = module.replace('"', '\\"').replace("\n", "\\n")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}—在线播放—优酷网，视频高清在线观看</title>
<script>window.PageConfig = {{videoId: '411723371', videoId2: 'XMTY0ODg5NTQ4NA==',
showid: '0', catId: '91', catName: '资讯', seconds: '65.03'}};</script></head>
<body>
<div class="player-title"><div class="title-wrap">
<code id="bpmodule-playpage-lefttitle-code">{module if rendered else ""}</code>
</div></div>
<script>bigPipe.onPageletArrive({{"id":"bpmodule-playpage-lefttitle","html":"{escaped}"}});</script>
</body></html>"""


@pytest.fixture(scope="module")
def replica() -> SiteProfile:
    return load_profile("youku-replica")


@pytest.fixture(scope="module")
def cards_v(replica: SiteProfile) -> tuple[SelectorSet, ...]:
    return load_selectors(replica, "catalogue")


@pytest.fixture(scope="module")
def pager_v(replica: SiteProfile) -> tuple[SelectorSet, ...]:
    return load_selectors(replica, "pager")


@pytest.fixture(scope="module")
def video_v(replica: SiteProfile) -> tuple[SelectorSet, ...]:
    return load_selectors(replica, "video")


# --- catalogue ------------------------------------------------------------------------


def test_catalogue_cards(cards_v: tuple[SelectorSet, ...]) -> None:
    result = extract_items(catalogue(CARDS), cards_v, base_scheme="http")
    assert (result.version, result.fallback, result.missing_items) == ("catalogue@v1", False, 0)
    assert result.items == [
        {
            "vid": "XMTY0ODg5NTQ4NA",
            "url": "http://v.youku.test/v_show/id_XMTY0ODg5NTQ4NA==.html",
            "title": "男子深夜街头遭抢劫 监控拍下全过程",
            "thumb_url": "http://vthumb.ykimg.test/0516" + "a" * 28,
            "duration_text": "01:05", "duration_s": 65,
            "stat_play_text": "2.2万", "stat_play": 22000,
            "stat_cmt_text": "378", "stat_cmt": 378,
        },
        {
            "vid": "XMzk3MjQ0NjE2OA",
            "url": "http://v.youku.test/v_show/id_XMzk3MjQ0NjE2OA==.html",
            "title": "“大国重器”首次亮相 & 更多",
            "thumb_url": "http://vthumb.ykimg.test/" + "0b" * 16,
            "duration_text": "1:02:03", "duration_s": 3723,
            "stat_play_text": "1,322", "stat_play": 1322,
            "stat_cmt_text": "0", "stat_cmt": 0,
        },
        {
            "vid": "XNDAwMTIzNDU2MA",
            "url": "http://v.youku.test/v_show/id_XNDAwMTIzNDU2MA==.html",
            "title": "台风登陆 <直播>",
            "thumb_url": "http://vthumb.ykimg.test/" + "cd" * 16,
            "duration_text": "00:41", "duration_s": 41,
            "stat_play_text": "104万", "stat_play": 1040000,
            "stat_cmt_text": "1,322", "stat_cmt": 1322,
        },
    ]


def test_catalogue_real_scheme(cards_v: tuple[SelectorSet, ...]) -> None:
    html = catalogue(CARDS[:1]).replace(".test", ".com")
    item, = extract_items(html, cards_v, base_scheme="https").items
    assert item["url"] == "https://v.youku.com/v_show/id_XMTY0ODg5NTQ4NA==.html"
    assert item["thumb_url"] == "https://vthumb.ykimg.com/0516" + "a" * 28


@pytest.mark.parametrize(
    ("href", "vid"),
    [
        ("//v.youku.test/v_show/id_XMTIz==.html", "XMTIz"),
        ("//v.youku.test/v_show/id_XMTIz.html", "XMTIz"),
        ("//v.youku.test/v_show/id_XMTIz", "XMTIz"),
        ("//v.youku.test/v_show/id_XMTIz==", "XMTIz"),
        ("//v.youku.test/v_show/id_XMTIz==.html?spm=a2h0k.1&f=2", "XMTIz"),
    ],
)
def test_vid_forms(cards_v: tuple[SelectorSet, ...], href: str, vid: str) -> None:
    html = catalogue(CARDS[:1]).replace("//v.youku.test/v_show/id_XMTY0ODg5NTQ4NA==.html", href)
    item, = extract_items(html, cards_v, base_scheme="http").items
    assert item["vid"] == vid


def test_incomplete_card_is_dropped(cards_v: tuple[SelectorSet, ...]) -> None:
    broken = CARDS[1].replace(' title="“大国重器”首次亮相 &amp; 更多"', "").replace(
        ' title="“大国重器”首次亮相 & 更多"', "")
    assert broken != CARDS[1]
    result = extract_items(catalogue([CARDS[0], broken, CARDS[2]]), cards_v, base_scheme="http")
    assert [item["vid"] for item in result.items] == ["XMTY0ODg5NTQ4NA", "XNDAwMTIzNDU2MA"]
    assert (result.missing_items, result.missing, result.fallback) == (1, ("title",), False)


def test_card_optional_fields_missing(cards_v: tuple[SelectorSet, ...]) -> None:
    bare = CARDS[0].replace('<span class="v-time">01:05</span>', "").replace("2.2万", "n/a")
    item, = extract_items(catalogue([bare]), cards_v, base_scheme="http").items
    assert (item["duration_text"], item["duration_s"]) == (None, None)
    assert (item["stat_play_text"], item["stat_play"]) == ("n/a", None)
    assert item["stat_cmt"] == 378


def test_empty_catalogue(cards_v: tuple[SelectorSet, ...]) -> None:
    result = extract_items(catalogue([]), cards_v, base_scheme="http")
    assert (result.items, result.version, result.missing_items) == ([], "catalogue@v1", 0)


# --- pager ----------------------------------------------------------------------------


def test_pager_middle_page(pager_v: tuple[SelectorSet, ...]) -> None:
    result = extract_page(catalogue(CARDS, current=2, last=67), pager_v, base_scheme="http")
    assert (result.version, result.fallback, result.missing) == ("pager@v1", False, ())
    assert result.values == {
        "current": 2,
        "next_url": f"http:{HOT}/_page{MOD}_3_cmodid_{MOD}",
        "last_url": f"http:{HOT}/_page{MOD}_67_cmodid_{MOD}",
        "last_page": 67,
    }


def test_pager_first_page(pager_v: tuple[SelectorSet, ...]) -> None:
    values = extract_page(catalogue(CARDS, current=1, last=67), pager_v, base_scheme="http").values
    assert values["current"] == 1
    assert values["next_url"] == f"http:{HOT}/_page{MOD}_2_cmodid_{MOD}"


def test_pager_last_page(pager_v: tuple[SelectorSet, ...]) -> None:
    result = extract_page(catalogue(CARDS[:1], current=67, last=67), pager_v, base_scheme="http")
    assert result.missing == ()
    assert result.values == {"current": 67, "next_url": None, "last_url": None,
                             "last_page": None}


def test_pager_relative_links(pager_v: tuple[SelectorSet, ...]) -> None:
    html = catalogue(CARDS, current=2, last=67).replace(f'href="{HOT}', 'href="/index/jrrm')
    base = f"http:{HOT}/_page{MOD}_2_cmodid_{MOD}"
    values = extract_page(html, pager_v, base_scheme="http", base_url=base).values
    assert values["next_url"] == f"http:{HOT}/_page{MOD}_3_cmodid_{MOD}"


# --- video page -----------------------------------------------------------------------


def test_video_page(video_v: tuple[SelectorSet, ...]) -> None:
    result = extract_page(video_page(), video_v, base_scheme="http")
    assert (result.version, result.fallback, result.missing, result.ok) == (
        "video@v1", False, (), True)
    assert result.values == {
        "subtitle": "男子深夜街头遭抢劫 监控拍下全过程 警方：已抓获",
        "channel_name": "央视新闻",
        "channel_link": "http://i.youku.test/i/UMTIzNDU2Nzg5Mg==",
        "category": "社会",
        "stat_play_text": "2.2万",
        "stat_play": 22000,
    }
    result.raise_if_missing()


def test_video_page_without_tag(video_v: tuple[SelectorSet, ...]) -> None:
    result = extract_page(video_page(tag=None, plays="1,322"), video_v, base_scheme="http")
    assert result.missing == ()
    assert result.values["category"] == "未分类"
    assert (result.values["stat_play_text"], result.values["stat_play"]) == ("1,322", 1322)


def test_video_page_missing_channel_link(video_v: tuple[SelectorSet, ...]) -> None:
    result = extract_page(video_page(channel_href=None), video_v, base_scheme="http")
    assert (result.version, result.fallback, result.missing) == ("video@v1", False,
                                                                 ("channel_link",))
    assert result.values["channel_link"] is None
    assert result.values["channel_name"] == "央视新闻"
    with pytest.raises(ExtractionError) as info:
        result.raise_if_missing()
    assert info.value.missing == ("channel_link",)
    assert str(info.value) == "video@v1: required fields missing: channel_link"


def test_unrendered_video_page(video_v: tuple[SelectorSet, ...]) -> None:
    # The title module is only an escaped string in a script until the page's script runs.
    result = extract_page(video_page(rendered=False), video_v, base_scheme="http")
    assert result.missing == ("subtitle", "channel_name", "channel_link")
    assert result.values["category"] == "未分类"
    assert result.values["stat_play"] is None


def test_wrong_extractor(cards_v: tuple[SelectorSet, ...],
                         video_v: tuple[SelectorSet, ...]) -> None:
    with pytest.raises(ValueError, match="catalogue@v1 is read with extract_items"):
        extract_page("<html/>", cards_v, base_scheme="http")
    with pytest.raises(ValueError, match="video@v1 is read with extract_page"):
        extract_items("<html/>", video_v, base_scheme="http")
    with pytest.raises(ValueError, match="no selector versions"):
        extract_page("<html/>", (), base_scheme="http")


# --- fallback between versions --------------------------------------------------------

VIDEO_V2 = """\
[meta]
page = "video"
version = 2
created = 2026-12-01
derived_from = 1
reason = "redesign: title module renamed"

[fields.subtitle]
xpath = '//div[has-class("video-title")]/h2'
convert = "strip"
required = true

[fields.channel_name]
xpath = '//a[has-class("uploader")]/@data-name'
required = true

[fields.channel_link]
xpath = '//a[has-class("uploader")]/@href'
convert = "url"
required = true

[fields.category]
xpath = '//ul[has-class("tag-list")]/li'
convert = "strip"
default = "未分类"
"""

CATALOGUE_V2 = """\
[meta]
page = "catalogue"
version = 2
created = 2026-12-01
derived_from = 1
reason = "redesign: cards are li.video-card"
items = '//li[has-class("video-card")]'

[fields.vid]
xpath = './@data-vid'
required = true

[fields.url]
xpath = './/a[has-class("card-link")]/@href'
convert = "url"
required = true

[fields.title]
xpath = './/a[has-class("card-link")]'
convert = "strip"
required = true
"""

REDESIGNED_VIDEO = """<html><body>
<div class="video-title"><h2>
  新标题</h2></div>
<a class="uploader" href="//i.youku.test/i/U9==" data-name="新频道"><img alt=""></a>
</body></html>"""


@pytest.fixture
def with_v2(tmp_path: Path) -> SiteProfile:
    selectors = Path(shutil.copytree(REPO_SELECTORS, tmp_path / "selectors"))
    pages = selectors / "youku" / "pages"
    (pages / "video" / "v2.toml").write_text(VIDEO_V2, encoding="utf-8")
    (pages / "catalogue" / "v2.toml").write_text(CATALOGUE_V2, encoding="utf-8")
    return load_profile("youku-replica", selectors_dir=selectors)


def test_video_falls_back_to_v1_on_old_markup(with_v2: SiteProfile) -> None:
    versions = load_selectors(with_v2, "video")
    assert [v.label for v in versions] == ["video@v2", "video@v1"]
    result = extract_page(video_page(), versions, base_scheme="http")
    assert (result.version, result.fallback, result.missing) == ("video@v1", True, ())
    assert result.values["channel_name"] == "央视新闻"
    assert result.values["subtitle"] == "男子深夜街头遭抢劫 监控拍下全过程 警方：已抓获"


def test_video_v2_on_new_markup(with_v2: SiteProfile) -> None:
    result = extract_page(REDESIGNED_VIDEO, load_selectors(with_v2, "video"), base_scheme="http")
    assert (result.version, result.fallback, result.missing) == ("video@v2", False, ())
    assert result.values == {"subtitle": "新标题", "channel_name": "新频道",
                             "channel_link": "http://i.youku.test/i/U9==", "category": "未分类"}


def test_no_version_fits_returns_newest_partial(with_v2: SiteProfile) -> None:
    html = video_page(rendered=False)
    result = extract_page(html, load_selectors(with_v2, "video"), base_scheme="http")
    assert (result.version, result.fallback) == ("video@v2", False)
    assert result.missing == ("subtitle", "channel_name", "channel_link")


def test_catalogue_falls_back_to_v1(with_v2: SiteProfile) -> None:
    versions = load_selectors(with_v2, "catalogue")
    result = extract_items(catalogue(CARDS), versions, base_scheme="http")
    assert (result.version, result.fallback, result.missing_items) == ("catalogue@v1", True, 0)
    assert [item["stat_play"] for item in result.items] == [22000, 1322, 1040000]
    new = ('<ul><li class="video-card" data-vid="XAbc"><a class="card-link" '
           'href="//v.youku.test/v_show/id_XAbc==.html"> 标题 </a></li></ul>')
    result = extract_items(new, versions, base_scheme="http")
    assert (result.version, result.fallback) == ("catalogue@v2", False)
    assert result.items == [{"vid": "XAbc", "url": "http://v.youku.test/v_show/id_XAbc==.html",
                             "title": "标题"}]


# --- speed ----------------------------------------------------------------------------


def test_many_regex_and_presence() -> None:
    fields = {
        "page_numbers": FieldSpec(name="page_numbers", xpath='//span[has-class("pages")]/a',
                                  convert="int", many=True),
        "module_id": FieldSpec(name="module_id", xpath='//a[@title = $t]/@onclick',
                               vars={"t": "下一页"}, regex=re.compile(r"m_\d+")),
        "has_next": FieldSpec(name="has_next", xpath='//a[@title = "下一页"]',
                              convert="bool_present"),
        "has_prev": FieldSpec(name="has_prev", xpath='//a[@title = "上一页"]',
                              convert="bool_present"),
        "tags": FieldSpec(name="tags", xpath="//nothing", many=True, default=[]),
        "seconds": FieldSpec(name="seconds", xpath="//script[contains(., 'PageConfig')]",
                             regex=re.compile(r"seconds: '(\d+)"), convert="int"),
    }
    page = SelectorSet(page="test", version=1, path=Path("v1.toml"), meta={}, fields=fields)
    html = catalogue(CARDS, current=3, last=67) + video_page()
    result = extract_page(html, [page], base_scheme="http")
    assert result.values == {"page_numbers": [1, 2, 4, 5], "module_id": f"m_{MOD}",
                             "has_next": True, "has_prev": False, "tags": [], "seconds": 65}
