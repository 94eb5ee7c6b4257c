"""The channel page set (site-spec §11) read from saved pages written to the spec's markup,
the channel URLs of a profile and the uids a user may type."""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper.errors import ConfigError
from scraper.site.extract import extract_items, extract_page
from scraper.site.profile import SiteProfile, channel_uid, load_profile
from scraper.site.selector_files import load_selectors

REPO_SELECTORS = Path(__file__).resolve().parent.parent / "selectors"
UID = "UMTIzNDU2Nzg5MA"


def head(name: str, followers: str, videos: str, plays: str, *, order: str = "fvp") -> str:
    items = {"f": (followers, "粉丝"), "v": (videos, "视频"), "p": (plays, "播放")}
    stats = "".join(f'<li><span class="num">{items[k][0]}</span> <label>{items[k][1]}</label>'
                    f"</li>" for k in order)
    return (f'<div class="channel-head"><img class="channel-avatar" '
            f'src="//static.youku.test/avatar/1234567890?w=100">'
            f'<h1 class="channel-name"> {name} </h1><ul class="channel-stats">{stats}</ul>'
            "</div>")


def home(rendered: str = "") -> str:
    """A channel home as served: the head ships as an escaped payload a script inserts."""
    return ("<html><body><div id='channel-head-slot'>" + rendered + "</div>"
            "<script>var payload = '&lt;div class=\"channel-head\"&gt;';</script></body></html>")


def vcard(vid: str, title: str, time_: str, pub: str, plays: str) -> str:
    return (f'<li class="vcard"><a class="vcard-link" href="//v.youku.test/v_show/id_{vid}==.html"'
            f' title="{title}"><img src="//vthumb.ykimg.test/{"a" * 32}"></a>'
            f'<span class="vcard-time">{time_}</span><span class="vcard-pub">{pub}</span>'
            f'<span class="vcard-plays">{plays}</span></li>')


def video_list(cards: list[str], *, page: int, last: int) -> str:
    base = f"//i.youku.test/i/{UID}==/videos"
    nxt = (f'<span class="next"><a href="{base}?page={page + 1}" title="下一页">下一页</a></span>'
           if page < last else "")
    return (f'<html><body><ul class="channel-videos">{"".join(cards)}</ul>'
            f'<div class="LPageBar"><div class="page_index"><span class="pages">'
            f'<span class="current">{page}</span></span>{nxt}'
            f'<a href="{base}?page={last}" title="末页">末页</a></div></div></body></html>')


@pytest.fixture(scope="module")
def profile() -> SiteProfile:
    return load_profile("youku-replica", selectors_dir=REPO_SELECTORS)


def test_head_fields_with_their_shown_text(profile: SiteProfile) -> None:
    html = home(head("中国新闻网", "2.3万", "1,204", "3.1亿"))
    got = extract_page(html, load_selectors(profile, "channel"), base_scheme="http")
    assert got.ok and got.version == "channel@v1"
    assert got.values == {
        "name": "中国新闻网", "avatar_url": "http://static.youku.test/avatar/1234567890?w=100",
        "followers_text": "2.3万", "followers": 23_000, "videos_text": "1,204", "videos": 1204,
        "plays_text": "3.1亿", "plays": 310_000_000}


def test_head_figures_follow_their_labels_not_their_places(profile: SiteProfile) -> None:
    html = home(head("频道", "12", "3", "104万", order="pvf"))
    got = extract_page(html, load_selectors(profile, "channel"), base_scheme="http").values
    assert (got["followers"], got["videos"], got["plays"]) == (12, 3, 1_040_000)


def test_a_home_before_its_script_ran_lacks_the_head(profile: SiteProfile) -> None:
    got = extract_page(home(), load_selectors(profile, "channel"), base_scheme="http")
    assert set(got.missing) == {"name", "followers_text", "followers"}


def test_video_list_cards_and_next_page(profile: SiteProfile) -> None:
    cards = [vcard("XMTY0ODg5NTQ4NA", "男子深夜街头 & “监控”", "03:12", "2018-06-21", "2.2万"),
             vcard("XMzk3MjQ0NjE2OA", "台风 <直播>", "1:02:03", "2018-06-20", "378")]
    html = video_list(cards, page=1, last=3)
    items = extract_items(html, load_selectors(profile, "channel_videos"), base_scheme="http")
    assert items.version == "channel_videos@v1" and not items.missing_items
    assert [(i["vid"], i["title"], i["duration_s"], i["published"], i["stat_play"])
            for i in items.items] == [
        ("XMTY0ODg5NTQ4NA", "男子深夜街头 & “监控”", 192, "2018-06-21", 22_000),
        ("XMzk3MjQ0NjE2OA", "台风 <直播>", 3723, "2018-06-20", 378)]
    assert items.items[0]["url"] == "http://v.youku.test/v_show/id_XMTY0ODg5NTQ4NA==.html"
    pager = extract_page(html, load_selectors(profile, "pager"), base_scheme="http").values
    assert pager["next_url"] == f"http://i.youku.test/i/{UID}==/videos?page=2"
    last = extract_page(video_list(cards, page=3, last=3), load_selectors(profile, "pager"),
                        base_scheme="http").values
    assert last["next_url"] is None and last["current"] == 3


def test_channel_urls_of_a_profile(profile: SiteProfile) -> None:
    assert profile.channel_url(UID) == f"http://i.youku.test/i/{UID}=="
    assert profile.channel_videos_url(UID, 2) == f"http://i.youku.test/i/{UID}==/videos?page=2"


@pytest.mark.parametrize("typed", [UID, f"{UID}==", f"http://i.youku.test/i/{UID}==",
                                   f"//i.youku.test/i/{UID}/videos?page=2", f" {UID} "])
def test_a_uid_as_typed(typed: str) -> None:
    assert channel_uid(typed) == UID


@pytest.mark.parametrize("typed", ["", "two words", "http://v.youku.test/v_show/id_X.html"])
def test_not_a_uid(typed: str) -> None:
    with pytest.raises(ConfigError, match="not a channel uid"):
        channel_uid(typed)
