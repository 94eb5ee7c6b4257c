"""The repair rules of the second redesign, each on small pages: values inside words
(text and attributes), facts a page implies, why a candidate disagrees, gone fields, and
the body before a copy in the head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scraper.config import Settings
from scraper.repair.inner import inner_regexes
from scraper.repair.refresh import pager_sample
from scraper.repair.relocate import Between, Repair, Sample, relocate, repaired_fields
from scraper.repair.samples import agrees
from scraper.site.convert import converter
from scraper.site.extract import extract_page
from scraper.site.load import load_site
from scraper.site.selector_files import FieldSpec, SelectorSet

REPO_SELECTORS = Path(__file__).resolve().parent.parent / "selectors"


def selectors(*fields: FieldSpec) -> SelectorSet:
    return SelectorSet(page="test", version=1, path=Path("test/v1.toml"), meta={},
                       fields={f.name: f for f in fields})


def page(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body><div class='old-gone'></div>{body}</body></html>"


def one(field: FieldSpec, pages: list[tuple[str, dict[str, Any]]]) -> Repair:
    samples = [Sample(html, f"http://site.test/p{n}", known)
               for n, (html, known) in enumerate(pages, 1)]
    repairs = relocate(selectors(field), samples, scheme="http")
    return repairs[0]


VIEWS = FieldSpec(name="views", xpath='//span[has-class("views")]', convert="count")
VIEWS_TEXT = FieldSpec(name="views_text", xpath='//span[has-class("views")]', convert="strip")
COUNTS = [("2.2万", 22000), ("1,322", 1322), ("104万", 1040000), ("378", 378)]


def test_inner_regex_captures_the_value_between_its_words() -> None:
    count = converter("count", scheme="http", base_url=None)
    [regex] = inner_regexes("累计播放 2.2万 次", Between(22000, 23000), "count", count, agrees)
    assert regex.search("累计播放 104万 次")[1] == "104万"  # type: ignore[index]
    assert inner_regexes("2.2万", 22000, "count", count, agrees) == []  # the whole text
    assert inner_regexes("id 22000abc", 22000, "count", count, agrees) == []  # inside a token


def test_a_count_inside_words_is_repaired_with_a_regex() -> None:
    pages = [(page(f"<p class='stat'>累计播放 {text} 次</p><p>{n}条评论</p>"),
              {"views": Between(n, n * 2)}) for text, n in COUNTS]
    repair = one(VIEWS, pages)
    assert repair.status == "repaired" and repair.new_xpath == '//p[has-class("stat")]'
    assert repair.new_regex is not None and "累计播放" in repair.new_regex
    versions = (selectors(*repaired_fields(selectors(VIEWS), [repair]).values()),)
    got = extract_page(page("<p class='stat'>累计播放 3.5亿 次</p>"), versions, base_scheme="http")
    assert got.values == {"views": 350_000_000}


def test_a_twin_without_known_values_inherits_the_regex() -> None:
    pages = [(page(f"<p class='stat'>累计播放 {text} 次</p>"), {"views": Between(n, n * 2)})
             for text, n in COUNTS]
    samples = [Sample(html, f"http://site.test/p{n}", known)
               for n, (html, known) in enumerate(pages, 1)]
    repairs = relocate(selectors(VIEWS_TEXT, VIEWS), samples, scheme="http")
    assert [r.status for r in repairs] == ["repaired", "repaired"]
    versions = (selectors(*repaired_fields(selectors(VIEWS_TEXT, VIEWS), repairs).values()),)
    got = extract_page(pages[0][0], versions, base_scheme="http")
    assert got.values == {"views_text": "2.2万", "views": 22000}


def test_a_value_inside_words_that_differ_between_pages_is_not_repaired() -> None:
    words = ["累计播放 {} 次", "观看 {} 人", "热度 {}", "{} 次播放"]
    pages = [(page(f"<p class='stat'>{w.format(text)}</p>"), {"views": Between(n, n * 2)})
             for w, (text, n) in zip(words, COUNTS, strict=True)]
    repair = one(VIEWS, pages)
    assert repair.status == "unrepaired" and repair.new_xpath is None
    assert "words around the value differ" in repair.reason or "agrees on" in repair.reason
    assert repair.disagreements  # each page that did not agree says what it gave


def test_a_url_inside_a_json_attribute_and_a_number_in_data() -> None:
    link = FieldSpec(name="next_url", xpath='//a[@rel="next"]/@href', convert="url")
    pages = [(page(f"""<button class="more" data-params='{{"page": {n + 1}, "href": """
                   f""""/list/{n + 1}"}}'>下一页</button>"""),
              {"next_url": f"http://site.test/list/{n + 1}"}) for n in range(1, 5)]
    repair = one(link, pages)
    assert repair.status == "repaired", repair
    assert repair.new_xpath == '//button[has-class("more")]/@data-params'
    views = [(page(f"<div class='card' data-track='views={n}&amp;from=list'>x</div>"),
              {"views": Between(n, n * 2)}) for _, n in COUNTS]
    repair = one(VIEWS, views)
    assert repair.status == "repaired"
    assert repair.new_xpath == '//div[has-class("card")]/@data-track'


def test_the_body_is_preferred_over_a_copy_in_the_head() -> None:
    title = FieldSpec(name="title", xpath='//span[@id="subtitle"]/@title', required=True)
    pages = [(page(f"<h1 class='name'>{t}</h1>", head=f'<meta name="title" content="{t}">'),
              {"title": t}) for t in ("第一个视频", "第二个视频", "另一个标题")]
    repair = one(title, pages)
    assert repair.status == "repaired" and repair.new_xpath == '//h1[has-class("name")]'


def test_the_next_candidate_that_agrees_everywhere_is_found_on_the_missed_pages() -> None:
    """On the first pages nine decoys show the page number too; the fourth has none, so the
    best candidate agrees on 3/4 until the fourth page is searched for the real one."""
    current = FieldSpec(name="current", xpath='//span[has-class("cur")]', convert="int",
                        required=True)
    decoys = "".join("<i class='d'>{n}</i>" for _ in range(9))
    pages = [(page((decoys if n < 4 else "") + f"<ol><li><b aria-current='page'>{n}</b>"
                   "</li></ol>").replace("{n}", str(n)), {"current": n}) for n in (1, 2, 3, 4)]
    repair = one(current, pages)
    assert repair.status == "repaired", repair
    assert repair.new_xpath == '//b[@aria-current="page"]'
    assert (repair.pages_agreeing, repair.pages_checked) == (4, 4)


def test_gone_optional_field_and_broken_required_one() -> None:
    gone = FieldSpec(name="last", xpath='//a[@title="末页"]/@href', convert="url")
    pages = [(page(f"<b class='now'>{n}</b>"), {}) for n in (1, 2, 3)]
    assert one(gone, pages).status == "gone"
    required = FieldSpec(name="last", xpath='//a[@title="末页"]/@href', convert="url",
                         required=True)
    assert one(required, pages).status == "unrepaired"


def test_a_catalogue_page_implies_its_number_and_the_next_url() -> None:
    """The next page's URL is a fact when that page was loaded too, even if this page only
    names it through a script; unknown (not absent) on the last page sampled."""
    settings = Settings(selectors_dir=REPO_SELECTORS)
    site = load_site(settings)
    url = site.profile.catalogue_url(settings.category, 2)
    html = page("<button data-goto='3'>下一页</button>")
    implied = pager_sample(site, settings, url, html, 2, sampled={1, 2, 3})
    assert implied.known == {"current": 2,
                             "next_url": site.profile.catalogue_url(settings.category, 3)}
    assert pager_sample(site, settings, url, html, 2, sampled={1, 2}).known == {"current": 2}
