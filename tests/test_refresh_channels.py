"""The channel page set surviving a redesign: drift is exit 8, `refresh-selectors --channel`
repairs the head and the list from what an earlier run stored, and the next run reads
channels equal to the truth again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from scraper.jobs.run import run_crawl
from scraper.repair.refresh import refresh_selectors
from scraper.store.target import open_store
from tests.conftest import MakeReplica
from tests.test_cli import one_error_line, scrape
from tests.test_crawl import docs
from tests.test_refresh import copy_selectors, settings_for
from tests.test_run_lists import assert_channel_as_truth, assert_video_as_truth

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
async def redesigned(make_replica: MakeReplica, tmp_path_factory: pytest.TempPathFactory
                     ) -> AsyncIterator[tuple[Any, Path, Path, list[Any]]]:
    """Two channels crawled in the 2018 layout, then the replica switched to the redesign."""
    tmp = tmp_path_factory.mktemp("refresh-channels")
    selectors = copy_selectors(tmp)
    async with make_replica(videos=15, other_videos=5, channel_videos=2, seed=9, faults=False,
                            publication=False) as rep:
        now = rep.clock.now()
        # Two small channels whose figures differ: a value the same on every sample could
        # be any constant of the page, and the repair rightly distrusts it.
        small = sorted((rep.truth.channel(uid, now) for uid in rep.truth.channel_uids()),
                       key=lambda c: (c.videos < 3, c.videos))
        found = [small[0], next(c for c in small if c.videos != small[0].videos)]
        await run_crawl(settings_for(rep, tmp, selectors, "store", max_videos=None,
                                     categories=("today-hot",),
                                     channels=tuple(c.uid for c in found)))
        rep.layout = "redesign"
        yield rep, tmp, selectors, found


async def test_a_redesigned_channel_head_is_drift(redesigned: Any) -> None:
    rep, tmp, selectors, found = redesigned
    rc, _, err = await scrape(
        "-q", "run", "--channel", found[0].uid, "--resolve", rep.resolve, "--no-media",
        "--store", str(tmp / "drift"), "--selectors", str(selectors), cwd=tmp)
    one_error_line(err, 8, rc, "no selector version reads its head")


async def test_a_monitor_whose_every_channel_drifted_exits_8(redesigned: Any) -> None:
    rep, tmp, selectors, found = redesigned
    rc, _, err = await scrape(
        "-q", "monitor", "--once", "--channel", found[0].uid, "--resolve", rep.resolve,
        "--no-media", "--store", str(tmp / "monitor-drift"), "--selectors", str(selectors),
        cwd=tmp)
    one_error_line(err, 8, rc, "no selector version reads the channel page http")


async def test_refresh_repairs_the_channel_pages_and_the_next_run_matches_truth(
    redesigned: Any,
) -> None:
    rep, tmp, selectors, found = redesigned
    uids = tuple(c.uid for c in found)
    report = await refresh_selectors(settings_for(rep, tmp, selectors, "store", channels=uids),
                                     sample=4, write=True)
    pages = {page.page: page for page in report.pages}
    for name in ("channel", "channel_videos"):
        assert pages[name].unrepaired_required == [], pages[name].repairs
        assert pages[name].written == str(selectors / "youku" / "pages" / name / "v2.toml")
    repaired = {r.field for r in pages["channel"].repairs if r.status == "repaired"}
    assert {"name", "followers", "followers_text", "avatar_url"} <= repaired

    settings = settings_for(rep, tmp, selectors, "again", max_videos=None, channels=uids)
    outcome = await run_crawl(settings)
    now = rep.clock.now()
    async with open_store(settings.store) as store:
        channels = await docs(store, "channels")
        videos = await docs(store, "videos")
    assert sorted(channels) == sorted(uids)
    for truth_channel in found:
        doc = channels[truth_channel.uid]
        assert_channel_as_truth(doc, rep.truth.channel(truth_channel.uid, now))
        assert doc["selectors"] == "channel@v2"
    assert sorted(videos) == sorted(v for c in found for v in c.vids)
    for doc in videos.values():
        assert_video_as_truth(doc, rep.truth, now)
    assert outcome.stats["fallback.channel_videos@v1"] == 0
