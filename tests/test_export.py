"""``export``: what a user gets in JSON lines and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient

from scraper.errors import StoreError
from scraper.models import ChannelSnapshot, CrawlInfo, Snapshot
from scraper.store.base import Store
from scraper.store.export import export
from scraper.store.mongo import MongoStore
from scraper.store.sqlite import SqliteStore
from tests.test_store import T0, make_channel, make_comment, make_video


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with SqliteStore(tmp_path / "s.db") as sqlite_store:
        await sqlite_store.save_video(make_video("XMTEy", title='quote " and, comma'))
        await sqlite_store.save_video(make_video("XMTEx"))
        await sqlite_store.save_comments([make_comment(1, replies=[make_comment(2)])])
        await sqlite_store.add_snapshot(Snapshot(vid="XMTEx", ts=T0, stat_play=5, run_id="r1"))
        yield sqlite_store


async def test_jsonl_is_one_object_per_line_with_iso_datetimes(store: Store) -> None:
    out = io.StringIO()
    assert await export(store, "videos", "jsonl", out) == 2
    lines = out.getvalue().splitlines()
    assert "标题 one" in lines[0]  # not \\u-escaped
    first, second = (json.loads(line) for line in lines)
    assert list(first)[:4] == ["_id", "vid", "url", "title"]
    assert (first["_id"], first["title"]) == ("XMTEx", "标题 one")
    assert second["title"] == 'quote " and, comma'
    assert first["crawl"]["first"] == "2024-05-01T12:00:00.123000+00:00"
    assert first["segments"][0] == {"index": 0, "url": "https://cdn.test/0.mp4", "path": None,
                                    "size": 10, "sha256": None, "status": "ok", "attempts": 0,
                                    "error": None}


async def test_jsonl_keeps_nested_replies(store: Store) -> None:
    out = io.StringIO()
    assert await export(store, "comments", "jsonl", out) == 1
    comment = json.loads(out.getvalue())
    assert comment["_id"] == comment["id"] == 1
    assert comment["replies"][0]["content"] == "comment 2 ✓"
    assert comment["replies"][0]["time"] == (T0 + timedelta(minutes=2)).isoformat()


async def test_csv_has_a_row_per_comment_and_reply(store: Store) -> None:
    out = io.StringIO()
    assert await export(store, "comments", "csv", out) == 1  # one stored thread
    top, reply = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(top) == ["_id", "vid", "id", "thread", "parent_id", "depth", "time", "user",
                         "user_name", "content", "num_up", "num_down", "num_reply"]
    assert (top["_id"], top["user_name"], top["depth"], top["thread"]) == ("1", "用户1", "0", "1")
    assert top["time"] == "2024-05-01T12:01:00.123000+00:00"
    assert (reply["_id"], reply["depth"], reply["thread"]) == ("2", "1", "1")
    assert reply["content"] == "comment 2 ✓"
    assert not any(cell.startswith(("[", "{")) for cell in [*top.values(), *reply.values()])


async def test_csv_of_videos_quotes_and_encodes(store: Store) -> None:
    out = io.StringIO()
    assert await export(store, "videos", "csv", out) == 2
    text = out.getvalue()
    assert text.startswith("_id,vid,url,title,subtitle,") and "\r" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["_id"] for r in rows] == ["XMTEx", "XMTEy"]
    assert rows[1]["title"] == 'quote " and, comma'
    assert rows[0]["subtitle"] == "" and rows[0]["stat_play"] == "100"
    assert (rows[0]["crawl_run_id"], rows[0]["segments"], rows[0]["segments_ok"]) == (
        "run-1", "1", "1")
    assert rows[0]["segments_bytes"] == "10" and rows[0]["segment_paths"] == ""
    assert not any(cell.startswith(("[", "{")) for row in rows for cell in row.values())


async def test_excel_csv_starts_with_a_byte_order_mark(store: Store) -> None:
    out = io.StringIO()
    await export(store, "snapshots", "csv", out, excel=True)
    assert out.getvalue().startswith("\ufeff_id,")


async def test_empty_snapshot_export_still_has_a_header(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "empty.db") as empty:
        out = io.StringIO()
        assert await export(empty, "snapshots", "csv", out) == 0
    assert out.getvalue() == (
        "_id,vid,ts,stat_play,stat_play_text,stat_cmt,comment_total,run_id,worker,tier\n")


async def test_snapshots_export(store: Store) -> None:
    out = io.StringIO()
    assert await export(store, "snapshots", "jsonl", out) == 1
    assert json.loads(out.getvalue()) == {
        "_id": "XMTEx:r1", "vid": "XMTEx", "ts": T0.isoformat(), "stat_play": 5,
        "stat_play_text": None, "stat_cmt": None, "comment_total": None, "run_id": "r1",
        "worker": None, "tier": None}


async def test_channels_export_with_first_and_last_visit(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "c.db") as store:
        await fill(store)
        out = io.StringIO()
        assert await export(store, "channels", "csv", out) == 2
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert list(rows[0])[:4] == ["_id", "uid", "name", "link"]
        assert [(r["_id"], r["followers"], r["followers_text"], r["first_visit"], r["last_visit"])
                for r in rows] == [
            ("UMTIx", "24000", "2.4万", T0.isoformat(),
             (T0 + timedelta(hours=1, microseconds=456000)).isoformat()),
            ("UMTIy", "23000", "2.3万", T0.isoformat(), T0.isoformat())]
        out = io.StringIO()
        assert await export(store, "channel-snapshots", "jsonl", out) == 2
        first = json.loads(out.getvalue().splitlines()[0])
        assert first == {"_id": "UMTIx:r1", "uid": "UMTIx",
                         "ts": (T0 + timedelta(hours=1, microseconds=456000)).isoformat(),
                         "followers": 24000, "followers_text": "2.4万", "videos": 3,
                         "videos_text": "3", "plays": 310_000_000, "plays_text": "3.1亿",
                         "run_id": "r1", "tier": "hot"}


async def test_unknown_collection_or_format(store: Store) -> None:
    with pytest.raises(ValueError, match="cannot export 'runs'"):
        await export(store, "runs", "jsonl", io.StringIO())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown export format 'xml'"):
        await export(store, "videos", "xml", io.StringIO())  # type: ignore[arg-type]


async def fill(store: Store) -> None:
    """A crawl and a revisit, as both stores receive them."""
    later = T0 + timedelta(hours=1, microseconds=456789)  # below MongoDB's millisecond
    await store.save_video(make_video("XMTEy", title='quote " and, comma'))
    await store.save_video(make_video("XMTEx"))
    await store.save_video(make_video("XMTEx", at=later, title="renamed", stat_play=7,
                                      crawl=CrawlInfo(first=later, last=later, run_id="r2")))
    await store.save_comments([make_comment(n, replies=[make_comment(n + 100)])
                               for n in (3, 1, 2)])
    await store.save_comments([make_comment(2, num_up=5), make_comment(12, vid="XMTEy")])
    for vid, run in (("XMTEy", "r1"), ("XMTEx", "r1"), ("XMTEx", "r2")):
        await store.add_snapshot(Snapshot(vid=vid, ts=later, stat_play=5, run_id=run,
                                          stat_play_text="5", tier="hot"))
    await store.save_channel(make_channel("UMTIy"))
    await store.save_channel(make_channel("UMTIx"))
    await store.save_channel(make_channel("UMTIx", at=later, followers=24000,
                                          followers_text="2.4万"))
    for uid, run in (("UMTIx", "r1"), ("UMTIx", "r2")):
        await store.add_channel_snapshot(ChannelSnapshot(
            uid=uid, ts=later, followers=24000, followers_text="2.4万", videos=3,
            videos_text="3", plays=310_000_000, plays_text="3.1亿", run_id=run, tier="hot"))


@pytest.mark.parametrize("what", ["videos", "comments", "snapshots", "channels",
                                  "channel-snapshots"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_both_stores_export_the_same_lines(tmp_path: Path, what: Any, fmt: Any) -> None:
    outputs = []
    for store in (SqliteStore(tmp_path / f"{what}-{fmt}.db"),
                  MongoStore("mongodb://mock/export", client=AsyncMongoMockClient())):
        async with store:
            await fill(store)
            out = io.StringIO()
            await export(store, what, fmt, out)
            outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    # CSV: a header, and a row per comment and reply (threads 1 and 3 have one reply each).
    rows = {"videos": 2, "comments": 4, "snapshots": 3, "channels": 2,
            "channel-snapshots": 2}[what]
    if fmt == "csv":
        rows += 1 + 2 * (what == "comments")
    assert len(outputs[0].splitlines()) == rows


async def test_a_misfit_mongodb_document_is_named_and_skipped() -> None:
    async with MongoStore("mongodb://mock/misfit", client=AsyncMongoMockClient()) as mongo:
        await fill(mongo)
        await mongo.save_doc("videos", "XMbad", {"vid": "XMbad", "title": 3})
        assert await mongo.corrupt_docs() == [
            ("videos", "XMbad", "it does not fit the videos model (url is missing)")]
        skipped: list[tuple[Any, str]] = []
        out = io.StringIO()
        assert await export(mongo, "videos", "jsonl", out,
                            on_corrupt=lambda *args: skipped.append(args)) == 2
        assert [json.loads(line)["_id"] for line in out.getvalue().splitlines()] == [
            "XMTEx", "XMTEy"]
        assert skipped == [("XMbad", "it does not fit the videos model (url is missing)")]
        with pytest.raises(StoreError, match=r"^document 'XMbad' of videos is corrupt: "):
            await export(mongo, "videos", "jsonl", io.StringIO())


async def test_an_undecodable_sqlite_row_is_found_without_decoding_the_others(
        tmp_path: Path) -> None:
    from tests.test_cli import _corrupt_row

    async with SqliteStore(tmp_path / "c.db") as store:
        await fill(store)
    whole = _corrupt_row(tmp_path / "c.db", "snapshots", "XMTEx:r2")
    async with SqliteStore(tmp_path / "c.db") as store:
        (found,) = await store.corrupt_docs()
        assert found[:2] == ("snapshots", "XMTEx:r2")
        assert found[2].startswith("its BSON does not decode")
        with pytest.raises(StoreError, match=r"document 'XMTEx:r2' of snapshots is corrupt"):
            await export(store, "snapshots", "jsonl", io.StringIO())
        out = io.StringIO()
        assert await export(store, "snapshots", "csv", out, on_corrupt=lambda *a: None) == 2
    import sqlite3

    with sqlite3.connect(tmp_path / "c.db") as conn:  # nothing was written
        assert conn.execute("SELECT doc FROM snapshots WHERE id = 'XMTEx:r2'").fetchone()[0] == (
            whole[:-7])
    conn.close()
