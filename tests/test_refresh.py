"""Versioned selectors surviving a redesign: refresh-selectors, fallback and drift."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scraper.config import Settings, parse_resolve
from scraper.jobs.monitor import run_monitor
from scraper.jobs.run import run_crawl
from scraper.jobs.tiers import parse_tiers
from scraper.repair.refresh import refresh_selectors
from scraper.repair.report import render_report
from scraper.store.target import open_store
from tests.conftest import CHROMIUM
from tests.test_cli import scrape

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO_SELECTORS = Path(__file__).resolve().parent.parent / "selectors"
STATIC = ("title", "subtitle", "duration_s", "duration_text", "channel_name", "channel_link",
          "thumb_url", "url")


def settings_for(rep: Any, tmp: Path, selectors: Path, store: str, **kw: Any) -> Settings:
    base = Settings(store=str(tmp / store), media_dir=tmp / "media", no_media=True,
                    resolve=parse_resolve([rep.resolve]), selectors_dir=selectors,
                    chromium=CHROMIUM, backoff_base_s=0.02, backoff_max_s=0.2,
                    max_videos=30)
    return replace(base, **kw)


def copy_selectors(tmp: Path) -> Path:
    target = tmp / "selectors"
    shutil.copytree(REPO_SELECTORS, target)
    return target


@pytest.fixture(scope="module")
async def redesigned(make_replica: Any, tmp_path_factory: pytest.TempPathFactory
                     ) -> AsyncIterator[tuple[Any, Path, Path]]:
    """A replica crawled once in its 2018 layout, then switched to the redesign."""
    tmp = tmp_path_factory.mktemp("refresh")
    selectors = copy_selectors(tmp)
    async with make_replica(videos=60, seed=5, faults=False) as rep:
        await run_crawl(settings_for(rep, tmp, selectors, "store"))
        rep.layout = "redesign"
        yield rep, tmp, selectors


async def stored(store: str) -> dict[str, dict[str, Any]]:
    async with open_store(store) as opened:
        return {d["_id"]: d async for d in opened.iter_docs("videos")}


async def test_dry_run_reports_and_writes_nothing(redesigned: Any) -> None:
    rep, tmp, selectors = redesigned
    before = sorted(p.name for p in selectors.rglob("v*.toml"))
    report = await refresh_selectors(settings_for(rep, tmp, selectors, "store"), sample=6,
                                     write=False)
    assert sorted(p.name for p in selectors.rglob("v*.toml")) == before
    broken = {r.field for page in report.pages for r in page.repairs if r.status != "ok"}
    assert {"items", "subtitle", "current"} <= broken
    text = render_report(report, write=False)
    assert "dry run: nothing written" in text and '//span[@id = "subtitle"]/@title' in text


async def test_refresh_repairs_the_redesign_and_the_next_crawl_matches_truth(
    redesigned: Any,
) -> None:
    rep, tmp, selectors = redesigned
    report = await refresh_selectors(settings_for(rep, tmp, selectors, "store"), sample=9,
                                     write=True)
    assert report.failed == []
    written = {Path(p.written).parent.name for p in report.pages if p.written}
    assert written == {"catalogue", "pager", "video"}
    for page in report.pages:
        assert all(r.status in ("ok", "repaired") for r in page.repairs), page
        assert Path(page.written or "").name == "v2.toml"
    # A crawl of the redesign with the new versions equals the ground truth.
    settings = settings_for(rep, tmp, selectors, "store-redesign", max_videos=45)
    outcome = await run_crawl(settings)
    assert outcome.stats["videos.failed"] == 0
    videos = await stored(settings.store)
    truth, now = rep.truth, rep.clock.now()
    assert sorted(videos) == sorted(truth.categories["jrrm"][:45])
    for vid, doc in videos.items():
        tv = truth.video(vid)
        assert {k: doc[k] for k in STATIC} == {k: getattr(tv, k) for k in STATIC}
        assert doc["category"] == (tv.tag or "未分类")
        assert doc["stat_play_text"] == truth.views_text(vid, now)
        assert doc["crawl"]["selectors"] == {"video": "video@v2"}
    # The 2018 layout still works: the new version fails there and v1 is the fallback.
    rep.layout = "2018"
    try:
        back = await run_crawl(settings_for(rep, tmp, selectors, "store-2018", max_videos=5))
    finally:
        rep.layout = "redesign"
    assert back.stats["videos.failed"] == 0
    assert back.stats["fallback.video@v1"] == 5
    assert back.stats["fallback.catalogue@v1"] >= 1
    assert {d["crawl"]["selectors"]["video"] for d in
            (await stored(str(tmp / "store-2018"))).values()} == {"video@v1"}


async def test_unrepairable_without_evidence(redesigned: Any) -> None:
    rep, tmp, _ = redesigned
    selectors = tmp / "fresh-selectors"
    shutil.copytree(REPO_SELECTORS, selectors)
    report = await refresh_selectors(settings_for(rep, tmp, selectors, "empty-store"),
                                     sample=4, write=True)
    assert report.known_videos == 0
    assert "video.subtitle" in report.failed
    assert not (selectors / "youku" / "pages" / "video" / "v2.toml").exists()


async def test_drift_is_counted_with_urls(make_replica: Any, tmp_path: Path) -> None:
    selectors = copy_selectors(tmp_path)
    video_v1 = selectors / "youku" / "pages" / "video" / "v1.toml"
    text = video_v1.read_text(encoding="utf-8")
    video_v1.write_text(text.replace('@id = "subtitle"', '@id = "subtitle-gone"'),
                        encoding="utf-8")
    async with make_replica(videos=20, seed=9, faults=False) as rep:
        outcome = await run_crawl(settings_for(rep, tmp_path, selectors, "store", max_videos=4))
    assert outcome.stats["videos.failed"] == 4
    assert outcome.stats["drift.video"] == 4
    assert all("v.youku.test" in url for url in outcome.stats.examples["drift.video"])


# --- the second, harder redesign ----------------------------------------------------------


@pytest.fixture(scope="module")
async def redesigned2(make_replica: Any, tmp_path_factory: pytest.TempPathFactory
                      ) -> AsyncIterator[tuple[Any, Path, Path]]:
    """A replica crawled once in its 2018 layout, then switched to the second redesign."""
    tmp = tmp_path_factory.mktemp("refresh2")
    selectors = copy_selectors(tmp)
    # publication=False: the clock moves, the catalogue stays (no new videos)
    async with make_replica(videos=60, seed=5, faults=False, publication=False) as rep:
        await run_crawl(settings_for(rep, tmp, selectors, "store"))
        rep.layout = "redesign2"
        yield rep, tmp, selectors


async def test_refresh_repairs_the_second_redesign_in_one_run(redesigned2: Any) -> None:
    """Values inside words, a URL inside a JSON attribute, a removed field (gone), a head
    copy of the title: one --write exits 0 and the next crawl and monitor equal the truth."""
    rep, tmp, selectors = redesigned2
    rc, out, err = await scrape(
        "-q", "refresh-selectors", "--sample", "9", "--write", "--store", str(tmp / "store"),
        "--resolve", rep.resolve, "--selectors", str(selectors), cwd=tmp)
    assert rc == 0, out + err
    assert "warning: pager.last_url is gone" in out and "warning: pager.last_page is gone" in out
    assert "累计播放" in out  # the play count's regex, around its words, in the table
    pager = (selectors / "youku" / "pages" / "pager" / "v2.toml").read_text(encoding="utf-8")
    assert "[fields.last_url]" not in pager and "[fields.last_page]" not in pager
    assert "dropped (gone) last_url, last_page" in pager and "regex" in pager
    video_v2 = (selectors / "youku" / "pages" / "video" / "v2.toml").read_text(encoding="utf-8")
    assert "meta" not in video_v2.split("[fields.subtitle]")[1].split("[fields.")[0]

    settings = settings_for(rep, tmp, selectors, "store-redesign2", max_videos=45)
    outcome = await run_crawl(settings)
    assert outcome.stats["videos.failed"] == 0
    videos = await stored(settings.store)
    truth, now = rep.truth, rep.clock.now()
    assert sorted(videos) == sorted(truth.categories["jrrm"][:45])  # three pages: next_url
    for vid, doc in videos.items():
        tv = truth.video(vid)
        assert {k: doc[k] for k in STATIC} == {k: getattr(tv, k) for k in STATIC}
        assert doc["category"] == (tv.tag or "未分类")
        assert doc["stat_play_text"] == truth.views_text(vid, now)
        assert doc["stat_cmt"] == truth.comment_counts(vid, now)[1]
        assert doc["crawl"]["selectors"] == {"video": "video@v2"}

    # The monitor's revisits read the play count from the repaired video page.
    monitor = replace(settings, store=str(tmp / "store-monitor"), pages=1, max_videos=4)
    def clock() -> datetime:
        return datetime.fromtimestamp(rep.clock.now(), UTC)
    times = []
    for _ in range(2):
        await run_monitor(monitor, tiers=parse_tiers("all:0s"), once=True, clock=clock)
        times.append(rep.clock.now())
        rep.clock.advance(6 * 3600)
    async with open_store(monitor.store) as store:
        snaps = [d async for d in store.iter_docs("snapshots")]
    assert len(snaps) == 8 and {s["ts"].timestamp() for s in snaps} == set(times)
    for snap in snaps:
        t = snap["ts"].timestamp()
        assert snap["stat_play_text"] == truth.views_text(snap["vid"], t)
        assert snap["comment_total"] == truth.comment_counts(snap["vid"], t)[1]
