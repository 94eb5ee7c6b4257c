"""``export --vid/--since/--until/--category``: the store query, on both stores."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient

from scraper.errors import ConfigError
from scraper.models import CrawlInfo, RunRecord, Snapshot
from scraper.store.base import Store
from scraper.store.export import export
from scraper.store.filters import FIELDS, ExportFilter, Fields, export_query
from scraper.store.mongo import MongoStore
from scraper.store.sqlite import SqliteStore
from scraper.web.snapshots import SnapshotIndex
from scraper.web.videos import VideoFilters, video_page
from tests.test_store import T0, make_comment, make_video

H = timedelta(hours=1)
# vid -> (run that crawled it, its last crawl)
VIDEOS = {"XMTEx": ("r1", T0), "XMTEy": ("r2", T0 + 2 * H), "XMTEz": ("r1", T0 + 4 * H)}
CATEGORIES = {"r1": "today-hot", "r2": "military"}


async def fill(store: Store) -> None:
    for run_id, category in CATEGORIES.items():
        await store.start_run(RunRecord(run_id=run_id, job=f"youku-replica:{category}",
                                        site="youku-replica", category=category, started=T0))
    for n, (vid, (run_id, last)) in enumerate(VIDEOS.items()):
        await store.save_video(make_video(vid, crawl=CrawlInfo(first=T0, last=last,
                                                               run_id=run_id)))
        await store.save_comments([make_comment(10 * n + 1, vid=vid),
                                   make_comment(10 * n + 2, vid=vid)])
        for hours in range(3):
            await store.add_snapshot(Snapshot(vid=vid, ts=T0 + hours * H, stat_play=hours,
                                              run_id=f"r{hours}"))


@pytest.fixture(params=["sqlite", "mongodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store = (SqliteStore(tmp_path / "f.db") if request.param == "sqlite" else
                     MongoStore("mongodb://mock/filters", client=AsyncMongoMockClient()))
    async with opened:
        await fill(opened)
        yield opened


async def exported(store: Store, what: Any, keep: ExportFilter) -> list[dict[str, Any]]:
    out = io.StringIO()
    count = await export(store, what, "jsonl", out, keep=keep)
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(docs)
    return docs


def ids(docs: list[dict[str, Any]]) -> list[Any]:
    return [doc["_id"] for doc in docs]


async def test_vid_keeps_those_videos_with_or_without_padding(store: Store) -> None:
    keep = ExportFilter(vids=("XMTEx==", "XMTEz"))
    assert ids(await exported(store, "videos", keep)) == ["XMTEx", "XMTEz"]
    snaps = await exported(store, "snapshots", keep)
    assert sorted({s["vid"] for s in snaps}) == ["XMTEx", "XMTEz"] and len(snaps) == 6
    assert ids(await exported(store, "comments", keep)) == [1, 2, 21, 22]


async def test_since_and_until_bound_each_collections_own_time(store: Store) -> None:
    videos = await exported(store, "videos", ExportFilter(since=T0 + H, until=T0 + 3 * H))
    assert ids(videos) == ["XMTEy"]  # last crawled at T0 + 2h
    snaps = await exported(store, "snapshots", ExportFilter(vids=("XMTEy",), since=T0 + H))
    assert [s["ts"] for s in snaps] == [(T0 + H).isoformat(), (T0 + 2 * H).isoformat()]
    # Comment n was posted n minutes after T0; --until is exclusive.
    comments = await exported(store, "comments", ExportFilter(until=T0 + timedelta(minutes=12)))
    assert ids(comments) == [1, 2, 11]


async def test_category_is_the_catalogue_category_of_the_crawling_run(store: Store) -> None:
    assert ids(await exported(store, "videos", ExportFilter(category="today-hot"))) == [
        "XMTEx", "XMTEz"]
    snaps = await exported(store, "snapshots", ExportFilter(category="military"))
    assert {s["vid"] for s in snaps} == {"XMTEy"} and len(snaps) == 3
    both = ExportFilter(category="today-hot", vids=("XMTEy", "XMTEz"))
    assert ids(await exported(store, "comments", both)) == [21, 22]
    with pytest.raises(ConfigError, match=r"^--category 'nowhere': no run crawled it into "
                       r".* \(crawled: military, today-hot\)$"):
        await exported(store, "videos", ExportFilter(category="nowhere"))


async def test_the_filter_is_the_stores_query(store: Store) -> None:
    keep = ExportFilter(vids=("XMTEx==",), since=T0, category="today-hot")
    assert await export_query(store, "snapshots", keep) == {
        "vid": {"$in": ["XMTEx"]}, "ts": {"$gte": T0}}
    assert await export_query(store, "videos", keep) == {
        "_id": {"$in": ["XMTEx"]}, "crawl.last": {"$gte": T0}}


async def test_category_follows_the_lists_a_video_was_seen_in(store: Store) -> None:
    """A run of several lists counts for each of its categories; its videos' ``lists`` say
    which one each was seen in."""
    await store.start_run(RunRecord(run_id="r3", job="youku-replica:all",
                                    site="youku-replica", category="today-hot+military",
                                    started=T0))
    for vid, seen in (("XMTE1", "category:military"), ("XMTE2", "channel:UMTIz")):
        await store.save_video(make_video(vid, lists=[seen], crawl=CrawlInfo(
            first=T0, last=T0, run_id="r3")))
    assert ids(await exported(store, "videos", ExportFilter(category="military"))) == [
        "XMTE1", "XMTEy"]
    assert ids(await exported(store, "videos", ExportFilter(category="today-hot"))) == [
        "XMTEx", "XMTEz"]


async def test_a_video_crawled_again_by_another_categorys_run_stays_in_its_own(
        store: Store) -> None:
    """Its last crawl is the other category's run; the lists it was seen in decide, for
    the export and for the dashboard's Videos page alike."""
    await store.save_video(make_video("XMTE3", lists=["category:today-hot"], crawl=CrawlInfo(
        first=T0, last=T0, run_id="r2")))
    await store.save_video(make_video("XMTE4", lists=[], crawl=CrawlInfo(
        first=T0, last=T0, run_id="r2")))  # no list recorded: its run's category counts
    assert ids(await exported(store, "videos", ExportFilter(category="today-hot"))) == [
        "XMTE3", "XMTEx", "XMTEz"]
    assert ids(await exported(store, "videos", ExportFilter(category="military"))) == [
        "XMTE4", "XMTEy"]
    index = SnapshotIndex(store)
    await index.refresh()
    for category, want in (("today-hot", {"XMTE3", "XMTEx", "XMTEz"}),
                           ("military", {"XMTE4", "XMTEy"})):
        page = await video_page(store, index, VideoFilters(category=category))
        assert {row["_id"] for row in page.rows} == want
        assert page.total == len(want)


async def test_a_filter_on_a_field_a_collection_lacks_is_bad_input(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FIELDS, "snapshots", Fields(time=None, vid="vid"))
    with pytest.raises(ConfigError, match=r"^--since/--until does not apply to snapshots$"):
        await export_query(store, "snapshots", ExportFilter(since=T0))
