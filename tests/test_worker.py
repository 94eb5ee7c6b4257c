"""Workers sharing one store: leases that lapse, work split without doubles, and workers
in separate processes on one SQLite file (one of them killed) and on a real MongoDB."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient
from motor.motor_asyncio import AsyncIOMotorClient

from scraper.config import env
from scraper.jobs.monitor import run_monitor, snapshot_id
from scraper.jobs.run import enqueue_run
from scraper.jobs.tiers import parse_tiers
from scraper.jobs.worker import run_worker
from scraper.models import Snapshot
from scraper.store.base import Store
from scraper.store.mongo import MongoStore
from scraper.store.sqlite import SqliteStore
from tests.test_cli import SCRAPE, scrape
from tests.test_crawl import comment_tree, count_value, docs, stored_tree
from tests.test_monitor import JOB, monitor_settings, replica_clock
from tests.test_store import T0, _with_database, make_entry, make_item

pytestmark = [pytest.mark.browser]

LAPSE_S = 0.3
REAL_MONGODB = env("SCRAPER_TEST_MONGODB_URI")


def mock_stores() -> Callable[[], Store]:
    """Stores (not yet open) on one in-memory server, as separate processes would see it."""
    client = AsyncMongoMockClient(tz_aware=True)
    return lambda: MongoStore("mongodb://mock/scraper", client=client)


def worker_settings(replica: Any, tmp: Path, name: str, **overrides: Any) -> Any:
    return monitor_settings(replica, tmp, store="mongodb://mock/scraper", worker_id=name,
                            **overrides)


# --- the store's schedule: claims by due time, leases, conditional finish ------------------


@pytest.fixture(params=["sqlite", "mongodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = SqliteStore(tmp_path / "s.db") if request.param == "sqlite" else mock_stores()()
    async with opened:
        yield opened


async def test_schedule_claims_the_most_overdue_due_entries(store: Store) -> None:
    entries = [make_entry(k, due=T0 + timedelta(minutes=m)) for k, m in
               (("late", 0), ("later", 5), ("worst", -30), ("future", 60))]
    assert await store.schedule_add(entries) == 4
    assert await store.schedule_add([make_entry("worst", due=T0 + timedelta(days=1))]) == 0
    batches = await asyncio.gather(*(
        store.schedule_claim("job-1", due_by=T0 + timedelta(minutes=5), worker=f"w{n}",
                             lease_s=60) for n in range(4)))
    claimed = [entry for batch in batches for entry in batch]
    assert sorted(e.key for e in claimed) == ["late", "later", "worst"]  # each once
    [first] = await store.schedule_claim("job-1", due_by=T0 + timedelta(days=2), worker="x",
                                         lease_s=60)
    assert first.key == "future"
    worst = next(e for e in claimed if e.key == "worst")
    assert (worst.due, worst.state, worst.attempts) == (T0 - timedelta(minutes=30), "claimed", 1)


async def test_schedule_add_refreshes_the_card_and_keeps_the_schedule(store: Store) -> None:
    await store.schedule_add([make_entry("a")])
    changed = make_entry("a", due=T0 + timedelta(days=3)).model_copy(
        update={"card": {"vid": "a", "title": "new"}, "tier": "cold"})
    await store.schedule_add([changed])
    doc = await store.get_doc("schedule", "job-1:video:a")
    assert doc is not None
    assert (doc["due"], doc["tier"], doc["card"]["title"]) == (T0, "hot", "new")


async def test_schedule_finish_counts_only_the_holders_visit(store: Store) -> None:
    await store.schedule_add([make_entry("a")])
    [lapsing] = await store.schedule_claim("job-1", due_by=T0, worker="A", lease_s=0)
    await asyncio.sleep(0.01)
    [held] = await store.schedule_claim("job-1", due_by=T0, worker="B", lease_s=60)
    assert (held.due, held.attempts) == (lapsing.due, 2)
    assert not await store.schedule_renew(held.id, worker="A", lease_s=60)
    assert await store.schedule_renew(held.id, worker="B", lease_s=600)
    later = T0 + timedelta(hours=1)
    changes = {"due": later, "tier": "cold", "last_worker": "A"}
    assert not await store.schedule_finish(held.id, worker="A", due=held.due, changes=changes)
    changes["last_worker"] = "B"
    assert not await store.schedule_finish(held.id, worker="B", due=later, changes=changes)
    assert await store.schedule_finish(held.id, worker="B", due=held.due, changes=changes)
    assert not await store.schedule_finish(held.id, worker="B", due=held.due, changes=changes)
    doc = await store.get_doc("schedule", held.id)
    assert doc is not None
    assert {k: doc[k] for k in ("state", "worker", "lease_until", "attempts", "visits", "due",
                                "tier", "last_worker")} == {
        "state": "pending", "worker": None, "lease_until": None, "attempts": 0, "visits": 1,
        "due": later, "tier": "cold", "last_worker": "B"}


async def test_schedule_move_only_moves_a_pending_visit_as_planned(store: Store) -> None:
    await store.schedule_add([make_entry("a"), make_entry("b")])
    [held] = await store.schedule_claim("job-1", due_by=T0, worker="A", lease_s=60)
    sooner = T0 - timedelta(hours=1)
    assert not await store.schedule_move(held.id, was=T0, due=sooner, tier="all")  # claimed
    other = "job-1:video:b" if held.key == "a" else "job-1:video:a"
    assert not await store.schedule_move(other, was=sooner, due=sooner, tier="all")  # moved on
    assert await store.schedule_move(other, was=T0, due=sooner, tier="all")
    doc = await store.get_doc("schedule", other)
    assert doc is not None and (doc["due"], doc["tier"]) == (sooner, "all")


async def test_schedule_release_and_frontier_renew(store: Store) -> None:
    await store.schedule_add([make_entry("a")])
    [held] = await store.schedule_claim("job-1", due_by=T0, worker="A", lease_s=60)
    await store.schedule_release(held.id, worker="B")  # not B's: nothing happens
    assert await store.schedule_claim("job-1", due_by=T0, worker="B", lease_s=60) == []
    await store.schedule_release(held.id, worker="A")
    [again] = await store.schedule_claim("job-1", due_by=T0, worker="B", lease_s=60)
    assert (again.due, again.worker) == (T0, "B")
    await store.frontier_add([make_item("v")])
    [item] = await store.frontier_claim("job-1", worker="A", lease_s=1)
    assert not await store.frontier_renew(item.id, worker="B", lease_s=60)
    assert await store.frontier_renew(item.id, worker="A", lease_s=60)
    [doc] = await store.find_docs("frontier", {"_id": item.id})
    assert doc["lease_until"] - datetime.now(UTC) > timedelta(seconds=50)


# --- workers against the replica -------------------------------------------------------------


async def test_a_lapsed_visit_is_redone_by_another_worker_once(
    make_replica: Any, tmp_path: Path
) -> None:
    # publication=False: the clock moves, the catalogue stays (no new videos)
    async with make_replica(videos=15, seed=5, faults=False, publication=False) as rep:
        stores, clock = mock_stores(), replica_clock(rep)
        first = worker_settings(rep, tmp_path, "monitor", max_videos=2)
        await run_monitor(first, tiers=parse_tiers("all:0s"), once=True, store=stores(),
                          clock=clock)
        rep.clock.advance(3600)
        t = rep.clock.now()
        async with stores() as store:  # worker A claims a visit, writes its snapshot, dies
            [held] = await store.schedule_claim(JOB, due_by=clock(), worker="A",
                                                lease_s=LAPSE_S)
            await store.add_snapshot(Snapshot(vid=held.key, ts=clock(), stat_play=1,
                                              run_id=JOB, worker="A"),
                                     visit_id=snapshot_id(held))
        await asyncio.sleep(LAPSE_S + 0.1)
        outcome = await run_worker(worker_settings(rep, tmp_path, "B"), once=True,
                                   store=stores(), clock=clock)
        async with stores() as store:
            snaps = await docs(store, "snapshots")
            entry = await store.get_doc("schedule", held.id)
    assert outcome.stats["visits.revisit"] == 2 and outcome.stats["visits.failed"] == 0
    mine = {k: s for k, s in snaps.items() if s["vid"] == held.key}
    assert len(mine) == 2  # the first crawl's and this visit's: A's write was overwritten
    redone = mine[snapshot_id(held)]
    assert redone["worker"] == "B"
    assert redone["stat_play_text"] == rep.truth.views_text(held.key, t)
    assert redone["stat_play"] == count_value(rep.truth.views_text(held.key, t))
    assert redone["comment_total"] == rep.truth.comment_counts(held.key, t)[1]
    assert entry is not None
    assert (entry["state"], entry["last_worker"], entry["visits"], entry["attempts"]) == (
        "pending", "B", 2, 0)
    assert entry["due"] > held.due


async def test_a_lapsed_video_item_is_crawled_by_another_worker(
    make_replica: Any, tmp_path: Path
) -> None:
    async with make_replica(videos=15, seed=6, faults=False) as rep:
        stores = mock_stores()
        settings = worker_settings(rep, tmp_path, "enqueuer", max_videos=3)
        queued = await enqueue_run(settings, store=stores())
        async with stores() as store:
            [run] = await store.find_docs("runs", {})
            [held] = await store.frontier_claim(run["_id"], worker="A", lease_s=LAPSE_S,
                                                kind="video")
        await asyncio.sleep(LAPSE_S + 0.1)
        await run_worker(worker_settings(rep, tmp_path, "B"), once=True, store=stores())
        async with stores() as store:
            items = await store.find_docs("frontier", {"job": run["_id"], "kind": "video"})
            videos = await docs(store, "videos")
            snaps = await docs(store, "snapshots")
            [run] = await store.find_docs("runs", {})
    assert "3 videos queued" in queued.detail
    assert {i["state"] for i in items} == {"done"} and {i["worker"] for i in items} == {"B"}
    assert {i["_id"]: i["attempts"] for i in items}[held.id] == 2
    assert sorted(videos) == sorted(rep.truth.categories["jrrm"][:3])
    assert {v["crawl"]["worker"] for v in videos.values()} == {"B"}
    assert sorted(snaps) == sorted(f"{vid}:{run['_id']}" for vid in videos)
    assert run["status"] == "finished" and run["counters"]["videos.done"] == 3


async def test_two_workers_split_the_work_and_do_nothing_twice(
    make_replica: Any, tmp_path: Path
) -> None:
    async with make_replica(videos=30, seed=8, faults=False) as rep:
        stores = mock_stores()
        await enqueue_run(worker_settings(rep, tmp_path, "enqueuer", max_videos=10, pages=None),
                          store=stores())
        await run_monitor(worker_settings(rep, tmp_path, "enqueuer", max_videos=4),
                          tiers=parse_tiers("hot:1h,warm:6h,cold:24h", default_rates=(1e3, 1e2)),
                          enqueue_only=True, store=stores())
        outcomes = await asyncio.gather(*(
            run_worker(worker_settings(rep, tmp_path, name, concurrency=1), once=True,
                       store=stores()) for name in ("w1", "w2")))
        async with stores() as store:
            items = await store.find_docs("frontier", {"kind": "video"})
            videos = await docs(store, "videos")
            snaps = list((await docs(store, "snapshots")).values())
            schedule = await store.find_docs("schedule", {})
    assert len(items) == 10 and all(i["state"] == "done" and i["attempts"] == 1 for i in items)
    by_worker = Counter(i["worker"] for i in items)
    assert set(by_worker) == {"w1", "w2"}, by_worker  # both took a share
    assert sum(o.stats["videos.ok"] + o.stats["videos.partial"] + o.stats["videos.unavailable"]
               for o in outcomes) == 10
    run_snaps = [s for s in snaps if s["run_id"] != JOB]
    assert sorted(s["vid"] for s in run_snaps) == sorted(i["key"] for i in items)
    who = {i["key"]: i["worker"] for i in items}
    assert all(s["worker"] == who[s["vid"]] for s in run_snaps)
    assert all(videos[v]["crawl"]["worker"] in ("w1", "w2") for v in videos)
    # The monitor job: its catalogue read once, then each of its videos visited once.
    assert len(schedule) == 5 and all(e["visits"] == 1 and e["state"] == "pending"
                                      for e in schedule)
    visits = [s for s in snaps if s["run_id"] == JOB]
    assert sorted(s["vid"] for s in visits) == sorted(rep.truth.categories["jrrm"][:4])
    assert {e["last_worker"] for e in schedule} <= {"w1", "w2"}
    assert sum(o.stats["visits.catalogue"] for o in outcomes) == 1


async def test_interrupted_work_is_given_back_at_once(make_replica: Any, tmp_path: Path) -> None:
    """Ctrl-C (the main task cancelled) leaves no claim to wait for its lease."""
    async with make_replica(videos=15, seed=9, faults=False) as rep:
        stores = mock_stores()
        monitoring = asyncio.create_task(run_monitor(
            worker_settings(rep, tmp_path, "m", max_videos=3), tiers=parse_tiers("all:0s"),
            store=stores()))
        async with stores() as store:
            while await store.count("snapshots") < 6:
                assert not monitoring.done()
                await asyncio.sleep(0.05)
            monitoring.cancel()
            with pytest.raises(asyncio.CancelledError):
                await monitoring
            schedule = await store.find_docs("schedule", {})
    assert len(schedule) == 4
    assert [e["state"] for e in schedule] == ["pending"] * 4
    assert all(e["worker"] is None and e["lease_until"] is None for e in schedule)


async def test_workers_in_separate_processes_share_one_sqlite_file(
    make_replica: Any, tmp_path: Path
) -> None:
    """Two `scrape worker`s on one store file, one killed with SIGKILL mid-run: the same
    command resumes the run and every video is stored once, whole, with one snapshot."""
    store_dir = tmp_path / "store"
    async with make_replica(videos=30, seed=5, faults=False) as rep:
        common = ["--store", str(store_dir), "--resolve", rep.resolve]
        enqueue = ["-q", "run", "--enqueue-only", "--max-videos", "12", "--no-media", *common]
        rc, _, err = await scrape(*enqueue, cwd=tmp_path)
        assert rc == 0, err
        procs = [await asyncio.create_subprocess_exec(
            SCRAPE, "-q", "worker", "--once", "--id", f"p{n}", "--concurrency", "2", *common,
            cwd=tmp_path, stderr=asyncio.subprocess.PIPE) for n in (1, 2)]
        async with SqliteStore(store_dir / "scrape.db") as store:  # a third process reads
            while True:
                assert procs[0].returncode is None, "p1 finished before it could be killed"
                if await store.count("snapshots") >= 2:
                    # Frozen, p1 cannot finish the claim seen here before it dies: had it
                    # finished the run's last item meanwhile, the resume below would have
                    # nothing to resume and would start a second run.
                    procs[0].send_signal(signal.SIGSTOP)
                    if await store.count("frontier", {"state": "claimed", "worker": "p1"}):
                        break
                    procs[0].send_signal(signal.SIGCONT)
                await asyncio.sleep(0.05)
        procs[0].send_signal(signal.SIGKILL)
        results = [await asyncio.wait_for(p.communicate(), 240) for p in procs]
        assert [p.returncode for p in procs] == [-signal.SIGKILL, 0], results
        rc, _, err = await scrape(*enqueue, cwd=tmp_path)  # resumes: p1's claims go back
        assert rc == 0, err
        rc, _, err = await scrape("-q", "worker", "--once", "--id", "p3", *common,
                                  cwd=tmp_path)
        assert rc == 0, err
        async with SqliteStore(store_dir / "scrape.db") as store:
            items = await store.find_docs("frontier", {"kind": "video"})
            videos = await docs(store, "videos")
            comments = await docs(store, "comments")
            snaps = await docs(store, "snapshots")
            [run] = await store.find_docs("runs", {})
        truth, now = rep.truth, rep.clock.now()
    assert len(items) == 12 and {i["state"] for i in items} == {"done"}
    assert {i["worker"] for i in items} >= {"p2"} and {i["worker"] for i in items} <= {
        "p1", "p2", "p3"}
    assert sorted(videos) == sorted(i["key"] for i in items)
    assert sorted(snaps) == sorted(f"{vid}:{run['_id']}" for vid in videos)
    for vid in videos:
        expected = {c[0]: c for c in comment_tree(truth.comments(vid, now))}
        got = {c[0]: c for c in stored_tree([c for c in comments.values() if c["vid"] == vid])}
        assert got == expected, vid
    assert run["status"] == "finished" and run["counters"]["videos.done"] == 12


@pytest.mark.mongodb
@pytest.mark.skipif(REAL_MONGODB is None, reason="needs SCRAPER_TEST_MONGODB_URI")
async def test_workers_in_separate_processes_share_a_real_mongodb(
    replica: Any, tmp_path: Path
) -> None:
    assert REAL_MONGODB is not None
    name = f"scraper_test_{uuid.uuid4().hex[:12]}"
    uri = _with_database(REAL_MONGODB, name)
    common = ["--store", uri, "--resolve", replica.resolve, "--media-dir", str(tmp_path / "m")]
    try:
        rc, _, err = await scrape("-q", "run", "--enqueue-only", "--max-videos", "12",
                                  "--no-media", *common, cwd=tmp_path)
        assert rc == 0, err
        procs = [await asyncio.create_subprocess_exec(
            SCRAPE, "-q", "worker", "--once", "--id", f"p{n}", "--concurrency", "2", *common,
            cwd=tmp_path, stderr=asyncio.subprocess.PIPE) for n in (1, 2)]
        results = [await asyncio.wait_for(p.communicate(), 240) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], results
        async with MongoStore(uri) as store:
            items = await store.find_docs("frontier", {"kind": "video"})
            snaps = await docs(store, "snapshots")
            [run] = await store.find_docs("runs", {})
    finally:
        client: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(REAL_MONGODB)
        await client.drop_database(name)
        client.close()
    assert len(items) == 12 and all(i["state"] == "done" and i["attempts"] == 1 for i in items)
    assert {i["worker"] for i in items} <= {"p1", "p2"}
    assert len(snaps) == 12 and run["status"] == "finished"

