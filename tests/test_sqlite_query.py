"""The SQLite store answers queries and sorts in SQL exactly as ``documents`` does in
Python (MongoDB's meaning), reads a page through an index, and upgrades an older file."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
import pytest

from scraper.store import sqlite_ops as ops
from scraper.store.documents import matches, sort_docs
from scraper.store.sqlite import SqliteStore
from scraper.store.sqlite_query import order_by, where
from scraper.store.sqlite_schema import APPLICATION_ID, SCHEMA_VERSION, open_file

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = ["社会", "国际", "Hot news", "hot", "", "法制"]


def _value(rng: random.Random) -> Any:
    """A field value of any type a careless writer might leave, missing included."""
    return rng.choice([
        rng.randrange(-5, 50), rng.uniform(-5, 50), rng.choice(WORDS), None, True, False,
        {"a": 1}, [1, 2], "missing",
    ])


def _video(n: int, rng: random.Random) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": f"v{n:03}", "crawl": {}}
    for path in ("stat_play", "comment_total", "category", "title", "status"):
        if (value := _value(rng)) != "missing":
            doc[path] = value
    if rng.random() < 0.8:
        doc["crawl"]["last"] = T0 + timedelta(minutes=rng.randrange(0, 100))
    if rng.random() < 0.5:
        doc["crawl"]["run_id"] = rng.choice(["r1", "r2"])
    return doc


def _query(rng: random.Random) -> dict[str, Any]:
    choices: list[dict[str, Any]] = [
        {}, {"category": rng.choice(WORDS)}, {"stat_play": rng.randrange(-5, 50)},
        {"stat_play": {"$gte": rng.randrange(-5, 50), "$lt": rng.randrange(0, 60)}},
        {"category": {"$gt": "h"}}, {"title": {"$regex": "hot", "$options": "i"}},
        {"title": {"$regex": "^H"}}, {"status": None},
        {"category": {"$in": [rng.choice(WORDS), None]}}, {"_id": {"$in": ["v001", "v017"]}},
        {"crawl.last": {"$lt": T0 + timedelta(minutes=50)}},
        {"crawl.run_id": {"$in": ["r1"]}}, {"stat_play": True},
        {"$or": [{"stat_play": {"$lt": 3}}, {"category": "hot"}]},
        {"comment_total": {"$lte": 10.5}, "category": {"$regex": "o"}},
        {"stat_play": {"$in": [1, 2.0, "x"]}}, {"tags": "社会"},
    ]
    return rng.choice(choices)


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    connection, _ = open_file(tmp_path / "q.db")
    rng = random.Random(7)
    ops.in_write(connection, ops.put, "videos", [_video(n, rng) for n in range(120)])
    return connection


def test_sql_pages_equal_python_for_any_query_and_sort(conn: sqlite3.Connection) -> None:
    everything = ops.find(conn, "videos", {})
    rng = random.Random(11)
    pushed = 0
    for _ in range(400):
        query = _query(rng)
        sort = rng.choice([[], [("stat_play", -1)], [("stat_play", 1)], [("title", 1)],
                           [("crawl.last", -1)], [("category", 1), ("comment_total", -1)],
                           [("tags", 1)]])
        skip, limit = rng.randrange(0, 30), rng.choice([None, 5, 50])
        expected = sort_docs([d for d in everything if matches(d, query)], sort)
        expected = expected[skip:] if limit is None else expected[skip:skip + limit]
        got = ops.find_page(conn, "videos", query, sort, skip, limit)
        assert [d["_id"] for d in got] == [d["_id"] for d in expected], (query, sort)
        assert ops.count(conn, "videos", query) == len(
            [d for d in everything if matches(d, query)])
        pushed += where("videos", query).complete and order_by("videos", sort) is not None
    assert pushed > 200  # most of them were answered by SQL alone


def _lists(rng: random.Random) -> Any:
    """A video's lists as a careless writer might leave them, missing included."""
    return rng.choice([
        "missing", None, [], ["category:a"], ["category:b", "channel:U1"],
        ["channel:U1", "category:a"], ["category:a", 1], "category:a", [["category:a"]],
        ['say "hi"\x1f'], {"a": 1},
    ])


def test_an_array_column_answers_as_python_does(tmp_path: Path) -> None:
    connection, _ = open_file(tmp_path / "lists.db")
    rng = random.Random(3)
    docs = []
    for n in range(200):
        doc: dict[str, Any] = {"_id": f"v{n:03}", "crawl": {"run_id": rng.choice(["r1", "r2"])}}
        if (lists := _lists(rng)) != "missing":
            doc["lists"] = lists
        docs.append(doc)
    ops.in_write(connection, ops.put, "videos", docs)
    runs = {"crawl.run_id": {"$in": ["r1"]}}
    queries: list[tuple[dict[str, Any], bool]] = [  # (query, answered by SQL alone)
        ({"$or": [{"lists": {"$elemMatch": {"$eq": "category:a"}}},
                  {"lists": None, **runs}, {"lists": [], **runs}]}, True),
        ({"lists": {"$elemMatch": {"$eq": 'say "hi"\x1f'}}}, True),
        ({"lists": None}, True), ({"lists": []}, True),
        ({"lists": ["category:b", "channel:U1"]}, True),
        ({"lists": {"$in": [None, [], ["category:a"]]}}, True), ({"lists": {"$in": []}}, True),
        ({"lists": "category:a"}, False), ({"lists": {"$elemMatch": {"$gt": "c"}}}, False),
        ({"lists": {"$in": ["category:a"]}}, False), ({"lists": ["category:a", 1]}, False),
    ]
    for query, exact in queries:
        want = sorted(d["_id"] for d in docs if matches(d, query))
        assert [d["_id"] for d in ops.find(connection, "videos", query)] == want, query
        assert ops.count(connection, "videos", query) == len(want), query
        assert where("videos", query).complete is exact, query
    assert order_by("videos", [("lists", 1)]) is None  # never sorted in SQL


def test_unknown_fields_and_types_are_left_to_python() -> None:
    assert where("videos", {"tags": "社会"}).complete is False
    assert where("videos", {"stat_play": True}).complete is False
    assert where("videos", {"crawl.last": 5}).complete is False  # a date column, a number
    assert where("videos", {"stat_play": {"$gte": 5}, "category": "x"}).complete is True
    assert order_by("videos", [("tags", 1)]) is None


def test_the_dashboard_page_reads_through_an_index(conn: sqlite3.Connection) -> None:
    clause, order = where("videos", {"category": "社会"}), order_by("videos",
                                                                     [("stat_play", -1)])
    assert order is not None
    plan = " ".join(str(row) for row in conn.execute(
        f"EXPLAIN QUERY PLAN SELECT doc FROM videos WHERE {clause.sql} {order} LIMIT 50",
        clause.params))
    assert "USING INDEX" in plan
    plan = " ".join(str(row) for row in conn.execute(
        f"EXPLAIN QUERY PLAN SELECT doc FROM videos {order_by('videos', [('stat_play', -1)])}"
        " LIMIT 50"))
    # Ties on the column are put in _id order among themselves ("RIGHT PART"), never the
    # whole table sorted.
    assert "USING INDEX" in plan and "TEMP B-TREE FOR ORDER BY" not in plan


async def test_a_version_1_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("CREATE TABLE videos (id PRIMARY KEY, doc BLOB NOT NULL)")
    for n, plays in enumerate([30, 10, 20]):
        doc = {"_id": f"v{n}", "stat_play": plays, "title": f"t{n}",
               "crawl": {"last": T0, "run_id": "r1"}, "lists": [f"category:c{n % 2}"]}
        old.execute("INSERT INTO videos VALUES (?, ?)", (doc["_id"], bson.encode(doc)))
    old.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    old.execute("PRAGMA user_version = 1")
    old.close()
    async with SqliteStore(path) as store:
        page = await store.find_page("videos", {"crawl.run_id": "r1"},
                                     sort=[("stat_play", -1)], limit=2)
        assert [d["_id"] for d in page] == ["v0", "v2"]
        assert await store.count("videos", {"stat_play": {"$lt": 25}}) == 2
        assert await store.distinct("videos", "_id", {
            "lists": {"$elemMatch": {"$eq": "category:c0"}}}) == ["v0", "v2"]
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert check.execute('SELECT id, stat_play, "crawl.run_id" FROM videos ORDER BY id'
                         ).fetchall() == [("v0", 30, "r1"), ("v1", 10, "r1"), ("v2", 20, "r1")]
