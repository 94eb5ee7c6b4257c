"""The lists a job crawls, and the catalogue page a new run reads first."""

from __future__ import annotations

import pytest

from scraper.config import Settings
from scraper.jobs.lists import crawl_lists, first_catalogue_url
from scraper.site.load import load_site


@pytest.mark.parametrize(("given", "expected"), [
    ({}, "http://news.youku.test/index/jrrm"),
    ({"category": "military"}, "http://news.youku.test/index/jsqy"),
    ({"categories": ("surveillance", "today-hot")}, "http://news.youku.test/index/jkjs"),
    ({"categories": ("today-hot",), "channels": ("UMTgzMDEzNjMzOA==",)},
     "http://news.youku.test/index/jrrm"),
])
def test_a_run_that_starts_with_a_category_starts_at_its_first_page(
        given: dict[str, object], expected: str) -> None:
    settings = Settings(**given)  # type: ignore[arg-type]
    site = load_site(settings)
    assert first_catalogue_url(site, settings) == expected
    first = crawl_lists(site, settings)[0]
    assert first.kind == "category"
    assert first.url(site.profile) == expected


@pytest.mark.parametrize("given", [
    {"channels": ("UMTgzMDEzNjMzOA==",)},  # a channel's page first
    {"videos": ("XMzQ0MDM0MjkxMg==",)},  # chosen videos: no catalogue
    # A channel that is no channel: the run itself says what is wrong.
    {"categories": ("today-hot",), "channels": ("http://v.youku.test/v_show/x",)},
])
def test_no_first_catalogue_page_for_other_runs(given: dict[str, object]) -> None:
    settings = Settings(**given)  # type: ignore[arg-type]
    assert first_catalogue_url(load_site(settings), settings) is None
