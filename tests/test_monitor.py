"""`scrape monitor` against a replica whose clock moves: rounds, tiers, status, bad input."""

from __future__ import annotations

import asyncio
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
from scraper.jobs.monitor_job import new_job, open_job
from scraper.jobs.tiers import choose_tier, keep_observations, parse_tiers
from scraper.models import CardInfo, MonitorJob, Observation, ScheduleEntry, Tier
from scraper.site.load import load_site
from scraper.store.base import Store
from scraper.store.target import open_store
from tests.conftest import CHROMIUM
from tests.test_cli import one_error_line, scrape
from tests.test_crawl import comment_tree, count_value, docs, stored_tree

STEP_S = 72 * 60  # between rounds: past a hot visit's hour (± 10 %), short of a cold one's 3 h
ROUNDS = 5
VIDEOS = 5
JOB = "monitor:youku-replica:jrrm"


def monitor_settings(replica: Any, tmp: Path, **overrides: Any) -> Settings:
    base = Settings(
        store=str(tmp / "store"), media_dir=tmp / "media", resolve=parse_resolve([replica.resolve]),
        chromium=CHROMIUM, concurrency=4, backoff_base_s=0.02, backoff_max_s=0.2,
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
    # publication=False: the clock moves, the catalogue stays (no new videos); seed 2: two
    # of the five videos grow fast, three slowly, as the tiers below need.
    async with make_replica(videos=15, seed=2, faults=False, publication=False) as rep:
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

    # Tiers follow the growth the shown counts allow (tiers.choose_tier on what was seen):
    # hot ones every round, cold ones only once 3 h have passed.
    for vid, series in by_vid.items():
        assert [s["tier"] for s in series[:3]] == ["hot"] * len(series[:3])  # no proof yet
        kept: list[Observation] = []
        tier, cooling = "hot", 0
        for last, following in pairwise(series):
            kept = keep_observations(kept, Observation(
                at=last["ts"], stat_play=last["stat_play"],
                stat_play_text=last["stat_play_text"], comment_total=last["comment_total"]))
            choice = choose_tier(tiers, kept, current=tier, cooling=cooling,
                                 age_s=(last["ts"] - series[0]["ts"]).total_seconds(),
                                 cold_after_s=settings.cold_after_s)
            tier, cooling = choice.tier.name, choice.cooling
            assert following["tier"] == tier, vid
        for last, following in pairwise(series):
            interval = 3600 if following["tier"] == "hot" else 3 * 3600
            assert following["ts"] - last["ts"] >= timedelta(seconds=0.9 * interval)
        entry = schedule[vid]
        assert entry["due"].timestamp() > times[-1]  # nothing due was left unvisited
        assert entry["visits"] == len(series) and entry["last_worker"] == "monitor-test"
    counts = {vid: len(series) for vid, series in by_vid.items()}
    always_hot = [v for v, s in by_vid.items()
                  if {x["tier"] for x in s} == {"hot"} and schedule[v]["tier"] == "hot"]
    cooled = [v for v in by_vid if schedule[v]["tier"] == "cold"]
    assert always_hot and cooled, counts
    assert all(counts[v] == ROUNDS for v in always_hot if v != vids[-1])
    assert max(counts[v] for v in cooled) < ROUNDS
    assert len(by_vid[vids[-1]]) <= ROUNDS - 2 and by_vid[vids[-1]][0]["ts"].timestamp() == times[2]

    # Static fields are those of the first crawl; comments caught up with the site
    # as of each video's last visit.
    for vid, doc in after_first.items():
        for static in ("title", "subtitle", "channel_name", "duration_s", "category", "url"):
            assert videos[vid][static] == doc[static]
        assert videos[vid]["crawl"]["first"] == doc["crawl"]["first"]
    got: dict[str, list[dict[str, Any]]] = {}
    for comment in comments.values():
        got.setdefault(comment["vid"], []).append(comment)
    for vid in vids:
        seen_at = by_vid[vid][-1]["ts"].timestamp()  # its last visit
        expected = {c[0]: c for c in comment_tree(truth.comments(vid, seen_at))}
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


# --- tiers over time: the clock stepped while the monitor runs ---------------------------


class CountingStore:
    """The store, counting visits under way (claimed, not yet finished or given back), so
    that the test's clock moves only between visits and every figure has one time."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.busy = 0

    async def __aenter__(self) -> CountingStore:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def schedule_claim(self, *args: Any, **kwargs: Any) -> list[ScheduleEntry]:
        claimed = await self._inner.schedule_claim(*args, **kwargs)
        self.busy += len(claimed)
        return claimed

    async def schedule_finish(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return await self._inner.schedule_finish(*args, **kwargs)
        finally:
            self.busy -= 1

    async def schedule_release(self, *args: Any, **kwargs: Any) -> None:
        try:
            await self._inner.schedule_release(*args, **kwargs)
        finally:
            self.busy -= 1


async def step_clock(rep: Any, store: CountingStore, *, until: float, step_s: float) -> None:
    """Move the replica's clock ``step_s`` on whenever no visit is under way."""
    while rep.clock.now() < until:
        await asyncio.sleep(0.15)  # lets the monitor claim what the last step made due
        if store.busy == 0:
            rep.clock.advance(step_s)


@pytest.mark.browser
@pytest.mark.slow
async def test_fast_videos_are_visited_more_often_through_rounded_counts(
    make_replica: Any, tmp_path: Path
) -> None:
    hours, videos = 16, 6
    # publication=False: the clock moves, the catalogue stays (no new videos)
    async with make_replica(videos=15, seed=3, faults=False, publication=False) as rep:
        truth, t0 = rep.truth, rep.clock.now()
        vids = truth.categories["jrrm"][:videos]
        rates = {v: (truth.views(v, t0 + hours * 3600) - truth.views(v, t0)) / hours
                 for v in vids}
        threshold = split_threshold(list(rates.values()))
        fast = [v for v in vids if rates[v] >= threshold]
        slow = [v for v in vids if rates[v] < threshold]
        # Fast videos whose shown count moves in steps of 10,000: the case that flapped.
        assert any(truth.views(v, t0) >= 1_000_000 for v in fast) and slow
        settings = monitor_settings(rep, tmp_path, max_videos=videos, concurrency=2,
                                    catalogue_every_s=86400.0, idle_poll_s=0.05)
        store = CountingStore(open_store(settings.store))
        async with open_resources(settings, store=store, blocked_hosts=()) as session, \
                asyncio.TaskGroup() as tg:
            tg.create_task(step_clock(rep, store, until=t0 + hours * 3600, step_s=600))
            outcome = await run_monitor(settings, tiers=parse_tiers(f"hot:1h@{threshold},cold:6h"),
                                        duration_s=hours * 3600, session=session,
                                        clock=replica_clock(rep))
        assert outcome.stats["visits.failed"] == 0
        async with open_store(settings.store) as opened:
            snaps = await docs(opened, "snapshots")
            stored = await docs(opened, "videos")
            schedule = {d["key"]: d for d in (await docs(opened, "schedule")).values()}

    series: dict[str, list[dict[str, Any]]] = {}
    for snap in sorted(snaps.values(), key=lambda s: s["ts"]):
        series.setdefault(snap["vid"], []).append(snap)
        t = snap["ts"].timestamp()
        assert snap["stat_play_text"] == truth.views_text(snap["vid"], t)
        assert snap["stat_play"] == count_value(truth.views_text(snap["vid"], t))
        assert snap["comment_total"] == truth.comment_counts(snap["vid"], t)[1]
    visits = {vid: len(got) for vid, got in series.items()}
    assert sorted(visits) == sorted(vids)
    assert min(visits[v] for v in fast) >= 2 * max(visits[v] for v in slow), (visits, rates)
    for vid in vids:
        entry, last = schedule[vid], series[vid][-1]
        assert entry["moved_hotter"] + entry["moved_colder"] <= 1, (vid, entry["tier"])
        assert entry["tier"] == ("hot" if vid in fast else "cold"), (vid, rates[vid])
        # The video's latest figures are its last visit's.
        for name in ("stat_play", "stat_play_text", "comment_total"):
            assert stored[vid][name] == last[name], (vid, name)
        assert stored[vid]["crawl"]["last"] > stored[vid]["crawl"]["first"]
        assert stored[vid]["title"] == truth.video(vid).title


@pytest.mark.browser
async def test_a_tracked_video_no_catalogue_lists_takes_its_title_from_its_page(
    make_replica: Any, tmp_path: Path
) -> None:
    async with make_replica(videos=15, seed=5, faults=False) as rep:
        other = rep.truth.categories["jsqy"][0]
        settings = monitor_settings(rep, tmp_path, max_videos=1)
        outcome = await run_monitor(settings, tiers=parse_tiers("hot:1h@1000,cold:1d"),
                                    tracked=[other], once=True, clock=replica_clock(rep))
        assert outcome.stats["visits.first"] == 2
        async with open_store(settings.store) as store:
            video = await store.get_video(other)
    assert video is not None and video.title == rep.truth.video(other).subtitle
