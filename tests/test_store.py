"""Both stores against one set of expectations.

Every case runs on ``SqliteStore`` and on ``MongoStore``: on mongomock-motor, or on a real
server when SCRAPER_TEST_MONGODB_URI is set (each test then gets its own database, dropped
after). ``tests/test_sqlite.py`` has what only the SQLite store does.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson.errors import InvalidDocument
from mongomock_motor import AsyncMongoMockClient
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo.errors import AutoReconnect, BulkWriteError, PyMongoError

from scraper.config import env
from scraper.errors import StoreError
from scraper.models import (
    Channel,
    ChannelSnapshot,
    Comment,
    CrawlInfo,
    FrontierItem,
    RunRecord,
    ScheduleEntry,
    Segment,
    Snapshot,
    Video,
)
from scraper.store.base import Store
from scraper.store.mongo import MongoStore, mongo_answers
from scraper.store.sqlite import SqliteStore
from scraper.store.target import open_store

T0 = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)  # milliseconds: MongoDB's precision
REAL_MONGODB = env("SCRAPER_TEST_MONGODB_URI")


def make_video(vid: str = "XMTEx", *, at: datetime = T0, **changes: Any) -> Video:
    crawl = CrawlInfo(first=at, last=at, run_id="run-1", worker="w1", selectors={"video": "v1"})
    fields: dict[str, Any] = {
        "vid": vid, "url": f"https://v.test/v_show/id_{vid}.html", "title": "标题 one",
        "duration_s": 62, "duration_text": "1:02", "stat_play": 100, "stat_play_text": "100",
        "category": "today-hot", "channel_name": "chan", "comment_total": 3,
        "segments": [Segment(index=0, url="https://cdn.test/0.mp4", size=10, status="ok")],
        "crawl": crawl,
    }
    return Video.model_validate(fields | changes)


def make_channel(uid: str = "UMTIz", *, at: datetime = T0, **changes: Any) -> Channel:
    fields: dict[str, Any] = {
        "uid": uid, "name": "中国新闻网", "link": f"http://i.youku.test/i/{uid}==",
        "avatar_url": "http://static.youku.test/avatar/1?w=100", "followers": 23000,
        "followers_text": "2.3万", "videos": 1204, "videos_text": "1,204",
        "plays": 310_000_000, "plays_text": "3.1亿", "first_visit": at, "last_visit": at,
        "selectors": "channel@v1"}
    return Channel.model_validate(fields | changes)


def make_comment(cid: int, *, vid: str = "XMTEx", num_up: int = 0, replies: Any = ()) -> Comment:
    return Comment(vid=vid, id=cid, time=T0 + timedelta(minutes=cid), user=cid * 10,
                   user_name=f"用户{cid}", content=f"comment {cid} ✓", num_up=num_up,
                   num_reply=len(replies), replies=list(replies))


def make_item(
    key: str, *, job: str = "job-1", kind: str = "video", priority: int = 0
) -> FrontierItem:
    return FrontierItem.model_validate({"id": f"{job}:{kind}:{key}", "job": job, "kind": kind,
                                        "key": key, "payload": {"key": key}, "priority": priority})


def make_entry(key: str, *, job: str = "job-1", due: datetime = T0) -> ScheduleEntry:
    return ScheduleEntry(id=f"{job}:video:{key}", job=job, kind="video", key=key, tier="hot",
                         card={"vid": key}, due=due, first_seen=T0)


def make_run(run_id: str, *, job: str = "job-1", started: datetime = T0) -> RunRecord:
    return RunRecord(run_id=run_id, job=job, site="youku-replica", category="today-hot",
                     started=started, options={"pages": 2})


def _with_database(uri: str, name: str) -> str:
    """``uri`` naming database ``name``; credentials still authenticate where they did."""
    head, _, query = uri.partition("?")
    scheme, _, rest = head.partition("://")
    hosts, _, database = rest.partition("/")
    if "@" in hosts and "authsource=" not in query.lower():
        query = "&".join(filter(None, [query, f"authSource={database or 'admin'}"]))
    return f"{scheme}://{hosts}/{name}" + (f"?{query}" if query else "")


def test_with_database() -> None:
    assert _with_database("mongodb://h:1", "t") == "mongodb://h:1/t"
    assert _with_database("mongodb://h/db?w=1", "t") == "mongodb://h/t?w=1"
    assert _with_database("mongodb://u:p@h/db?w=1", "t") == "mongodb://u:p@h/t?w=1&authSource=db"
    assert _with_database("mongodb://u:p@h", "t") == "mongodb://u:p@h/t?authSource=admin"


@pytest.fixture(params=["sqlite", "mongodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        async with SqliteStore(tmp_path / "store" / "scrape.db") as sqlite_store:
            yield sqlite_store
    elif REAL_MONGODB is None:
        # No tz_aware here on purpose: the store must hand back aware datetimes anyway.
        async with MongoStore("mongodb://mock/scraper_test", client=AsyncMongoMockClient()) as mock:
            yield mock
    else:
        name = f"scraper_test_{uuid.uuid4().hex[:12]}"
        async with MongoStore(_with_database(REAL_MONGODB, name)) as real:
            try:
                yield real
            finally:
                client: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(REAL_MONGODB)
                await client.drop_database(name)
                client.close()


async def all_docs(store: Store, collection: str) -> list[dict[str, Any]]:
    return [doc async for doc in store.iter_docs(collection)]


# --- channels and the lists videos were seen in ------------------------------------------


async def test_a_channel_keeps_its_first_visit_and_follows_the_latest(store: Store) -> None:
    later = T0 + timedelta(hours=3)
    await store.save_channel(make_channel())
    await store.save_channel(make_channel(at=later, name="改名", followers=24000,
                                          followers_text="2.4万"))
    docs = await all_docs(store, "channels")
    assert docs == [{"_id": "UMTIz", **make_channel(at=later, name="改名", followers=24000,
                                                    followers_text="2.4万").model_dump(),
                     "first_visit": T0}]


async def test_channel_snapshots_round_trip_one_per_visit(store: Store) -> None:
    first = ChannelSnapshot(uid="UMTIz", ts=T0, followers=23000, followers_text="2.3万",
                            videos=3, videos_text="3", plays=10, plays_text="10", run_id="r1")
    await store.add_channel_snapshot(first)
    await store.add_channel_snapshot(first.model_copy(update={"followers": 23100}))
    second = first.model_copy(update={"ts": T0 + timedelta(hours=1), "tier": "hot"})
    await store.add_channel_snapshot(second, visit_id="UMTIz:later")
    docs = await all_docs(store, "channel_snapshots")
    assert docs == [{"_id": "UMTIz:later", **second.model_dump()},
                    {"_id": "UMTIz:r1", **first.model_dump(), "followers": 23100}]
    assert await store.find_page("channel_snapshots", {"uid": "UMTIz"}, sort=[("ts", 1)]) == [
        docs[1], docs[0]]


async def test_lists_are_added_never_lost(store: Store) -> None:
    await store.save_video(make_video(lists=["category:today-hot"]))
    assert await store.add_lists("videos", "XMTEx", "lists", ["channel:U1", "category:today-hot"])
    await store.save_video(make_video(lists=["category:military"]))
    got = await store.get_video("XMTEx")
    assert got is not None and got.lists == ["category:today-hot", "channel:U1",
                                             "category:military"]
    assert not await store.add_lists("videos", "nope", "lists", ["channel:U1"])
    assert await store.get_doc("videos", "nope") is None
    await store.frontier_add([make_item("a")])
    assert await store.add_lists("frontier", "job-1:video:a", "payload.card.lists", ["x", "x"])
    doc = await store.get_doc("frontier", "job-1:video:a")
    assert doc is not None and doc["payload"] == {"key": "a", "card": {"lists": ["x"]}}


async def test_fill_missing_sets_only_an_absent_or_null_value(store: Store) -> None:
    await store.save_video(make_video(lists=["category:today-hot"]))  # no day
    assert await store.fill_missing("videos", "XMTEx", "published", "2018-06-21")
    assert not await store.fill_missing("videos", "XMTEx", "published", "2019-01-01")
    got = await store.get_video("XMTEx")
    assert got is not None and got.published == "2018-06-21"
    assert not await store.fill_missing("videos", "nope", "published", "2018-06-21")
    assert await store.get_doc("videos", "nope") is None
    await store.frontier_add([make_item("a")])
    assert await store.fill_missing("frontier", "job-1:video:a", "payload.card.published", "d")
    doc = await store.get_doc("frontier", "job-1:video:a")
    assert doc is not None and doc["payload"] == {"key": "a", "card": {"published": "d"}}


async def test_a_publication_day_stays_when_a_later_list_shows_none(store: Store) -> None:
    await store.save_video(make_video(published="2018-06-21", lists=["channel:U1"]))
    await store.save_video(make_video(lists=["category:today-hot"]))  # a catalogue: no day
    got = await store.get_video("XMTEx")
    assert got is not None and got.published == "2018-06-21"
    await store.save_video(make_video(published="2018-06-22"))  # as the list shows it now
    got = await store.get_video("XMTEx")
    assert got is not None and got.published == "2018-06-22"


# --- videos, comments, snapshots --------------------------------------------------------


async def test_video_keeps_static_fields_and_follows_the_latest_visit(store: Store) -> None:
    later = T0 + timedelta(days=1)
    await store.save_video(make_video())
    revisit = make_video(
        at=later, title="renamed", category="other", stat_play=250, comment_total=7,
        crawl=CrawlInfo(first=later, last=later, run_id="run-2", worker="w2",
                        errors=["thumb: 404"], selectors={"video": "v2"}),
    )
    await store.save_video(revisit)

    got = await store.get_video("XMTEx")
    assert got is not None
    assert (got.title, got.category, got.duration_s) == ("标题 one", "today-hot", 62)
    assert (got.stat_play, got.comment_total) == (250, 7)
    assert got.segments == revisit.segments
    assert got.crawl == CrawlInfo(first=T0, last=later, run_id="run-2", worker="w2",
                                  errors=["thumb: 404"], selectors={"video": "v2"})
    assert got.crawl.first.tzinfo is not None and got.crawl.first.utcoffset() == timedelta(0)
    assert await store.count("videos") == 1
    assert await store.get_video("unknown") is None


async def test_first_save_is_the_video_as_given(store: Store) -> None:
    video = make_video(subtitle=None, file_paths=["media/XMTEx/0.mp4"])
    await store.save_video(video)
    assert await store.get_video(video.vid) == video
    [doc] = await all_docs(store, "videos")
    assert doc["_id"] == video.vid and doc["crawl"]["last"] == T0


async def test_comments_upsert_without_duplicates_and_keep_nested_replies(store: Store) -> None:
    deep = make_comment(3, replies=[make_comment(4)])
    first = [make_comment(1, replies=[make_comment(2), deep]), make_comment(5)]
    await store.save_comments(first)
    recrawl = [make_comment(1, num_up=9, replies=[make_comment(2), deep]), make_comment(6)]
    await store.save_comments(recrawl)

    docs = {doc["_id"]: doc for doc in await all_docs(store, "comments")}
    assert sorted(docs) == [1, 5, 6]
    assert Comment.model_validate({k: v for k, v in docs[1].items() if k != "_id"}) == recrawl[0]
    assert docs[1]["replies"][1]["replies"][0]["content"] == "comment 4 ✓"
    assert docs[1]["num_up"] == 9
    assert await store.count("comments", {"vid": "XMTEx"}) == 3


async def test_a_visit_redone_is_one_snapshot(store: Store) -> None:
    snap = Snapshot(vid="XMTEx", ts=T0, stat_play=10, stat_cmt=2, comment_total=2,
                    run_id="run-1", worker="w1")
    await store.add_snapshot(snap)
    await store.add_snapshot(snap.model_copy(update={"stat_play": 11}))
    await store.add_snapshot(snap, visit_id="XMTEx:run-1:again")

    docs = {doc["_id"]: doc for doc in await all_docs(store, "snapshots")}
    assert sorted(docs) == ["XMTEx:run-1", "XMTEx:run-1:again"]
    assert docs["XMTEx:run-1"]["stat_play"] == 11
    assert docs["XMTEx:run-1"]["ts"] == T0


# --- runs and generic documents ---------------------------------------------------------


async def test_run_records(store: Store) -> None:
    await store.start_run(make_run("r1"))
    await store.start_run(make_run("r2", started=T0 + timedelta(hours=1)))
    await store.start_run(make_run("r3", job="other", started=T0 + timedelta(hours=2)))
    latest = await store.latest_run("job-1")
    assert latest is not None and latest.run_id == "r2"

    done = latest.model_copy(update={"status": "finished", "counters": {"videos.ok": 3},
                                     "finished": T0 + timedelta(hours=3)})
    await store.update_run(done)
    assert await store.latest_run("job-1") == done
    assert await store.latest_run("nobody") is None
    assert await store.count("runs") == 3


async def test_generic_documents(store: Store) -> None:
    await store.save_doc("fingerprints", "video:title", {"hash": "ab", "at": T0, "n": {"x": 1}})
    await store.save_doc("fingerprints", 7, {"_id": "ignored", "hash": "cd", "n": {"x": 2}})
    await store.save_doc("fingerprints", "video:title", {"hash": "ef", "at": T0, "n": {"x": 1}})

    assert await store.get_doc("fingerprints", "video:title") == {
        "_id": "video:title", "hash": "ef", "at": T0, "n": {"x": 1}}
    assert await store.get_doc("fingerprints", 7) == {"_id": 7, "hash": "cd", "n": {"x": 2}}
    assert await store.get_doc("fingerprints", "missing") is None
    assert [d["_id"] for d in await store.find_docs("fingerprints", {"n.x": 2})] == [7]
    assert await store.count("fingerprints") == 2
    assert [d["_id"] for d in await all_docs(store, "fingerprints")] == [7, "video:title"]
    assert await all_docs(store, "never_written") == []
    with pytest.raises(ValueError, match="collection name"):
        await store.count("../escape")


# --- the frontier -----------------------------------------------------------------------


async def test_frontier_add_never_resets_known_items(store: Store) -> None:
    assert await store.frontier_add([make_item("a"), make_item("b")]) == 2
    [claimed] = await store.frontier_claim("job-1", worker="w1", lease_s=60)
    assert await store.frontier_add([make_item("a"), make_item("b"), make_item("c")]) == 1
    assert await store.frontier_add([make_item("d"), make_item("d")]) == 1
    counts = await store.frontier_counts("job-1")
    assert counts == {"pending": 3, "claimed": 1, "done": 0, "failed": 0}
    assert await store.frontier_counts("job-2") == dict.fromkeys(counts, 0)
    assert claimed.id == "job-1:video:a"


async def test_claim_order_is_priority_then_insertion(store: Store) -> None:
    await store.frontier_add([make_item(k) for k in "xyz"])
    await store.frontier_add([make_item("p", kind="catalogue", priority=10), make_item("w")])
    first = await store.frontier_claim("job-1", worker="w1", lease_s=60, limit=3)
    assert [i.key for i in first] == ["p", "x", "y"]
    videos = await store.frontier_claim("job-1", worker="w1", lease_s=60, kind="video", limit=9)
    assert [i.key for i in videos] == ["z", "w"]
    assert await store.frontier_claim("job-1", worker="w1", lease_s=60) == []

    item = first[1]
    assert (item.state, item.worker, item.attempts) == ("claimed", "w1", 1)
    assert item.lease_until is not None
    assert timedelta(seconds=59) < item.lease_until - datetime.now(UTC) <= timedelta(seconds=60)


async def test_concurrent_claimers_get_disjoint_items(store: Store) -> None:
    await store.frontier_add([make_item(f"{n:02}") for n in range(20)])
    batches = await asyncio.gather(
        *(store.frontier_claim("job-1", worker=f"w{n}", lease_s=60, limit=3) for n in range(8))
    )
    ids = [item.id for batch in batches for item in batch]
    assert len(ids) == len(set(ids)) == 20
    assert (await store.frontier_counts("job-1"))["claimed"] == 20


async def test_an_expired_lease_can_be_claimed_again(store: Store) -> None:
    await store.frontier_add([make_item("a")])
    [held] = await store.frontier_claim("job-1", worker="w1", lease_s=60)
    assert await store.frontier_claim("job-1", worker="w2", lease_s=60) == []
    await store.frontier_release(held.id)
    [lapsing] = await store.frontier_claim("job-1", worker="w1", lease_s=0)
    await asyncio.sleep(0.01)
    [retaken] = await store.frontier_claim("job-1", worker="w2", lease_s=60)
    assert retaken.id == lapsing.id == held.id
    assert (retaken.worker, retaken.attempts) == ("w2", 3)


async def test_finish_release_retry(store: Store) -> None:
    await store.frontier_add([make_item(k) for k in "abcd"])
    a, b, c, _ = await store.frontier_claim("job-1", worker="w1", lease_s=60, limit=4)
    await store.frontier_finish(a.id, state="done")
    await store.frontier_finish(b.id, state="failed", error="HTTP 500")
    await store.frontier_release(c.id)
    await store.frontier_finish("job-1:video:unknown", state="done")  # no such item: no-op
    assert await store.frontier_counts("job-1") == {
        "pending": 1, "claimed": 1, "done": 1, "failed": 1}
    failed = await store.get_doc("frontier", b.id)
    assert failed is not None
    assert (failed["error"], failed["lease_until"], failed["attempts"]) == ("HTTP 500", None, 1)

    assert await store.frontier_release_claimed("job-1") == 1
    assert await store.frontier_retry_failed("job-1") == 1
    assert await store.frontier_retry_failed("job-1") == 0
    assert await store.frontier_counts("job-1") == {
        "pending": 3, "claimed": 0, "done": 1, "failed": 0}
    assert await store.frontier_counts("job-1", kind="catalogue") == {
        "pending": 0, "claimed": 0, "done": 0, "failed": 0}
    again = await store.frontier_claim("job-1", worker="w2", lease_s=60, limit=5)
    assert [(i.key, i.attempts, i.error) for i in again] == [
        ("b", 1, None), ("c", 2, None), ("d", 2, None)]


# --- pages of documents (the dashboard's reads) --------------------------------------


async def _paging_videos(store: Store) -> None:
    rows = [("a1", 500, "社会", "<b>Hot</b> news"), ("a2", None, "娱乐", "quiet"),
            ("a3", 70, "社会", "HOT take"), ("a4", 500, None, "cold"), ("a5", 9, "娱乐", "x")]
    for vid, views, tag, title in rows:
        at = T0 + timedelta(minutes=len(vid) + int(vid[1]))
        await store.save_video(make_video(vid, at=at, stat_play=views, category=tag, title=title))


async def test_find_page_filters_sorts_and_pages(store: Store) -> None:
    await _paging_videos(store)
    ids = lambda docs: [d["_id"] for d in docs]  # noqa: E731
    by_views = await store.find_page("videos", {}, sort=[("stat_play", -1)])
    assert ids(by_views) == ["a1", "a4", "a3", "a5", "a2"]  # ties by _id; missing last
    assert ids(await store.find_page("videos", {}, sort=[("stat_play", 1)])) == [
        "a2", "a5", "a3", "a1", "a4"]
    assert ids(await store.find_page("videos", {}, sort=[("stat_play", -1)], skip=1,
                                     limit=2)) == ["a4", "a3"]
    assert ids(await store.find_page("videos", {}, skip=4, limit=10)) == ["a5"]
    assert ids(await store.find_page("videos", {"category": "社会"},
                                     sort=[("crawl.last", -1)])) == ["a3", "a1"]
    hot = {"title": {"$regex": "hot", "$options": "i"}}
    assert ids(await store.find_page("videos", hot)) == ["a1", "a3"]
    assert ids(await store.find_page("videos", {"_id": {"$in": ["a5", "a2", "zz"]}})) == [
        "a2", "a5"]
    ranged = {"stat_play": {"$gt": 9, "$lte": 500}}
    assert ids(await store.find_page("videos", ranged)) == ["a1", "a3", "a4"]
    assert ids(await store.find_page("videos", {"stat_play": {"$gte": 70, "$lt": 500}})) == [
        "a3"]
    assert await store.count("videos", ranged) == 3
    assert await store.count("videos", hot) == 2
    page = await store.find_page("videos", {"_id": "a1"})
    assert page[0]["title"] == "<b>Hot</b> news" and page[0]["segments"][0]["size"] == 10


async def test_distinct_values_are_sorted_without_null(store: Store) -> None:
    await _paging_videos(store)
    assert await store.distinct("videos", "category") == ["娱乐", "社会"]
    assert await store.distinct("videos", "category", {"stat_play": {"$gte": 70}}) == ["社会"]
    assert await store.distinct("videos", "crawl.run_id") == ["run-1"]
    assert await store.distinct("snapshots", "vid") == []


async def test_a_page_is_a_copy(store: Store) -> None:
    await _paging_videos(store)
    (doc,) = await store.find_page("videos", {"_id": "a1"})
    doc["title"] = "changed"
    assert (await store.find_page("videos", {"_id": "a1"}))[0]["title"] == "<b>Hot</b> news"


async def test_a_store_must_be_opened_first(tmp_path: Path) -> None:
    mongo = MongoStore("mongodb://x/y", client=AsyncMongoMockClient())
    for unopened in (SqliteStore(tmp_path / "s.db"), mongo):
        with pytest.raises(StoreError, match="not open"):
            await unopened.get_video("v")


# --- MongoDB: reaching it, naming it, its errors ----------------------------------------


async def test_unreachable_mongodb_is_one_quick_line_without_the_password() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        async with MongoStore("mongodb://scraper:s3cret@127.0.0.1:1/x", connect_timeout_s=0.3):
            pass
    message = str(info.value)
    assert message.startswith("cannot reach MongoDB at mongodb://127.0.0.1:1/x: ")
    assert "\n" not in message and "s3cret" not in message and len(message) < 400
    assert isinstance(info.value.__cause__, PyMongoError)
    assert await mongo_answers("mongodb://127.0.0.1:1/x", timeout_s=0.3) is False
    assert await mongo_answers("mongodb://") is False  # not a URI at all
    assert time.monotonic() - started < 5


def test_open_store_picks_the_kind_from_the_target(tmp_path: Path) -> None:
    mongo = open_store("mongodb://u:p@db1:27017,db2/crawls?replicaSet=rs0")
    assert (mongo.kind, mongo.description) == ("mongodb", "mongodb://db1:27017,db2/crawls")
    bare = open_store("mongodb://localhost", database_default="other")
    assert bare.description == "mongodb://localhost/other"
    srv = open_store("mongodb+srv://u:p%40@cluster.example.net/?retryWrites=true")
    assert srv.description == "mongodb+srv://cluster.example.net/scraper"
    folder = open_store(str(tmp_path / "data"))
    assert isinstance(folder, SqliteStore)
    assert folder.description == str(tmp_path / "data" / "scrape.db")
    for name in ("crawl.db", "crawl.sqlite", "CRAWL.SQLITE3"):
        file = open_store(str(tmp_path / name))
        assert isinstance(file, SqliteStore) and file.description == str(tmp_path / name)


class _FailingCursor:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def sort(self, *args: Any, **kwargs: Any) -> _FailingCursor:
        return self

    def limit(self, *args: Any) -> _FailingCursor:
        return self

    def skip(self, *args: Any) -> _FailingCursor:
        return self

    def __aiter__(self) -> _FailingCursor:
        return self

    async def __anext__(self) -> Any:
        raise self.exc

    async def to_list(self, *args: Any) -> Any:
        raise self.exc


class _FailingCollection:
    """A motor collection whose every operation fails (index creation aside)."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def create_index(self, *args: Any, **kwargs: Any) -> str:
        return "ok"

    def find(self, *args: Any, **kwargs: Any) -> _FailingCursor:
        return _FailingCursor(self.exc)

    def aggregate(self, *args: Any, **kwargs: Any) -> _FailingCursor:
        return _FailingCursor(self.exc)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def fail(*args: Any, **kwargs: Any) -> Any:
            raise self.exc

        return fail


class _FailingClient:
    """A motor client (and its database) whose collections fail; with ``ping=False``, all."""

    def __init__(self, exc: Exception, *, ping: bool = True) -> None:
        self.exc, self.ping = exc, ping

    def __getitem__(self, name: str) -> Any:
        return _FailingDatabase(self)


class _FailingDatabase:
    def __init__(self, client: _FailingClient) -> None:
        self.client = client

    async def command(self, *args: Any) -> dict[str, float]:
        if not self.client.ping:
            raise self.client.exc
        return {"ok": 1.0}

    def __getitem__(self, name: str) -> _FailingCollection:
        return _FailingCollection(self.client.exc)


async def _drain(docs: AsyncIterator[Any]) -> None:
    async for _ in docs:
        pass


CALLS: dict[str, Callable[[Store], Awaitable[Any]]] = {
    "save_video": lambda s: s.save_video(make_video()),
    "save_comments": lambda s: s.save_comments([make_comment(1)]),
    "add_snapshot": lambda s: s.add_snapshot(Snapshot(vid="v", ts=T0, run_id="r")),
    "get_video": lambda s: s.get_video("v"),
    "save_channel": lambda s: s.save_channel(make_channel()),
    "add_channel_snapshot": lambda s: s.add_channel_snapshot(
        ChannelSnapshot(uid="U1", ts=T0, run_id="r")),
    "add_lists": lambda s: s.add_lists("videos", "v", "lists", ["category:today-hot"]),
    "fill_missing": lambda s: s.fill_missing("videos", "v", "published", "2018-06-21"),
    "start_run": lambda s: s.start_run(make_run("r")),
    "update_run": lambda s: s.update_run(make_run("r")),
    "latest_run": lambda s: s.latest_run("job-1"),
    "frontier_add": lambda s: s.frontier_add([make_item("a")]),
    "frontier_claim": lambda s: s.frontier_claim("job-1", worker="w", lease_s=1),
    "frontier_finish": lambda s: s.frontier_finish("a", state="done"),
    "frontier_release": lambda s: s.frontier_release("a"),
    "frontier_release_claimed": lambda s: s.frontier_release_claimed("job-1"),
    "frontier_counts": lambda s: s.frontier_counts("job-1"),
    "frontier_retry_failed": lambda s: s.frontier_retry_failed("job-1"),
    "frontier_renew": lambda s: s.frontier_renew("a", worker="w", lease_s=1),
    "schedule_add": lambda s: s.schedule_add([make_entry("a")]),
    "schedule_claim": lambda s: s.schedule_claim("job-1", due_by=T0, worker="w", lease_s=1),
    "schedule_renew": lambda s: s.schedule_renew("a", worker="w", lease_s=1),
    "schedule_finish": lambda s: s.schedule_finish("a", worker="w", due=T0, changes={}),
    "schedule_release": lambda s: s.schedule_release("a", worker="w"),
    "schedule_move": lambda s: s.schedule_move("a", was=T0, due=T0, tier="hot"),
    "iter_docs": lambda s: _drain(s.iter_docs("videos")),
    "count": lambda s: s.count("videos"),
    "corrupt_docs": lambda s: s.corrupt_docs(),
    "save_doc": lambda s: s.save_doc("fingerprints", "k", {}),
    "get_doc": lambda s: s.get_doc("fingerprints", "k"),
    "find_docs": lambda s: s.find_docs("fingerprints", {}),
    "find_page": lambda s: s.find_page("videos", {}, sort=[("stat_play", -1)], limit=5),
    "distinct": lambda s: s.distinct("videos", "category"),
}
PROTOCOL_METHODS = {
    name for name, value in vars(Store).items() if callable(value) and not name.startswith("_")
}


def test_both_stores_implement_the_whole_protocol() -> None:
    assert set(CALLS) == PROTOCOL_METHODS
    for name in PROTOCOL_METHODS:
        wanted = inspect.signature(getattr(Store, name))
        for impl in (MongoStore, SqliteStore):
            assert inspect.signature(getattr(impl, name)) == wanted, f"{impl.__name__}.{name}"


@pytest.mark.parametrize("error", [AutoReconnect("connection reset by peer"),
                                   InvalidDocument("cannot encode object")])
@pytest.mark.parametrize("method", sorted(CALLS))
async def test_every_pymongo_error_becomes_a_store_error(method: str, error: Exception) -> None:
    async with MongoStore("mongodb://db/x", client=_FailingClient(error)) as mongo:  # type: ignore[arg-type]
        with pytest.raises(StoreError, match=r"^MongoDB at mongodb://db/x: .* failed: ") as info:
            await CALLS[method](mongo)
    assert info.value.__cause__ is error


async def test_a_failing_ping_is_cannot_reach() -> None:
    refusing = _FailingClient(AutoReconnect("connection refused"), ping=False)
    with pytest.raises(StoreError, match=r"^cannot reach MongoDB at mongodb://db/x: connection"):
        async with MongoStore("mongodb://db/x", client=refusing):  # type: ignore[arg-type]
            pass


@pytest.mark.parametrize("module", ["store/mongo.py", "store/sqlite.py", "store/sqlite_ops.py",
                                    "store/sqlite_schema.py", "store/dirstore_import.py"])
def test_every_caught_third_party_error_is_translated(module: str) -> None:
    """No foreign error is caught and dropped, except where dropping it is the answer."""
    source = (Path(__file__).parent.parent / "scraper" / module).read_text(encoding="utf-8")
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for handler in ast.walk(func):
            if not isinstance(handler, ast.ExceptHandler):
                continue
            caught = ast.unparse(handler.type) if handler.type else "BaseException"
            if func.name in ("mongo_answers", "_is_collection", "_decoded"):
                continue  # the answer is False, or which rows are corrupt
            raises = [n for n in ast.walk(handler) if isinstance(n, ast.Raise)]
            assert raises, f"{module}:{handler.lineno} catches {caught} without raising"
            for node in raises:
                if node.exc is None:
                    continue  # re-raised as it is
                assert node.cause is not None, f"{module}:{node.lineno}: raise ... from exc"
                # Ours: the store failed (StoreError), or the URI the user typed is bad input.
                assert ast.unparse(node.exc).startswith(("StoreError(", "ConfigError(")), (
                    f"{module}:{node.lineno}")


@pytest.mark.parametrize(("code", "added"), [(11000, 2), (121, None)])
async def test_a_bulk_upsert_that_lost_a_race_is_not_an_error(code: int, added: int | None) -> None:
    """Another process inserted one of the items first (duplicate key): the rest count; any
    other write error is a StoreError."""
    details = {"writeErrors": [{"index": 1, "code": code, "errmsg": "E"}], "nUpserted": 2}
    client = _FailingClient(BulkWriteError(details))
    async with MongoStore("mongodb://db/x", client=client) as mongo:  # type: ignore[arg-type]
        items = [make_item(k) for k in "abc"]
        if added is None:
            with pytest.raises(StoreError, match="adding to the frontier failed"):
                await mongo.frontier_add(items)
        else:
            assert await mongo.frontier_add(items) == added
