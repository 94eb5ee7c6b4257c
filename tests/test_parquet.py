"""``export --format parquet``: typed columns that read back equal to the store."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from mongomock_motor import AsyncMongoMockClient

from scraper.store.base import Store
from scraper.store.export import export
from scraper.store.filters import ExportFilter
from scraper.store.mongo import MongoStore
from scraper.store.sqlite import SqliteStore
from tests import test_filters
from tests.test_filters import fill

TIME = pa.timestamp("ms", tz="UTC")
store = test_filters.store  # the fixture: each store kind, filled as test_filters fills it


async def read_back(store: Store, what: Any, **keep: Any) -> pa.Table:
    out = io.BytesIO()
    count = await export(store, what, "parquet", out, keep=ExportFilter(**keep))
    table = pq.read_table(io.BytesIO(out.getvalue()))
    assert count == len({row["_id"] for row in table.to_pylist()}) or what == "comments"
    return table


async def test_snapshots_read_back_typed_and_equal_to_the_store(store: Store) -> None:
    table = await read_back(store, "snapshots")
    schema = table.schema
    assert (schema.field("ts").type, schema.field("stat_play").type) == (TIME, pa.int64())
    assert schema.field("vid").type == pa.string()
    stored = [doc async for doc in store.iter_docs("snapshots")]
    rows = table.to_pylist()
    assert len(rows) == len(stored) == 9
    for row, doc in zip(rows, stored, strict=True):
        assert row == {name: doc.get(name) for name in table.column_names}
        assert row["ts"].utcoffset().total_seconds() == 0


async def test_videos_are_the_csv_table_typed(store: Store) -> None:
    table = await read_back(store, "videos", category="today-hot")
    types = {f.name: f.type for f in table.schema}
    assert (types["crawl_last"], types["stat_play"], types["segments_bytes"]) == (
        TIME, pa.int64(), pa.int64())
    rows = table.to_pylist()
    assert [r["_id"] for r in rows] == ["XMTEx", "XMTEz"]
    for row in rows:
        doc = await store.get_doc("videos", row["_id"])
        assert doc is not None
        assert (row["crawl_last"], row["crawl_run_id"]) == (doc["crawl"]["last"], "r1")
        assert (row["stat_play"], row["title"], row["segments"]) == (
            doc["stat_play"], doc["title"], len(doc["segments"]))


async def test_comments_have_a_row_per_comment_and_reply(tmp_path: Path) -> None:
    from tests.test_store import make_comment

    async with SqliteStore(tmp_path / "c.db") as store:
        await store.save_comments([make_comment(1, replies=[make_comment(2)])])
        table = await read_back(store, "comments")
    assert table.schema.field("time").type == TIME
    assert table.schema.field("user").type == pa.string()  # a number or a name
    rows = table.to_pylist()
    assert [(r["id"], r["depth"], r["thread"], r["user"]) for r in rows] == [
        (1, 0, 1, "10"), (2, 1, 1, "20")]


async def test_a_value_its_typed_column_cannot_hold_is_a_skipped_document() -> None:
    async with MongoStore("mongodb://mock/typed", client=AsyncMongoMockClient()) as mongo:
        await fill(mongo)
        doc = await mongo.get_doc("snapshots", "XMTEy:r1")
        assert doc is not None
        await mongo.save_doc("snapshots", "XMTEy:r1", doc | {"stat_play": "lots"})
        skipped: list[tuple[Any, str]] = []
        out = io.BytesIO()
        count = await export(mongo, "snapshots", "parquet", out,
                             on_corrupt=lambda *args: skipped.append(args))
        assert count == 8 and pq.read_table(io.BytesIO(out.getvalue())).num_rows == 8
        assert skipped == [("XMTEy:r1", "it does not fit the snapshots model (stat_play: "
                                        "Input should be a valid integer, unable to parse "
                                        "string as an integer)")]
        lines = io.StringIO()  # JSON lines take the value as it is
        assert await export(mongo, "snapshots", "jsonl", lines) == 9
