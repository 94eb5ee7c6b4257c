"""`scrape monitor` against a replica whose clock moves: rounds, tiers, status, bad input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from scraper.config import Settings, parse_resolve
from scraper.crawl.resources import open_resources
from scraper.jobs.monitor import run_monitor, snapshot_id
from scraper.jobs.monitor_job import new_job, open_job, restarted
from scraper.jobs.tiers import parse_tiers
from scraper.models import CardInfo, MonitorJob, ScheduleEntry, Tier
from scraper.site.load import load_site
from scraper.store.base import Store
from scraper.store.target import open_store
from tests.test_cli import one_error_line, scrape
from tests.test_crawl import comment_tree, count_value, docs, stored_tree

STEP_S = 72 * 60  # between rounds: past a hot visit's hour (± 10 %), short of a cold one's 3 h
ROUNDS = 5
VIDEOS = 5
JOB = "monitor:youku-replica:jrrm"


def monitor_settings(replica: Any, tmp: Path, **overrides: Any) -> Settings:
    base = Settings(
        store=str(tmp / "store"), media_dir=tmp / "media", resolve=parse_resolve([replica.resolve]),
        chromium="/usr/bin/chromium", concurrency=4, backoff_base_s=0.02, backoff_max_s=0.2,
        no_media=True, pages=1, max_videos=VIDEOS, worker_id="monitor-test",
    )
    return replace(base, **overrides)


def replica_clock(replica: Any) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(replica.clock.now(), UTC)


def growth(truth: Any, vid: str, t1: float, t2: float) -> float:
    """Views per hour as the site shows them (rounded texts like 2.2万)."""
    views = [count_value(truth.views_text(vid, t)) for t in (t1, t2)]
    return (views[1] - views[0]) / ((t2 - t1) / 3600)


def split_threshold(rates: list[float]) -> float:
    """A threshold in the widest gap between the videos' growth rates."""
    ordered = sorted(rates)
    low, high = max(pairwise(ordered), key=lambda p: p[1] - p[0])
    return (low + high) / 2


@pytest.mark.browser
@pytest.mark.slow
async def test_rounds_follow_the_ground_truth_and_the_tiers(
    make_replica: Any, tmp_path: Path
) -> None:
    async with make_replica(videos=15, seed=11, faults=False) as rep:
        truth, t0 = rep.truth, rep.clock.now()
        vids = truth.categories["jrrm"][:VIDEOS]
        threshold = split_threshold([growth(truth, v, t0, t0 + STEP_S) for v in vids])
        tiers = parse_tiers(f"hot:1h@{threshold},cold:3h")
        settings = monitor_settings(rep, tmp_path)
        clock, times, after_first = replica_clock(rep), [], {}
        async with open_resources(settings, blocked_hosts=()) as session:
            for n in range(ROUNDS):
                if n:
                    rep.clock.advance(STEP_S)
                # The last video appears in the category (is let in) from the third round on.
                limit = VIDEOS - 1 if n < 2 else VIDEOS
                outcome = await run_monitor(replace(settings, max_videos=limit), tiers=tiers,
                                            once=True, session=session, clock=clock)
                assert outcome.stats["visits.failed"] == 0
                assert outcome.stats["visits.catalogue"] == 1
                times.append(rep.clock.now())
                if n == 0:
                    after_first = await docs(session.store, "videos")
                    comments_first = await session.store.count("comments")
        async with open_store(settings.store) as store:
            videos = await docs(store, "videos")
            snaps = await docs(store, "snapshots")
            comments = await docs(store, "comments")
            schedule = {d["key"]: d for d in (await docs(store, "schedule")).values()}

    by_vid: dict[str, list[dict[str, Any]]] = {}
    for snap in sorted(snaps.values(), key=lambda s: s["ts"]):
        by_vid.setdefault(snap["vid"], []).append(snap)
    assert sorted(by_vid) == sorted(vids) == sorted(videos)

    # Every snapshot is the site as it was at its round.
    for snap_id, snap in snaps.items():
        t = snap["ts"].timestamp()
        assert t in times
        assert snap_id.startswith(f"{snap['vid']}:")
        assert snap["stat_play_text"] == truth.views_text(snap["vid"], t)
        assert snap["stat_play"] == count_value(truth.views_text(snap["vid"], t))
        assert snap["comment_total"] == truth.comment_counts(snap["vid"], t)[1]
        assert (snap["run_id"], snap["worker"]) == (JOB, "monitor-test")

    # Tiers follow growth: hot ones every round, cold ones only once 3 h have passed.
    for vid, series in by_vid.items():
        assert [s["tier"] for s in series[:2]] == ["hot", "hot"]  # no growth known yet
        for before, last, following in zip(series, series[1:], series[2:], strict=False):
            rate = growth(truth, vid, before["ts"].timestamp(), last["ts"].timestamp())
            assert following["tier"] == ("hot" if rate >= threshold else "cold"), vid
        for last, following in pairwise(series):
            interval = 3600 if following["tier"] == "hot" else 3 * 3600
            assert following["ts"] - last["ts"] >= timedelta(seconds=0.9 * interval)
        entry = schedule[vid]
        assert entry["due"].timestamp() > times[-1]  # nothing due was left unvisited
        assert entry["visits"] == len(series) and entry["last_worker"] == "monitor-test"
    counts = {vid: len(series) for vid, series in by_vid.items()}
    always_hot = [v for v, s in by_vid.items() if {x["tier"] for x in s} == {"hot"}]
    cooled = [v for v, s in by_vid.items() if "cold" in {x["tier"] for x in s}]
    assert always_hot and cooled, counts
    assert all(counts[v] == ROUNDS for v in always_hot if v != vids[-1])
    assert max(counts[v] for v in cooled) < ROUNDS
    assert len(by_vid[vids[-1]]) <= ROUNDS - 2 and by_vid[vids[-1]][0]["ts"].timestamp() == times[2]

    # Static fields are those of the first crawl; comments caught up with the site.
    for vid, doc in after_first.items():
        for static in ("title", "subtitle", "channel_name", "duration_s", "category", "url"):
            assert videos[vid][static] == doc[static]
        assert videos[vid]["crawl"]["first"] == doc["crawl"]["first"]
    got: dict[str, list[dict[str, Any]]] = {}
    for comment in comments.values():
        got.setdefault(comment["vid"], []).append(comment)
    for vid in vids:
        expected = {c[0]: c for c in comment_tree(truth.comments(vid, times[-1]))}
        assert {c[0]: c for c in stored_tree(got.get(vid, []))} == expected, vid
    assert len(comments) > comments_first + len(truth.comments(vids[-1], times[2]))


# --- scrape status and bad --tiers, through the command line -------------------------------


async def seed_schedule(store: Store, now: datetime) -> None:
    tiers = [Tier(name="hot", interval_s=3600, min_rate=500), Tier(name="cold", interval_s=86400)]
    job = MonitorJob(job=JOB, site="youku-replica", category="today-hot", tiers=tiers,
                     cold_after_s=86400, jitter=0.1, catalogue_every_s=600, started=now,
                     until=now + timedelta(days=7))
    await store.save_doc("monitors", JOB, job.model_dump())

    def entry(key: str, tier: str, due: datetime) -> ScheduleEntry:
        card = CardInfo(vid=key, url=f"http://v.youku.test/v_show/id_{key}==.html", title=key)
        return ScheduleEntry(id=f"{JOB}:video:{key}", job=JOB, kind="video", key=key, tier=tier,
                             card=card.model_dump(), due=due, first_seen=now)

    await store.schedule_add([
        ScheduleEntry(id=f"{JOB}:catalogue", job=JOB, kind="catalogue", key="catalogue",
                      tier="catalogue", due=now + timedelta(minutes=8), first_seen=now),
        entry("XA", "hot", now + timedelta(minutes=20)),
        entry("XB", "hot", now + timedelta(hours=2)),
        entry("XC", "cold", now + timedelta(hours=30)),
    ])
    [failing] = await store.schedule_claim(JOB, due_by=now + timedelta(days=9), worker="w9",
                                           lease_s=60)
    assert failing.key == "catalogue"
    [failing] = await store.schedule_claim(JOB, due_by=now + timedelta(days=9), worker="w9",
                                           lease_s=60)
    await store.schedule_finish(failing.id, worker="w9", due=failing.due, changes={
        "due": now + timedelta(minutes=50), "last_error": "video page not found (404)",
        "last_visit": now, "last_worker": "w9"})


@pytest.mark.browser
async def test_status_prints_each_tier(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with open_store(str(tmp_path / "store")) as store:
        await seed_schedule(store, now)
    rc, out, err = await scrape("status", "--store", str(tmp_path / "store"), cwd=tmp_path)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("monitor today-hot (youku-replica), since ")
    assert lines[0].endswith(": active") and "until " in lines[0]
    assert lines[1].startswith("  catalogue: next read ") and "last read not yet" in lines[1]
    assert lines[2].split() == ["tier", "every", "videos", "next", "due", "failed"]
    hot, cold = lines[3].split(), lines[4].split()
    assert hot[:5] == ["hot", "1h", "2", "in", "50m"]
    assert "1 (e.g. XA: video page not found (404))" in lines[3]
    assert cold[:4] == ["cold", "1d", "1", "in"] and lines[4].rstrip().endswith(" 0")
    assert lines[5] == "  being visited now: 1"  # the catalogue read w9 still holds
    assert lines[6] == ("  tier moves since the job started: 0 videos moved (0 to a hotter "
                        "tier, 0 to a colder one)")
    assert len(lines) == 7

    # Visits move XA to a colder tier and back, XB to a colder one: the next status says so.
    async with open_store(str(tmp_path / "store")) as store:
        for key, hotter, colder in (("XA", 1, 1), ("XB", 0, 1)):
            [entry] = await store.find_docs("schedule", {"key": key})
            claimed = await store.schedule_claim(JOB, due_by=entry["due"], worker="w8",
                                                 lease_s=60)
            assert [c.key for c in claimed] == [key]
            assert await store.schedule_finish(entry["_id"], worker="w8", due=entry["due"],
                changes={"moved_hotter": hotter, "moved_colder": colder,
                         "due": entry["due"] + timedelta(days=3)})
    rc, out, err = await scrape("status", "--store", str(tmp_path / "store"), cwd=tmp_path)
    assert rc == 0, err
    moves = out.splitlines()[6]
    assert moves.startswith("  tier moves since the last status (")
    assert moves.endswith("): 2 videos moved (1 to a hotter tier, 2 to a colder one)")
    rc, out, err = await scrape("status", "--store", str(tmp_path / "store"), cwd=tmp_path)
    assert out.splitlines()[6].endswith(": 0 videos moved (0 to a hotter tier, 0 to a colder "
                                        "one)")


@pytest.mark.browser
@pytest.mark.parametrize(("args", "needle"), [
    (["--tiers", "hot:1x,cold:1d"], "bad --tiers interval for 'hot' '1x'"),
    (["--tiers", "hot:6h,cold:1h"], "would be visited more often than 'hot'"),
    (["--tiers", "hot"], "bad --tiers item 'hot'"),
    (["--for", "a week"], "bad --for 'a week'"),
])
async def test_bad_tiers_are_one_line_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    rc, _, err = await scrape("monitor", "--store", str(tmp_path / "s"), "--resolve",
                              "*.test=127.0.0.1:9", *args, cwd=tmp_path)
    one_error_line(err, 2, rc, needle)
    assert not (tmp_path / "s").exists()


async def test_new_tiers_bring_planned_visits_forward(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "store"))
    site, now = load_site(settings), datetime(2026, 11, 1, 12, tzinfo=UTC)

    def planned(key: str, tier: str, due: datetime) -> ScheduleEntry:
        return ScheduleEntry(id=f"{JOB}:video:{key}", job=JOB, kind="video", key=key,
                             tier=tier, due=due, first_seen=now, last_visit=now,
                             card={"vid": key, "url": "u", "title": key})

    async def reopen(tiers: str) -> dict[str, tuple[str, datetime]]:
        job = new_job(settings, site, tiers=parse_tiers(tiers, default_rates=(1e3, 1e2)),
                      now=now)
        await open_job(store, job, site, now=now)
        return {d["key"]: (d["tier"], d["due"]) for d in await store.find_docs("schedule", {})
                if d["kind"] == "video"}

    async with open_store(settings.store) as store:
        await reopen("hot:1h,warm:6h,cold:24h")
        await store.schedule_add([planned("XA", "hot", now + timedelta(minutes=65)),
                                  planned("XB", "cold", now + timedelta(hours=25))])
        assert await reopen("hot:1h,warm:6h,cold:24h") == {  # jitter is not undone
            "XA": ("hot", now + timedelta(minutes=65)), "XB": ("cold", now + timedelta(hours=25))}
        assert await reopen("hot:1h,cold:6h") == {
            "XA": ("hot", now + timedelta(minutes=65)), "XB": ("cold", now + timedelta(hours=6))}
        assert await reopen("all:0s") == {"XA": ("all", now), "XB": ("all", now)}


def test_snapshot_ids_name_the_visit() -> None:
    due = datetime(2026, 11, 1, 12, 0, 5, 123000, tzinfo=UTC)
    entry = ScheduleEntry(id="j:video:XA", job="j", kind="video", key="XA", tier="hot", due=due,
                          first_seen=due)
    assert snapshot_id(entry) == "XA:20261101T120005.123Z"


async def test_restart_applies_new_flags_and_keeps_tracked_videos(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "store"))
    site = load_site(settings)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    rates = settings.tier_rates
    first = new_job(settings, site, tiers=parse_tiers("hot:1h,cold:1d", default_rates=rates),
                    now=now, tracked=["XAAA"])
    later = new_job(replace(settings, no_media=True), site,
                    tiers=parse_tiers("all:0s", default_rates=rates),
                    now=now + timedelta(hours=5), tracked=["XBBB"])
    async with open_store(settings.store) as store:
        await open_job(store, first, site, now=now)
        await open_job(store, later, site, now=now + timedelta(hours=5))
        saved = await store.get_doc("monitors", first.job)
    assert saved is not None
    assert saved["tracked"] == ["XBBB", "XAAA"]
    assert saved["no_media"] is True and [t["name"] for t in saved["tiers"]] == ["all"]
    assert saved["started"] == now


def test_a_restart_keeps_the_stored_options_not_given_again() -> None:
    settings = Settings(store="unused", pages=2, no_media=True, max_videos=9)
    site, now = load_site(settings), datetime(2026, 11, 1, tzinfo=UTC)
    rates = settings.tier_rates
    known = new_job(settings, site, tiers=parse_tiers("hot:1h,cold:1d", default_rates=rates),
                    now=now, until=now + timedelta(days=7), tracked=["XAAA"])
    later = new_job(Settings(store="unused"), site, now=now + timedelta(hours=5),
                    tiers=parse_tiers("hot:30m@500,cold:1d", default_rates=rates))
    job, note = restarted(known, later, given={"tiers", "max_videos"})
    assert [(t.name, t.interval_s, t.min_rate) for t in job.tiers] == [
        ("hot", 1800, 500), ("cold", 86400, 0)]
    assert (job.pages, job.no_media, job.until, job.max_videos) == (
        2, True, now + timedelta(days=7), None)
    assert (job.started, job.tracked) == (now, ["XAAA"])
    assert note == (f"restarting {JOB}: applied --tiers hot:30m@500,cold:1d, --max-videos none; "
                    "kept as stored: --for (until 2026-11-08 00:00 UTC), --pages 2, "
                    "--max-comments none, --no-media")
    same, note = restarted(known, known, given={"tiers"})
    assert same == known and note.startswith(f"restarting {JOB}: applied no changed option;")


async def test_restarting_the_command_applies_only_the_flags_given(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    first = ["monitor", "--enqueue-only", "--store", store, "--pages", "2", "--no-media",
             "--for", "7d", "--tiers", "hot:1h,cold:1d", "--track", "XAAA"]
    rc, _, err = await scrape(*first, cwd=tmp_path)
    assert rc == 0, err
    assert f"starting {JOB}" in err
    rc, _, err = await scrape("monitor", "--enqueue-only", "--store", store, "--tiers",
                              "all:0s", "--max-comments", "5", cwd=tmp_path)
    assert rc == 0, err
    assert (f"restarting {JOB}: applied --tiers all:0s, --max-comments 5; kept as stored: "
            "--for (until ") in err
    assert "--pages 2, --max-videos none, --no-media\n" in err
    async with open_store(store) as opened:
        saved = await opened.get_doc("monitors", JOB)
    assert saved is not None
    assert (saved["pages"], saved["no_media"], saved["max_comments"]) == (2, True, 5)
    assert [t["name"] for t in saved["tiers"]] == ["all"] and saved["until"] is not None
    assert saved["tracked"] == ["XAAA"]
