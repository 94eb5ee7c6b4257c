"""What only the SQLite store does: a file that several processes share, that survives
kill -9, that refuses a file not its own, and that reads through indexes."""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
import sys
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from scraper.errors import StoreError
from scraper.models import Snapshot
from scraper.store.sqlite import SqliteStore
from scraper.store.sqlite_schema import (
    APPLICATION_ID,
    COLUMNS,
    SCHEMA_VERSION,
    _check_ours,
    ensure_table,
)
from tests.test_cli import one_error_line, scrape
from tests.test_store import (
    T0,
    all_docs,
    make_comment,
    make_entry,
    make_item,
    make_run,
    make_video,
)


async def test_a_reopened_store_has_everything(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as first:
        await first.save_video(make_video())
        await first.save_comments([make_comment(1, replies=[make_comment(2)])])
        await first.frontier_add([make_item("a"), make_item("b", priority=5)])
        await first.frontier_claim("job-1", worker="w1", lease_s=60)
    async with SqliteStore(tmp_path / "s.db") as second:
        assert await second.get_video("XMTEx") == make_video()
        [comment] = await all_docs(second, "comments")
        assert comment["replies"][0]["time"] == T0 + timedelta(minutes=2)
        [item] = await second.frontier_claim("job-1", worker="w1", lease_s=60)
        assert item.key == "a"  # b, claimed before the reopen, is still claimed


async def test_stores_on_one_file_claim_disjoint_items(tmp_path: Path) -> None:
    """Several openers of one file (as several processes are) never take an item twice."""
    stores = [SqliteStore(tmp_path / "shared.db") for _ in range(4)]
    for store in stores:
        await store.__aenter__()
    try:
        await stores[0].frontier_add([make_item(f"{n:02}") for n in range(30)])
        await stores[1].schedule_add([make_entry(f"e{n}") for n in range(10)])
        batches = await asyncio.gather(*(
            s.frontier_claim("job-1", worker=f"w{n}", lease_s=60, limit=3)
            for n, s in enumerate(stores * 3)))
        entries = await asyncio.gather(*(
            s.schedule_claim("job-1", due_by=T0, worker=f"w{n}", lease_s=60, limit=2)
            for n, s in enumerate(stores * 2)))
        counts = await stores[3].frontier_counts("job-1")
    finally:
        for store in stores:
            await store.__aexit__(None, None, None)
    ids = [item.id for batch in batches for item in batch]
    assert len(ids) == len(set(ids)) == 30 and counts["claimed"] == 30
    keys = [entry.key for batch in entries for entry in batch]
    assert sorted(keys) == sorted(f"e{n}" for n in range(10))


_WRITER = """
import asyncio, sys
from datetime import UTC, datetime
from scraper.models import Snapshot
from scraper.store.sqlite import SqliteStore
from scraper.store.sqlite_schema import (
    APPLICATION_ID,
    COLUMNS,
    SCHEMA_VERSION,
    _check_ours,
    ensure_table,
)

async def main():
    async with SqliteStore(sys.argv[1]) as store:
        for n in range(100000):
            snap = Snapshot(vid=f"v{n}", ts=datetime.now(UTC), stat_play=n, run_id="r")
            await store.add_snapshot(snap)
            print(n, flush=True)

asyncio.run(main())
"""


async def test_kill_9_loses_nothing_committed(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WRITER, str(tmp_path / "s.db"), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    acknowledged = -1
    while acknowledged < 300:
        acknowledged = int(await asyncio.wait_for(proc.stdout.readline(), 60))
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    async with SqliteStore(tmp_path / "s.db") as store:
        stored = await store.count("snapshots")
        assert await store.get_doc("snapshots", f"v{acknowledged}:r") is not None
        await store.add_snapshot(Snapshot(vid="after", ts=T0, run_id="r"))  # and it goes on
    assert stored > acknowledged


@pytest.mark.parametrize("content", [
    b"my notes, not a database\n" * 10,
    "sqlite_other",
    "corrupt_store",
])
async def test_a_file_not_ours_is_one_line_and_left_alone(
    tmp_path: Path, content: bytes | str
) -> None:
    path = tmp_path / "data.db"
    if content == "sqlite_other":
        with sqlite3.connect(path) as other:
            other.execute("CREATE TABLE songs (title TEXT)")
    elif content == "corrupt_store":
        async with SqliteStore(path) as store:
            await store.save_video(make_video())
        path.write_bytes(b"\0" * 100 + path.read_bytes()[100:])  # its header overwritten
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=re.escape(f"{path} is ")) as info:
        async with SqliteStore(path):
            pass
    assert "\n" not in str(info.value) and "left as it is" in str(info.value)
    assert path.read_bytes() == before and not (tmp_path / "data.db-wal").exists()
    rc, _, err = await scrape("status", "--store", str(path), cwd=tmp_path)
    one_error_line(err, 4, rc, "is not a scrape store" if content != "sqlite_other"
                   else "an SQLite database of another program")
    assert path.read_bytes() == before


async def test_a_write_lock_held_too_long_is_busy(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db", busy_timeout_s=0.2) as store:
        await store.frontier_add([make_item("a")])
        other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writing, and writing
        try:
            assert await store.count("frontier") == 1  # readers are never held up
            with pytest.raises(StoreError, match=r"s.db is busy: another process held it "
                               r"for 0.2s \(claiming from the frontier\)$"):
                await store.frontier_claim("job-1", worker="w", lease_s=60)
        finally:
            other.execute("ROLLBACK")
            other.close()
        [item] = await store.frontier_claim("job-1", worker="w", lease_s=60)
        assert item.attempts == 1  # the refused claim took nothing


async def test_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(StoreError, match="cannot use store directory") as info:
        async with SqliteStore(tmp_path / "file" / "s.db"):
            pass
    assert "\n" not in str(info.value)
    async with SqliteStore(tmp_path / "s.db") as store:
        with pytest.raises(StoreError, match="cannot store a document"):
            await store.save_doc("misc", "v", {"bad": object()})
        with pytest.raises(StoreError, match="cannot store a document"):
            await store.save_doc("misc", "v", {"big": 2**70})
        with pytest.raises(ValueError, match="collection name"):
            await store.save_doc("_meta", "v", {})
        assert await store.count("misc") == 0  # nothing half-written


async def test_hot_paths_read_through_indexes(tmp_path: Path) -> None:
    """Every statement of a crawl's calls uses an index: no claim, save or lookup scans."""
    async with SqliteStore(tmp_path / "s.db") as store:
        await store.frontier_add([make_item(f"{n}") for n in range(50)])
        await store.schedule_add([make_entry(f"{n}") for n in range(50)])
        await store.start_run(make_run("r1"))
        conn = store._conn
        assert conn is not None
        statements: list[str] = []
        await store._on_thread(partial(conn.set_trace_callback, statements.append))
        [item] = await store.frontier_claim("job-1", worker="w", lease_s=60, kind="video")
        await store.frontier_renew(item.id, worker="w", lease_s=60)
        await store.frontier_finish(item.id, state="done")
        await store.frontier_counts("job-1", kind="video")
        await store.frontier_release_claimed("job-1")
        [entry] = await store.schedule_claim("job-1", due_by=T0, worker="w", lease_s=60)
        await store.schedule_finish(entry.id, worker="w", due=entry.due, changes={})
        await store.save_video(make_video())
        await store.get_video("XMTEx")
        await store.save_comments([make_comment(1)])
        await store.count("comments", {"vid": "XMTEx"})
        await store.find_docs("comments", {"vid": "XMTEx"})
        await store.add_snapshot(Snapshot(vid="XMTEx", ts=T0, run_id="r1"))
        await store.latest_run("job-1")
        await store._on_thread(partial(conn.set_trace_callback, None))
    with sqlite3.connect(tmp_path / "s.db") as reader:
        plans = {sql: [row[3] for row in reader.execute(f"EXPLAIN QUERY PLAN {sql}")]
                 for sql in statements if sql.lstrip().startswith(("SELECT", "INSERT"))}
    assert len(plans) >= 10 and sum("LIMIT" in sql for sql in plans) >= 2
    for sql, plan in plans.items():
        assert not any(re.fullmatch(r"SCAN \w+", step) for step in plan), (sql, plan)
        if "LIMIT" in sql:  # a claim takes the best few in index order, sorting nothing
            assert not any("TEMP B-TREE" in step for step in plan), (sql, plan)


def test_in_and_ranges_on_indexed_columns_narrow_in_sql() -> None:
    from scraper.store.sqlite_query import where

    query = {"vid": {"$in": ["XMTEx", "XMTEy"]}, "ts": {"$gte": T0, "$lt": T0 + timedelta(1)},
             "stat_play": {"$gt": 3}}
    clause = where("snapshots", query)
    assert clause.sql == (
        """("vid" IN (SELECT value FROM json_each(?))) AND """
        """(typeof("ts") IN ('integer', 'real') AND "ts" >= ?) AND """
        """(typeof("ts") IN ('integer', 'real') AND "ts" < ?)""")
    ms = 1714564800123
    assert clause.params == ['["XMTEx", "XMTEy"]', ms, ms + 86_400_000]
    assert not clause.complete  # documents.matches still decides (stat_play is no column)
    assert where("snapshots", {"vid": {"$in": []}}).sql == "0"
    many = where("snapshots", {"vid": {"$in": [str(n) for n in range(1000)]}})
    assert many.complete and len(many.params) == 1  # one JSON array, whatever its length


def test_a_store_another_process_makes_while_we_look_is_not_taken_for_foreign(
    tmp_path: Path,
) -> None:
    """The maker commits between the reader's look at the header and at the tables."""
    path = tmp_path / "scrape.db"
    maker = sqlite3.connect(path, isolation_level=None)
    maker.execute("PRAGMA journal_mode = WAL")
    maker.execute("BEGIN IMMEDIATE")
    for collection in COLUMNS:
        ensure_table(maker, collection)
    maker.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    maker.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    reader = sqlite3.connect(path, isolation_level=None)
    seen: list[str] = []

    def commit_meanwhile(sql: str) -> None:
        seen.append(sql)
        if "sqlite_master" in sql and maker.in_transaction:
            maker.execute("COMMIT")

    reader.set_trace_callback(commit_meanwhile)
    assert _check_ours(reader, path, allow_empty=True) is False  # empty when it looked
    assert not maker.in_transaction and any("sqlite_master" in sql for sql in seen)
    assert _check_ours(reader, path, allow_empty=True) is True  # and ours now
    reader.close()
    maker.close()
