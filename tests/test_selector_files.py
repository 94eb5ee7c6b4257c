from __future__ import annotations

import shutil
import tomllib
from datetime import date
from pathlib import Path

import parsel
import pytest

from scraper.errors import ConfigError, SelectorFileError
from scraper.site.profile import SiteProfile, default_selectors_dir, list_sites, load_profile
from scraper.site.selector_files import (
    FieldSpec,
    compile_xpath,
    load_page_dir,
    load_selectors,
)
from scraper.site.selector_writer import next_version_path, write_version

REPO_SELECTORS = Path(__file__).resolve().parent.parent / "selectors"

VIDEO_V1 = """\
[meta]
page = "video"
version = 1
created = 2026-11-21
derived_from = 0
reason = "test"

[fields.subtitle]
xpath = '//span[@id = "subtitle"]/@title'
required = true

[fields.category]
xpath = '//a[has-class("v-tag")]'
convert = "strip"
default = "未分类"
"""


@pytest.fixture
def selectors(tmp_path: Path) -> Path:
    """A private copy of the repository's selectors, free to be changed by a test."""
    return Path(shutil.copytree(REPO_SELECTORS, tmp_path / "selectors"))


@pytest.fixture
def replica() -> SiteProfile:
    return load_profile("youku-replica")


# --- profiles -------------------------------------------------------------------------


def test_sites_and_default_dir() -> None:
    assert default_selectors_dir() == REPO_SELECTORS
    assert list_sites() == ["youku", "youku-replica"]


def test_replica_profile(replica: SiteProfile) -> None:
    assert replica.name == "youku-replica"
    assert replica.scheme == "http"
    assert replica.selector_set == "youku"
    assert replica.pages_dir == REPO_SELECTORS / "youku" / "pages"
    assert dict(replica.hosts) == {
        "catalogue": "news.youku.test", "video": "v.youku.test", "tracker": "log.mmstat.test",
        "static": "static.youku.test", "ups": "ups.youku.test",
        "comments": "p.comments.youku.test", "thumbs": "vthumb.ykimg.test",
        "channel": "i.youku.test",
    }
    assert replica.ups_url == "http://ups.youku.test/ups/get.json"
    assert replica.comments_url == "http://p.comments.youku.test/ycp/comment/pc/commentList"
    assert (replica.comment_app, replica.comment_page_size, replica.ccode) == (
        "100-DDwODVkv", 30, "0503")
    assert replica.url("tracker", replica.paths["tracker_script"]) == "http://log.mmstat.test/eg.js"
    assert replica.url("static", replica.paths["player_script"]) == (
        "http://static.youku.test/player/ykplayer.min.js")


def test_replica_urls(replica: SiteProfile) -> None:
    assert replica.catalogue_url("today-hot") == "http://news.youku.test/index/jrrm"
    assert replica.catalogue_url("today-hot", 1) == "http://news.youku.test/index/jrrm"
    assert replica.catalogue_url("today-hot", 2) == (
        "http://news.youku.test/index/jrrm/_page225659_2_cmodid_225659")
    assert replica.catalogue_url("jrrm", 67) == (
        "http://news.youku.test/index/jrrm/_page225659_67_cmodid_225659")
    assert replica.video_url("XMTIzNDU2") == "http://v.youku.test/v_show/id_XMTIzNDU2==.html"
    assert replica.video_url("XMTIzNDU2==") == "http://v.youku.test/v_show/id_XMTIzNDU2==.html"
    assert replica.absolute("//vthumb.ykimg.test/ab") == "http://vthumb.ykimg.test/ab"
    assert replica.absolute("https://x.test/a") == "https://x.test/a"


def test_real_profile_urls() -> None:
    youku = load_profile("youku")
    assert youku.scheme == "https"
    assert youku.selector_set == "youku"
    assert youku.catalogue_url("today-hot", 3) == (
        "https://news.youku.com/index/jrrm/_page225659_3_cmodid_225659")
    assert youku.video_url("XMzk5") == "https://v.youku.com/v_show/id_XMzk5==.html"
    assert youku.absolute("//v.youku.com/v_show/id_X==.html") == (
        "https://v.youku.com/v_show/id_X==.html")
    assert youku.url("ups", "/ups/get.json") == "https://ups.youku.com/ups/get.json"
    assert youku.hosts["static"] == "g.alicdn.com"
    assert youku.hosts["channel"] == "i.youku.com"


def test_categories(replica: SiteProfile) -> None:
    assert list(replica.categories) == ["today-hot", "surveillance", "military"]
    hot = replica.category("today-hot")
    assert (hot.slug, hot.module, hot.label) == ("jrrm", 225659, "今日热门")
    assert replica.category("surveillance").slug == "jkjs"
    assert replica.category("surveillance").label == "监控纪实"
    assert replica.category("military").slug == "jsqy"
    assert replica.category("military").label == "军事前沿"
    assert replica.category("jsqy") is replica.category("military")


def test_unknown_category(replica: SiteProfile) -> None:
    with pytest.raises(ConfigError) as info:
        replica.category("sports")
    assert str(info.value) == (
        "unknown category 'sports' for site youku-replica; "
        "choose from: today-hot, surveillance, military")


def test_bad_page_and_role(replica: SiteProfile) -> None:
    with pytest.raises(ConfigError, match="start at 1"):
        replica.catalogue_url("today-hot", 0)
    with pytest.raises(ConfigError, match="no host for role 'cdn'"):
        replica.url("cdn", "/x")


def test_unknown_site() -> None:
    with pytest.raises(ConfigError) as info:
        load_profile("bilibili")
    message = str(info.value)
    assert message.startswith("unknown site 'bilibili'; known sites: youku, youku-replica")
    assert "\n" not in message


def test_selectors_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_profile("youku", selectors_dir=tmp_path / "nope")


def test_profile_from_other_dir(selectors: Path) -> None:
    profile = load_profile("youku-replica", selectors_dir=selectors)
    assert profile.pages_dir == selectors / "youku" / "pages"
    assert list_sites(selectors) == ["youku", "youku-replica"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('scheme = "http"', 'scheme = "ftp"', "key 'scheme': expected 'http' or 'https'"),
        ('video = "v.youku.test"\n', "", "key 'hosts.video': missing"),
        ('ccode = "0503"', "ccode = 503", "key 'api.ccode': expected a string, got 503"),
        ('name = "youku-replica"', 'name = "youku"', "key 'name': 'youku' differs"),
        ('selectors = "youku"', 'selectors = "tudou"', "key 'selectors': no selector set"),
        ('scheme = "http"', 'scheme = "http"\nproxy = "x"', "key 'proxy': unknown key"),
        ("module = 225659", 'module = "225659"',
         "key 'categories.today-hot.module': expected an integer"),
        ('catalogue_page = "/index/{slug}/_page{mod}_{n}_cmodid_{mod}"',
         'catalogue_page = "/index/{slug}/{n}"', "key 'urls.catalogue_page': template lacks {mod}"),
        ('scheme = "http"', "scheme = ", "invalid TOML"),
    ],
)
def test_malformed_profile(selectors: Path, old: str, new: str, message: str) -> None:
    path = selectors / "youku-replica" / "site.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SelectorFileError) as info:
        load_profile("youku-replica", selectors_dir=selectors)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# --- selector files -------------------------------------------------------------------


def test_repository_selectors_load(replica: SiteProfile) -> None:
    catalogue, = load_selectors(replica, "catalogue")
    assert catalogue.label == "catalogue@v1"
    assert catalogue.items is not None
    assert catalogue.required == ("vid", "url", "title")
    assert list(catalogue.fields) == [
        "vid", "url", "title", "thumb_url", "duration_text", "duration_s",
        "stat_play_text", "stat_play", "stat_cmt_text", "stat_cmt"]
    pager, = load_selectors(replica, "pager")
    assert pager.items is None
    assert pager.required == ("current",)
    assert set(pager.fields) >= {"next_url", "current", "last_url"}
    assert pager.fields["next_url"].vars == {"label": "下一页"}
    video, = load_selectors(replica, "video")
    assert video.required == ("subtitle", "channel_name", "channel_link")
    assert list(video.fields) == ["subtitle", "channel_name", "channel_link", "category",
                                  "stat_play_text", "stat_play"]
    assert video.fields["category"].default == "未分类"
    assert video.meta["created"] == "2026-11-21"
    assert video.meta["derived_from"] == 0
    assert video.path == REPO_SELECTORS / "youku" / "pages" / "video" / "v1.toml"


def test_no_python_under_selectors() -> None:
    assert not list(REPO_SELECTORS.rglob("*.py"))


def test_unknown_page(replica: SiteProfile) -> None:
    with pytest.raises(SelectorFileError, match="no selector files"):
        load_selectors(replica, "playlist")


def _page_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    page_dir = tmp_path / "video"
    page_dir.mkdir()
    for name, text in files.items():
        (page_dir / name).write_text(text, encoding="utf-8")
    return page_dir


def _v2(fields: str = "", meta: str = "") -> str:
    return VIDEO_V1.replace("version = 1", "version = 2").replace(
        "derived_from = 0", "derived_from = 1" + meta) + fields


def test_versions_newest_first(tmp_path: Path) -> None:
    page_dir = _page_dir(tmp_path, {"v1.toml": VIDEO_V1, "v2.toml": _v2(), "notes.txt": "x"})
    assert [s.label for s in load_page_dir(page_dir)] == ["video@v2", "video@v1"]


@pytest.mark.parametrize(
    ("old", "new", "where", "reason"),
    [
        ("required = true", "required = true\ncolour = 'red'", "field 'subtitle'",
         "unknown key 'colour'"),
        ("xpath = '//span[@id = \"subtitle\"]/@title'\n", "", "field 'subtitle'",
         "missing xpath"),
        ("@title'", "@title['", "field 'subtitle'", "xpath does not compile"),
        ("has-class(", "has-klass(", "field 'category'", "unknown XPath function has-klass()"),
        ("@id = \"subtitle\"", "@id = $id", "field 'subtitle'", "uses $id but vars"),
        ('convert = "strip"', 'convert = "money"', "field 'category'",
         "unknown converter 'money'"),
        ('convert = "strip"', "convert = \"strip\"\nregex = '(unclosed'", "field 'category'",
         "bad regex '(unclosed'"),
        ("required = true", "required = true\ndefault = 'x'", "field 'subtitle'",
         "a required field cannot have a default"),
        ("required = true", "required = 'yes'", "field 'subtitle'", "true or false"),
        ("[fields.category]", "[fields.Category]", "field 'Category'", "lower_snake_case"),
        ("version = 1", "version = 2", "meta 'version'", "2 does not match the file name"),
        ('page = "video"', 'page = "catalogue"', "meta 'page'", "differs from the directory"),
        ("derived_from = 0", "derived_from = 1", "meta 'derived_from'", "must be 0 (none)"),
        ("created = 2026-11-21", "created = 'soon'", "meta 'created'", "not a YYYY-MM-DD"),
        ('reason = "test"\n', "", "meta 'reason'", "missing"),
        ('reason = "test"', 'reason = "test"\nauthor = "me"', "meta 'author'", "unknown key"),
        ("[fields.subtitle]", "[field.subtitle]", "table 'field'", "unknown key"),
        ('reason = "test"', "reason = \"test\"\nitems = '//div[has-class(\"v\")]'",
         "field 'subtitle'", "item fields are relative to the item"),
        ("[meta]", "[meta", "invalid TOML", "line 1"),
    ],
)
def test_malformed_selector_file(tmp_path: Path, old: str, new: str, where: str,
                                 reason: str) -> None:
    assert old in VIDEO_V1
    page_dir = _page_dir(tmp_path, {"v1.toml": VIDEO_V1.replace(old, new, 1)})
    with pytest.raises(SelectorFileError) as info:
        load_page_dir(page_dir)
    message = str(info.value)
    assert message.startswith(f"{page_dir / 'v1.toml'}: {where}")
    assert reason in message
    assert "\n" not in message


def test_duplicate_versions(tmp_path: Path) -> None:
    page_dir = _page_dir(tmp_path, {"v1.toml": VIDEO_V1, "v01.toml": VIDEO_V1})
    with pytest.raises(SelectorFileError) as info:
        load_page_dir(page_dir)
    assert str(info.value) == f"{page_dir / 'v1.toml'}: meta 'version': version 1 also in v01.toml"


def test_bad_file_name(tmp_path: Path) -> None:
    page_dir = _page_dir(tmp_path, {"latest.toml": VIDEO_V1})
    with pytest.raises(SelectorFileError, match=r"latest\.toml: file name: expected v<N>\.toml"):
        load_page_dir(page_dir)


def test_derived_from_must_exist(tmp_path: Path) -> None:
    page_dir = _page_dir(tmp_path, {"v2.toml": _v2()})
    with pytest.raises(SelectorFileError, match=r"v2\.toml: meta 'derived_from': no version 1"):
        load_page_dir(page_dir)


# --- new versions ---------------------------------------------------------------------


def test_write_version(tmp_path: Path) -> None:
    page_dir = _page_dir(tmp_path, {"v1.toml": VIDEO_V1})
    v1, = load_page_dir(page_dir)
    assert next_version_path(page_dir) == page_dir / "v2.toml"
    fields = dict(v1.fields)
    fields["subtitle"] = FieldSpec(name="subtitle", xpath='//h1[@id = $id]/@data-title',
                                   vars={"id": "title"}, required=True)
    path = write_version(v1, reason="redesign: title moved to h1@data-title", fields=fields,
                         created=date(2026, 12, 1))
    assert path == page_dir / "v2.toml"
    assert next_version_path(page_dir) == page_dir / "v3.toml"
    v2, again = load_page_dir(page_dir)
    assert again == v1
    assert v2.label == "video@v2"
    assert dict(v2.meta) == {"page": "video", "version": 2, "created": "2026-12-01",
                             "derived_from": 1,
                             "reason": "redesign: title moved to h1@data-title"}
    assert v2.fields["subtitle"].xpath == '//h1[@id = $id]/@data-title'
    assert v2.fields["subtitle"].vars == {"id": "title"}
    assert v2.fields["category"] == v1.fields["category"]
    with path.open("rb") as fh:
        assert tomllib.load(fh)["meta"]["created"] == date(2026, 12, 1)
    # XPaths stay readable: literal strings, no escaped quotes.
    assert """xpath = '//h1[@id = $id]/@data-title'""" in path.read_text(encoding="utf-8")
    assert '\\"' not in path.read_text(encoding="utf-8")


def test_write_version_refuses_overwrite(tmp_path: Path) -> None:
    page_dir = _page_dir(tmp_path, {"v1.toml": VIDEO_V1})
    v1, = load_page_dir(page_dir)
    with pytest.raises(SelectorFileError) as info:
        write_version(v1, reason="edit in place", fields=v1.fields, version=1, derived_from=0)
    assert str(info.value) == (
        f"{page_dir / 'v1.toml'}: write: file exists; a released version is never edited")
    assert (page_dir / "v1.toml").read_text(encoding="utf-8") == VIDEO_V1


def test_write_version_validates_first(tmp_path: Path) -> None:
    page_dir = _page_dir(tmp_path, {"v1.toml": VIDEO_V1})
    v1, = load_page_dir(page_dir)
    with pytest.raises(SelectorFileError, match=r"v2\.toml: field 'subtitle': xpath does not"):
        write_version(v1, reason="broken",
                      fields={"subtitle": {"xpath": "//h1[", "required": True}})
    with pytest.raises(SelectorFileError, match=r"meta 'derived_from': no version 7"):
        write_version(v1, reason="x", fields=v1.fields, derived_from=7, version=9)
    assert sorted(p.name for p in page_dir.iterdir()) == ["v1.toml"]


def test_field_spec_built_in_code_is_usable() -> None:
    spec = FieldSpec(name="subtitle", xpath='//span[has-class("t")]/@title', required=True)
    assert spec.compiled is not None
    assert spec.to_toml() == {"xpath": '//span[has-class("t")]/@title', "convert": "text",
                              "required": True}


@pytest.mark.parametrize(
    "xpath",
    ['//div[has-class("v")]', '//div[has-class("v", "va")]', '//div[not(has-class("v"))]',
     "//div[has-class('v-meta')]", '//div[@title = "has-class(\'v\')"]'],
)
def test_compiled_has_class_matches_parsel(xpath: str) -> None:
    html = ('<div class="v" id="1"></div><div class=" v\tva\n" id="2"></div>'
            '<div class="v-thumb" id="3"></div><div class="vv v-meta" id="4"></div>'
            '<div id="5" title="has-class(\'v\')"></div>')
    selector = parsel.Selector(text=html)
    expected = selector.xpath(xpath).xpath("@id").getall()
    assert [e.get("id") for e in compile_xpath(xpath)(selector.root)] == expected
