"""`scrape monitor --channel` against a replica whose clock moves and whose channels publish:
a snapshot equal to the truth at each visit, each new video found once and stored in full."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from scraper.crawl.resources import open_resources
from scraper.jobs.monitor import run_monitor
from scraper.jobs.status import status_lines
from scraper.jobs.tiers import parse_tiers
from scraper.store.target import open_store
from tests.conftest import MakeReplica
from tests.test_crawl import count_value, docs
from tests.test_monitor import monitor_settings, replica_clock
from tests.test_run_lists import assert_channel_as_truth, assert_video_as_truth

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STEP_S = 2 * 86400.0
STEPS = 2
JOB = "monitor:youku-replica:channels"


def busiest(truth: Any, t0: float) -> Any:
    """The channel that publishes in every step and most in the slowest one."""
    def published(uid: str, n: int) -> int:
        new = truth.published_between(t0 + n * STEP_S, t0 + (n + 1) * STEP_S)
        return sum(truth.video(vid).channel_uid == uid for vid in new)

    uid = max(truth.channel_uids(), key=lambda u: min(published(u, n) for n in range(STEPS)))
    assert all(published(uid, n) for n in range(STEPS)), "no channel publishes every step"
    return truth.channel(uid, t0)


async def test_monitor_channel_snapshots_and_new_videos_follow_the_truth(
    make_replica: MakeReplica, tmp_path: Path
) -> None:
    async with make_replica(videos=15, other_videos=5, channel_videos=1, seed=7, faults=False,
                            segment_kb=16) as rep:
        truth, t0 = rep.truth, rep.clock.now()
        found = busiest(truth, t0)
        settings = replace(monitor_settings(rep, tmp_path), pages=None, max_videos=None,
                           categories=(), channels=(found.uid,))
        # Channels visited every round; videos only on their first visit (a month apart).
        video_tiers, channel_tiers = parse_tiers("month:30d"), parse_tiers("all:0s")
        times, first_visits = [], []
        async with open_resources(settings, blocked_hosts=()) as session:
            for n in range(STEPS + 1):
                if n:
                    rep.clock.advance(STEP_S)
                outcome = await run_monitor(settings, tiers=video_tiers,
                                            channel_tiers=channel_tiers, once=True,
                                            session=session, clock=replica_clock(rep))
                assert outcome.stats["visits.failed"] == 0
                assert outcome.stats["visits.channel"] == 1
                times.append(rep.clock.now())
                first_visits.append(outcome.stats["visits.first"])
        async with open_store(settings.store) as store:
            videos = await docs(store, "videos")
            snaps = await docs(store, "channel_snapshots")
            channel = await store.get_doc("channels", found.uid)
            schedule = await docs(store, "schedule")
            job = await store.get_doc("monitors", JOB)
            status = await status_lines(store, replica_clock(rep)())

    # One snapshot per visit, each the channel as the site showed it then.
    assert sorted(s["ts"].timestamp() for s in snaps.values()) == times
    for snap in snaps.values():
        at = truth.channel(found.uid, snap["ts"].timestamp())
        assert (snap["uid"], snap["run_id"], snap["tier"]) == (found.uid, JOB, "all")
        for name in ("followers", "videos", "plays"):
            assert snap[f"{name}_text"] == getattr(at, f"{name}_text")
            assert snap[name] == count_value(getattr(at, f"{name}_text"))
    assert channel is not None
    assert_channel_as_truth(channel, truth.channel(found.uid, times[-1]))
    assert (channel["first_visit"].timestamp(), channel["last_visit"].timestamp()) == (
        times[0], times[-1])

    # Every video of the channel, those published between visits included, once, in full.
    final = truth.channel(found.uid, times[-1])
    assert sorted(videos) == sorted(final.vids)
    for n in range(1, STEPS + 1):
        new = [v for v in truth.published_between(times[n - 1], times[n])
               if truth.video(v).channel_uid == found.uid]
        assert new and first_visits[n] == len(new)
        for vid in new:
            assert_video_as_truth(videos[vid], truth, times[n])
            assert videos[vid]["lists"] == [f"channel:{found.uid}"]
    assert first_visits[0] == len(truth.channel(found.uid, times[0]).vids)
    entries = [e for e in schedule.values() if e["kind"] == "video"]
    assert sorted(e["key"] for e in entries) == sorted(final.vids)
    assert all(e["visits"] == 1 for e in entries)
    assert job is not None and job["channels"] == [found.uid] and not job["catalogue"]
    assert status[0].startswith("monitor 1 channels (youku-replica)")
    assert status[1].startswith(f"  channel {found.uid} (all): next visit ")
    assert status[1].endswith("; last visit ok")
    assert f"channels: 1, {STEPS + 1} snapshots, last visit" in "\n".join(status)
