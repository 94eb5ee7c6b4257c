"""Selector repair on the 2018 layout (site-spec §2, §3) and a redesign of the same data.

The redesign renames every class and id the 2018 selectors use, reorders the cards'
children, changes tags (span -> em, a -> div[data-href], span or i from card to card),
moves values between attribute and text (title @title -> text, duration text ->
@data-duration, views -> @data-count),
adds an ad card of the same class and a banner repeating a card's title, and puts decoys
on video pages. Everything is compared field by field with the data the pages came from
(the pages are built in ``relocate_pages_fixture.py``).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from scraper.repair.fingerprint import Fingerprint, fingerprint_field, from_json, to_json
from scraper.repair.relocate import (
    Between,
    Repair,
    Sample,
    check_fields,
    relocate,
    repaired_fields,
    repaired_items,
)
from scraper.site.extract import extract_items, extract_page
from scraper.site.selector_files import FieldSpec, SelectorSet, load_page_dir
from scraper.site.selector_writer import write_version
from tests.relocate_pages_fixture import (
    PAGES,
    PER_PAGE,
    Video,
    catalogue_2018,
    catalogue_new,
    page_href,
    page_videos,
    video,
    video_2018,
    video_new,
)

PAGES_DIR = Path(__file__).resolve().parent.parent / "selectors" / "youku" / "pages"


# --- samples -----------------------------------------------------------------------------


def cat_url(page: int) -> str:
    return "http:" + page_href(page)


def cat_sample(page: int, *, new: bool) -> Sample:
    html = catalogue_new(page) if new else catalogue_2018(page)
    return Sample(html, cat_url(page), {"items": [v.card_known() for v in page_videos(page)]})


def pager_known(page: int) -> dict[str, Any]:
    return {"current": page, "next_url": cat_url(page + 1) if page < PAGES else None}


def pager_truth(page: int) -> dict[str, Any]:
    return {**pager_known(page), "last_url": cat_url(PAGES), "last_page": PAGES}


def pager_sample(page: int, *, new: bool, known: bool = True) -> Sample:
    html = catalogue_new(page) if new else catalogue_2018(page)
    return Sample(html, cat_url(page), pager_known(page) if known else {})


def video_sample(n: int, *, new: bool, views: bool = True) -> Sample:
    v = video(n)
    html = video_new(v, views=views) if new else video_2018(v)
    return Sample(html, f"http://v.youku.test/v_show/id_{v.vid}.html", v.page_known())


def v1(page: str) -> SelectorSet:
    return load_page_dir(PAGES_DIR / page)[0]


def by_field(repairs: list[Repair]) -> dict[str, Repair]:
    return {r.field: r for r in repairs}


def new_version(tmp_path: Path, page: str, repairs: list[Repair]) -> tuple[SelectorSet, ...]:
    """Write the repaired fields as v2 beside a copy of v1 and load both, newest first."""
    shutil.copytree(PAGES_DIR / page, tmp_path / page)
    base = load_page_dir(tmp_path / page)[0]
    write_version(base, reason="redesign", fields=repaired_fields(base, repairs),
                  items=repaired_items(base, repairs))
    versions = load_page_dir(tmp_path / page)
    assert [s.version for s in versions] == [2, 1]
    return versions


def positional(xpath: str) -> bool:
    """An index into siblings; "the next <x> after this marker" is adjacency, not position."""
    return bool(re.search(r"\[\s*\d+\s*\]", re.sub(r"following-sibling::[\w*-]+\[1\]", "", xpath)))


CARD_FIELDS = ["vid", "url", "title", "thumb_url", "duration_text", "duration_s",
               "stat_play_text", "stat_play", "stat_cmt_text", "stat_cmt"]
VIDEO_BROKEN = ["subtitle", "channel_name", "channel_link", "stat_play_text", "stat_play"]
SAMPLE_PAGES, HELD_OUT = [1, 2, 3, 5, 8, 12], [4, 6, 7, 9, 10, 11]
SAMPLE_VIDEOS, HELD_OUT_VIDEOS = [0, 1, 2, 3, 4, 5, 8, 13], [6, 7, 9, 10, 11, 12, 14, 21]


# --- check_fields ------------------------------------------------------------------------


def test_check_fields_on_2018_pages_all_ok() -> None:
    cat = check_fields(v1("catalogue"), [cat_sample(p, new=False) for p in SAMPLE_PAGES],
                       scheme="http")
    vid = check_fields(v1("video"), [video_sample(n, new=False) for n in SAMPLE_VIDEOS],
                       scheme="http")
    pager = check_fields(v1("pager"), [pager_sample(p, new=False) for p in SAMPLE_PAGES],
                         scheme="http")
    assert cat == dict.fromkeys(["items", *CARD_FIELDS], True)
    assert all(vid.values()) and set(vid) == {*VIDEO_BROKEN, "category"}
    assert pager == dict.fromkeys(["current", "next_url", "last_url", "last_page"], True)


def test_check_fields_on_redesign_names_the_broken_fields() -> None:
    cat = check_fields(v1("catalogue"), [cat_sample(p, new=True) for p in SAMPLE_PAGES],
                       scheme="http")
    vid = check_fields(v1("video"), [video_sample(n, new=True) for n in SAMPLE_VIDEOS],
                       scheme="http")
    pager = check_fields(v1("pager"), [pager_sample(p, new=True) for p in SAMPLE_PAGES],
                         scheme="http")
    assert cat == dict.fromkeys(["items", *CARD_FIELDS], False)
    assert vid == {**dict.fromkeys(VIDEO_BROKEN, False), "category": True}
    assert not any(pager.values())


# --- relocate: catalogue -----------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue_repairs() -> list[Repair]:
    return relocate(v1("catalogue"), [cat_sample(p, new=True) for p in SAMPLE_PAGES],
                    scheme="http")


def test_catalogue_every_field_repaired(catalogue_repairs: list[Repair]) -> None:
    repairs = by_field(catalogue_repairs)
    assert list(repairs) == ["items", *CARD_FIELDS]
    for repair in catalogue_repairs:
        assert repair.status == "repaired", repair
        assert repair.confidence >= 0.8 and repair.pages_agreeing == len(SAMPLE_PAGES)
        assert repair.new_xpath and not positional(repair.new_xpath)
    assert "yk-pack--video" in (repairs["items"].new_xpath or "")  # the ad card is left out


def test_catalogue_new_version_extracts_the_truth(catalogue_repairs: list[Repair],
                                                  tmp_path: Path) -> None:
    versions = new_version(tmp_path, "catalogue", catalogue_repairs)
    for page in SAMPLE_PAGES + HELD_OUT:
        got = extract_items(catalogue_new(page), versions, base_scheme="http",
                            base_url=cat_url(page))
        assert got.version == "catalogue@v2" and got.missing_items == 0
        want = [v.card_known() for v in page_videos(page)]
        assert len(got.items) == len(want)
        for item, truth in zip(got.items, want, strict=True):
            for name in CARD_FIELDS:
                assert item[name] == truth[name], (page, name)
    old = extract_items(catalogue_2018(4), versions, base_scheme="http")
    assert old.version == "catalogue@v1" and old.fallback and len(old.items) == PER_PAGE


def test_a_catalogue_list_that_moved_on(tmp_path: Path) -> None:
    """The store's list predates two new cards at the top and still holds one card that
    has since dropped off: items are matched by their values, not by position."""
    def moved(page: int) -> dict[str, Any]:
        gone = video(10_000 + page).card_known()
        return {"items": [v.card_known() for v in page_videos(page)[2:]] + [gone]}

    old = check_fields(v1("catalogue"), [Sample(catalogue_2018(p), cat_url(p), moved(p))
                                         for p in SAMPLE_PAGES], scheme="http")
    assert all(old.values())
    samples = [Sample(catalogue_new(p), cat_url(p), moved(p)) for p in SAMPLE_PAGES]
    repairs = relocate(v1("catalogue"), samples, scheme="http")
    assert all(r.status == "repaired" for r in repairs), repairs
    assert by_field(repairs)["items"].new_xpath == '//div[has-class("yk-pack--video")]'
    versions = new_version(tmp_path, "catalogue", repairs)
    for page in HELD_OUT:
        got = extract_items(catalogue_new(page), versions, base_scheme="http")
        assert got.items == [v.card_known() for v in page_videos(page)], page


# --- relocate: video page ----------------------------------------------------------------


def test_video_page_repaired_and_extracts_the_truth(tmp_path: Path) -> None:
    repairs = relocate(v1("video"), [video_sample(n, new=True) for n in SAMPLE_VIDEOS],
                       scheme="http")
    status = {r.field: r.status for r in repairs}
    assert status == {**dict.fromkeys(VIDEO_BROKEN, "repaired"), "category": "ok"}
    assert not any(positional(r.new_xpath or "") for r in repairs)
    assert not any("rec-hd" in (r.new_xpath or "") for r in repairs)  # the decoys
    versions = new_version(tmp_path, "video", repairs)
    for n in SAMPLE_VIDEOS + HELD_OUT_VIDEOS:
        v = video(n)
        got = extract_page(video_new(v), versions, base_scheme="http")
        assert got.version == "video@v2" and got.ok
        for name, value in v.page_known().items():
            assert got.values[name] == value, (n, name)


def test_decoy_right_on_one_page_wrong_on_another_is_not_taken() -> None:
    """The views are gone from the redesign; a sidebar figure equals them on page 0 only."""
    samples = [video_sample(n, new=True, views=False) for n in (0, 1, 2, 3)]
    repairs = by_field(relocate(v1("video"), samples, scheme="http"))
    for name in ("stat_play_text", "stat_play"):
        assert repairs[name].status == "unrepaired" and repairs[name].new_xpath is None
    assert repairs["subtitle"].status == "repaired"


def test_a_value_found_nowhere_is_gone_not_guessed() -> None:
    """The views element is removed: an optional field found nowhere is gone, not guessed,
    and a new version leaves it out."""
    samples = [video_sample(n, new=True, views=False) for n in (1, 2, 3)]
    base = v1("video")
    repairs = relocate(base, samples, scheme="http")
    stat_play = by_field(repairs)["stat_play"]
    assert (stat_play.status, stat_play.new_xpath) == ("gone", None)
    assert stat_play.reason.endswith("known value not found on any sample")
    assert "stat_play" not in repaired_fields(base, repairs)
    assert "subtitle" in repaired_fields(base, repairs)


def test_a_required_value_found_nowhere_is_unrepaired() -> None:
    base = v1("video")
    stat_play = replace(base.fields["stat_play"], required=True)
    samples = [video_sample(n, new=True, views=False) for n in (1, 2, 3)]
    repairs = relocate(replace(base, fields={**base.fields, "stat_play": stat_play}), samples,
                       scheme="http")
    assert by_field(repairs)["stat_play"].status == "unrepaired"


def broken_category() -> SelectorSet:
    base = v1("video")
    category = FieldSpec(name="category", xpath='//span[@data-sn = "labels"]/a', convert="strip",
                         default="未分类")
    return replace(base, fields={**base.fields, "category": category})


def test_a_value_every_sample_shares_is_not_evidence() -> None:
    """All samples tagged 社会: a constant element would agree too, so no repair."""
    assert {video(n).tag for n in (0, 5, 10, 15)} == {"社会"}
    samples = [video_sample(n, new=True) for n in (0, 5, 10, 15)]
    repair = by_field(relocate(broken_category(), samples, scheme="http"))["category"]
    assert repair.status == "unrepaired" and repair.confidence < 0.8


def test_a_field_absent_on_some_pages_is_repaired_from_the_others() -> None:
    assert None in {video(n).tag for n in SAMPLE_VIDEOS}
    base = broken_category()
    repairs = relocate(base, [video_sample(n, new=True) for n in SAMPLE_VIDEOS], scheme="http")
    assert by_field(repairs)["category"].status == "repaired"
    fields = repaired_fields(base, repairs)
    versions = (replace(base, fields=fields, version=2),)
    for n in HELD_OUT_VIDEOS:
        got = extract_page(video_new(video(n)), versions, base_scheme="http")
        assert got.values["category"] == (video(n).tag or "未分类"), n


def stale(v: Video) -> dict[str, Any]:
    """What the store holds from an earlier crawl: counts were lower then, texts unknown."""
    known = v.card_known()
    for name in ("stat_play", "stat_cmt"):
        old = int(known[name] * 0.9)
        known[name] = Between(old, old * 2)
    del known["stat_play_text"], known["stat_cmt_text"]
    return known


def test_stale_counts_and_their_twins(tmp_path: Path) -> None:
    samples = [Sample(catalogue_new(p), cat_url(p), {"items": [stale(v) for v in page_videos(p)]})
               for p in SAMPLE_PAGES]
    repairs = relocate(v1("catalogue"), samples, scheme="http")
    assert all(r.status == "repaired" for r in repairs), repairs
    versions = new_version(tmp_path, "catalogue", repairs)
    for page in HELD_OUT:
        got = extract_items(catalogue_new(page), versions, base_scheme="http")
        assert got.items == [v.card_known() for v in page_videos(page)], page


def test_build_tool_noise_never_becomes_an_anchor() -> None:
    """Vue scoped attributes, event bindings and hashed CSS classes change every deploy."""
    def noisy(html: str) -> str:
        html = re.sub(r"<(span|p|div|h1|a|em) ", r'<\1 data-v-7ba5bd90 @click="go" :key="k" ',
                      html)
        return html.replace('class="', 'class="css-1q2w3e4 ')
    samples = [Sample(noisy(s.html), s.url, s.known)
               for s in (video_sample(n, new=True) for n in SAMPLE_VIDEOS)]
    repairs = relocate(v1("video"), samples, scheme="http")
    assert all(r.status in ("ok", "repaired") for r in repairs), repairs
    for repair in repairs:
        assert not re.search(r"data-v-|css-|@click|:key", repair.new_xpath or ""), repair


# --- relocate: pager, from fingerprints and cues -----------------------------------------


def pager_prints() -> dict[str, list[Fingerprint]]:
    pager = v1("pager")
    prints: dict[str, list[Fingerprint]] = {}
    for page in (1, 2, 7):
        for name, spec in pager.fields.items():
            for fp in fingerprint_field(catalogue_2018(page), spec, items_xpath=None):
                if fp not in prints.setdefault(name, []):
                    prints[name].append(fp)
    return prints


@pytest.mark.parametrize("known", ["next", "all", "none"])
def test_pager_repaired_from_fingerprints_and_cues(known: str, tmp_path: Path) -> None:
    """The last page's URL is the same on every page: only the 末页 cue makes it evidence."""
    samples = [Sample(catalogue_new(p), cat_url(p), {"next": pager_known(p), "all": pager_truth(p),
                                                     "none": {}}[known]) for p in SAMPLE_PAGES]
    repairs = relocate(v1("pager"), samples, scheme="http", fingerprints=pager_prints())
    assert {r.field: r.status for r in repairs} == dict.fromkeys(
        ["current", "next_url", "last_url", "last_page"], "repaired"), repairs
    versions = new_version(tmp_path, "pager", repairs)
    for page in SAMPLE_PAGES + HELD_OUT:
        got = extract_page(catalogue_new(page), versions, base_scheme="http")
        assert got.version == "pager@v2" and got.values == pager_truth(page), page


def test_pager_without_known_values_or_prints_uses_the_old_labels() -> None:
    samples = [pager_sample(p, new=True, known=False) for p in SAMPLE_PAGES]
    repairs = by_field(relocate(v1("pager"), samples, scheme="http"))
    assert repairs["last_url"].status == "repaired"
    assert repairs["next_url"].status == "repaired"


def test_no_known_value_and_no_cue_is_unrepaired() -> None:
    spec_set = v1("video")
    samples = [Sample(video_new(video(n)), "http://v.youku.test/", {}) for n in (1, 2, 3)]
    repairs = by_field(relocate(spec_set, samples, scheme="http"))
    assert repairs["subtitle"].status == "unrepaired"
    assert repairs["channel_name"].status == "unrepaired"


# --- fingerprints ------------------------------------------------------------------------


def test_fingerprints_round_trip_through_json() -> None:
    cat = v1("catalogue")
    prints = [fp for spec in cat.fields.values()
              for fp in fingerprint_field(catalogue_2018(1), spec, items_xpath=cat.items)]
    prints += [fp for fps in pager_prints().values() for fp in fps]
    assert prints
    for fp in prints:
        assert from_json(json.loads(json.dumps(to_json(fp)))) == fp
    title = fingerprint_field(catalogue_2018(1), cat.fields["title"], items_xpath=cat.items)[0]
    assert (title.tag, title.source, title.path[0]) == ("a", "@title", "div.v-link")
    with pytest.raises(ValueError, match="not a fingerprint"):
        from_json({"tag": "a"})


def test_repaired_fields_copies_unchanged_fields() -> None:
    base = v1("video")
    repairs = relocate(base, [video_sample(n, new=True) for n in SAMPLE_VIDEOS], scheme="http")
    fields = repaired_fields(base, repairs)
    assert fields["category"] is base.fields["category"]
    assert fields["subtitle"].xpath != base.fields["subtitle"].xpath
    assert fields["subtitle"].required and fields["stat_play"].convert == "count"
