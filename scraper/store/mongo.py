"""``MongoStore``: the ``Store`` (``base.py``) in MongoDB; ``SqliteStore`` is the other.

Every pymongo/bson error becomes a ``StoreError`` here, raised ``from`` the original. Both
stores write the update documents of ``documents.py`` (``video_update``, ...): this one
sends them, ``SqliteStore`` applies them, so the merge rules (static video fields kept,
frontier leases) are written once. A batch is one ``bulk_write``. Only this module imports
motor or pymongo (with ``mongo_client.py``, which makes the client; indexes:
``mongo_indexes.py``), so a switch of driver changes it alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

from bson.errors import BSONError
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import ReplaceOne, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, PyMongoError

from ..errors import ConfigError, StoreError
from ..models import (
    Channel,
    ChannelSnapshot,
    Comment,
    FrontierItem,
    RunRecord,
    ScheduleEntry,
    Snapshot,
    Video,
)
from .base import OnCorrupt
from .documents import (
    CLAIM_SORT,
    FRONTIER_STATES,
    RELEASE_UPDATE,
    RETRY_UPDATE,
    SCHEDULE_SORT,
    Doc,
    DocId,
    Update,
    channel_snapshot_doc,
    channel_update,
    check_collection,
    claim_query,
    claim_update,
    comment_doc,
    fill_missing,
    finish_update,
    from_doc,
    frontier_insert,
    held_query,
    job_query,
    keyed,
    lists_update,
    misfit,
    misfit_query,
    move_update,
    renew_update,
    run_doc,
    schedule_claim_query,
    schedule_finish_update,
    schedule_insert,
    snapshot_doc,
    utc_now,
    video_update,
)
from .mongo_client import mongo_answers, new_client
from .mongo_indexes import INDEXES
from .mongo_values import aware, describe_uri, one_line

__all__ = ["FRONTIER_STATES", "MongoStore", "mongo_answers"]  # the probe lives in mongo_client

_DUPLICATE_KEY = 11000


class MongoStore:
    """The store in a MongoDB database (the URI's, else ``database_default``).

    ``client`` is the test seam: the tests' in-memory motor-compatible client runs the
    same code as a real server. A given client is not closed on exit.
    """

    kind: str = "mongodb"

    def __init__(
        self,
        uri: str,
        *,
        client: AsyncIOMotorClient[Doc] | None = None,
        database_default: str = "scraper",
        connect_timeout_s: float = 2.0,
    ) -> None:
        self.description, self._database_name = describe_uri(uri, database_default)
        self._uri = uri
        self._client = client
        self._owns_client = client is None
        self._timeout_s = connect_timeout_s
        self._db: AsyncIOMotorDatabase[Doc] | None = None
        self._indexed: set[str] = set()

    async def __aenter__(self) -> Self:
        if self._client is None:
            try:
                self._client = new_client(self._uri, self._timeout_s)
            except ValueError as exc:  # pymongo's URI parser: a bad port, IPv6 literal, …
                raise ConfigError(f"bad MongoDB URI {self.description}: "
                                  f"{one_line(exc)}") from exc
        try:
            db = self._client[self._database_name]
            await db.command("ping")
        except (PyMongoError, BSONError) as exc:
            self._close()
            raise StoreError(
                f"cannot reach MongoDB at {self.description}: {one_line(exc)}"
            ) from exc
        self._db = db
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def _close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
        self._db = None

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except (PyMongoError, BSONError) as exc:
            raise StoreError(
                f"MongoDB at {self.description}: {action} failed: {one_line(exc)}"
            ) from exc

    async def _col(self, name: str) -> AsyncIOMotorCollection[Doc]:
        """The collection, its indexes created on first use."""
        if self._db is None:
            raise StoreError(f"store {self.description} is not open (use 'async with')")
        col = self._db[check_collection(name)]
        if name not in self._indexed:
            with self._errors(f"creating the indexes of {name}"):
                for keys in INDEXES.get(name, []):
                    await col.create_index(keys)
            self._indexed.add(name)
        return col

    async def _replace(self, collection: str, doc: Doc) -> None:
        col = await self._col(collection)
        with self._errors(f"writing to {collection}"):
            await col.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def save_video(self, video: Video) -> None:
        col = await self._col("videos")
        with self._errors("saving a video"):
            await col.update_one({"_id": video.vid}, video_update(video), upsert=True)

    async def save_comments(self, comments: Sequence[Comment]) -> None:
        requests = [ReplaceOne({"_id": doc["_id"]}, doc, upsert=True)
                    for doc in map(comment_doc, comments)]
        await self._bulk("comments", requests, action="saving comments")

    async def _bulk(
        self, collection: str, requests: Sequence[ReplaceOne[Doc] | UpdateOne], *, action: str
    ) -> int:
        """Send ``requests`` in one round trip (unordered); returns how many were inserted.

        An upsert that lost a race to another process's insert of the same ``_id`` fails
        with a duplicate key: that document exists now, which is all an upsert asks.
        """
        if not requests:
            return 0
        col = await self._col(collection)
        with self._errors(action):
            try:
                result = await col.bulk_write(list(requests), ordered=False)
            except BulkWriteError as exc:  # handled: duplicates are answers; the rest re-raised
                if any(error.get("code") != _DUPLICATE_KEY
                       for error in exc.details.get("writeErrors", [])):
                    raise
                return int(exc.details.get("nUpserted", 0))
        return result.upserted_count

    async def add_snapshot(self, snap: Snapshot, *, visit_id: str | None = None) -> None:
        await self._replace("snapshots", snapshot_doc(snap, visit_id))

    async def get_video(self, vid: str) -> Video | None:
        doc = await self.get_doc("videos", vid)
        return None if doc is None else from_doc(Video, doc)

    async def save_channel(self, channel: Channel) -> None:
        await self._update_one("channels", {"_id": channel.uid}, channel_update(channel),
                               upsert=True)

    async def add_channel_snapshot(self, snap: ChannelSnapshot, *,
                                   visit_id: str | None = None) -> None:
        await self._replace("channel_snapshots", channel_snapshot_doc(snap, visit_id))

    async def add_lists(self, collection: str, doc_id: str, path: str,
                        lists: Sequence[str]) -> bool:
        return await self._update_one(collection, {"_id": doc_id}, lists_update(path, lists))

    async def fill_missing(self, collection: str, doc_id: str, path: str, value: Any) -> bool:
        return await self._update_one(collection, *fill_missing(doc_id, path, value))

    async def start_run(self, run: RunRecord) -> None:
        await self._replace("runs", run_doc(run))

    async def update_run(self, run: RunRecord) -> None:
        await self._replace("runs", run_doc(run))

    async def latest_run(self, job: str) -> RunRecord | None:
        col = await self._col("runs")
        with self._errors("reading runs"):
            docs = await col.find({"job": job}).sort("started", -1).limit(1).to_list(1)
        return from_doc(RunRecord, aware(docs[0])) if docs else None

    async def frontier_add(self, items: Sequence[FrontierItem]) -> int:
        requests = [UpdateOne({"_id": item.id}, frontier_insert(item), upsert=True)
                    for item in items]
        return await self._bulk("frontier", requests, action="adding to the frontier")

    async def frontier_claim(
        self, job: str, *, worker: str, lease_s: float, kind: str | None = None, limit: int = 1
    ) -> list[FrontierItem]:
        col = await self._col("frontier")
        now = utc_now()
        claimed: list[FrontierItem] = []
        while len(claimed) < limit:
            with self._errors("claiming from the frontier"):
                doc = await col.find_one_and_update(
                    claim_query(job, kind, now),
                    claim_update(worker, lease_s, now),
                    sort=CLAIM_SORT,
                    return_document=ReturnDocument.AFTER,
                )
            if doc is None:
                break
            claimed.append(from_doc(FrontierItem, aware(doc)))
        return claimed

    async def frontier_finish(
        self, item_id: str, *, state: Literal["done", "failed"], error: str | None = None
    ) -> None:
        await self._update_frontier(item_id, finish_update(state, error))

    async def frontier_release(self, item_id: str) -> None:
        await self._update_frontier(item_id, RELEASE_UPDATE)

    async def _update_frontier(self, item_id: str, update: Update) -> None:
        col = await self._col("frontier")
        with self._errors("updating the frontier"):
            await col.update_one({"_id": item_id}, update)

    async def frontier_release_claimed(self, job: str) -> int:
        col = await self._col("frontier")
        with self._errors("releasing claimed frontier items"):
            result = await col.update_many(job_query(job, state="claimed"), RELEASE_UPDATE)
        return result.modified_count

    async def frontier_counts(self, job: str, *, kind: str | None = None) -> dict[str, int]:
        col = await self._col("frontier")
        pipeline: list[Doc] = [
            {"$match": job_query(job, kind=kind)},
            {"$group": {"_id": "$state", "n": {"$sum": 1}}},
        ]
        with self._errors("counting the frontier"):
            groups = await col.aggregate(pipeline).to_list(None)
        return dict.fromkeys(FRONTIER_STATES, 0) | {g["_id"]: g["n"] for g in groups}

    async def frontier_retry_failed(self, job: str) -> int:
        col = await self._col("frontier")
        with self._errors("resetting failed frontier items"):
            result = await col.update_many(job_query(job, state="failed"), RETRY_UPDATE)
        return result.modified_count

    async def frontier_renew(self, item_id: str, *, worker: str, lease_s: float) -> bool:
        update = renew_update(lease_s, utc_now())
        return await self._update_one("frontier", held_query(item_id, worker), update)

    async def schedule_add(self, entries: Sequence[ScheduleEntry]) -> int:
        requests = [UpdateOne({"_id": entry.id}, schedule_insert(entry), upsert=True)
                    for entry in entries]
        return await self._bulk("schedule", requests, action="adding to the schedule")

    async def schedule_claim(
        self, job: str, *, due_by: datetime, worker: str, lease_s: float, limit: int = 1
    ) -> list[ScheduleEntry]:
        col = await self._col("schedule")
        now = utc_now()
        claimed: list[ScheduleEntry] = []
        while len(claimed) < limit:
            with self._errors("claiming from the schedule"):
                doc = await col.find_one_and_update(
                    schedule_claim_query(job, due_by=due_by, now=now),
                    claim_update(worker, lease_s, now),
                    sort=SCHEDULE_SORT,
                    return_document=ReturnDocument.AFTER,
                )
            if doc is None:
                break
            claimed.append(from_doc(ScheduleEntry, aware(doc)))
        return claimed

    async def schedule_renew(self, entry_id: str, *, worker: str, lease_s: float) -> bool:
        update = renew_update(lease_s, utc_now())
        return await self._update_one("schedule", held_query(entry_id, worker), update)

    async def schedule_finish(
        self, entry_id: str, *, worker: str, due: datetime, changes: Mapping[str, Any]
    ) -> bool:
        query = held_query(entry_id, worker, due=due)
        return await self._update_one("schedule", query, schedule_finish_update(changes))

    async def schedule_release(self, entry_id: str, *, worker: str) -> None:
        await self._update_one("schedule", held_query(entry_id, worker), RELEASE_UPDATE)

    async def schedule_move(
        self, entry_id: str, *, was: datetime, due: datetime, tier: str
    ) -> bool:
        query = {"_id": entry_id, "state": "pending", "due": was}
        return await self._update_one("schedule", query, move_update(due, tier))

    async def _update_one(self, collection: str, query: Doc, update: Update, *,
                          upsert: bool = False) -> bool:
        col = await self._col(collection)
        with self._errors(f"updating {collection}"):
            result = await col.update_one(query, update, upsert=upsert)
        return result.matched_count > 0

    async def iter_docs(
        self, collection: str, query: Mapping[str, Any] | None = None, *,
        on_corrupt: OnCorrupt | None = None,  # MongoDB keeps no undecodable document
    ) -> AsyncIterator[Doc]:
        col = await self._col(collection)
        with self._errors(f"reading {collection}"):
            async for doc in col.find(dict(query or {})).sort("_id", 1):
                yield aware(doc)

    async def corrupt_docs(self, *, limit: int = 20) -> list[tuple[str, DocId, str]]:
        found: list[tuple[str, DocId, str]] = []
        for collection in ("videos", "comments", "snapshots"):
            query = misfit_query(collection)
            col = await self._col(collection)
            with self._errors(f"checking {collection}"):
                docs = await col.find(query).limit(limit).to_list(None)
            found += [(collection, doc["_id"], f"it does not fit the {collection} model "
                       f"({misfit(aware(doc), collection)})") for doc in docs]
        return found[:limit]

    async def count(self, collection: str, filter_eq: Mapping[str, Any] | None = None) -> int:
        col = await self._col(collection)
        with self._errors(f"counting {collection}"):
            return await col.count_documents(dict(filter_eq or {}))

    async def save_doc(self, collection: str, doc_id: DocId, doc: Mapping[str, Any]) -> None:
        await self._replace(collection, keyed(doc_id, doc))

    async def get_doc(self, collection: str, doc_id: DocId) -> Doc | None:
        col = await self._col(collection)
        with self._errors(f"reading {collection}"):
            doc = await col.find_one({"_id": doc_id})
        return None if doc is None else aware(doc)

    async def find_docs(self, collection: str, filter_eq: Mapping[str, Any]) -> list[Doc]:
        col = await self._col(collection)
        with self._errors(f"reading {collection}"):
            docs = await col.find(dict(filter_eq)).sort("_id", 1).to_list(None)
        return [aware(doc) for doc in docs]

    async def find_page(
        self,
        collection: str,
        query: Mapping[str, Any],
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
    ) -> list[Doc]:
        col = await self._col(collection)
        order = [*sort, ("_id", 1)] if all(key != "_id" for key, _ in sort) else list(sort)
        with self._errors(f"reading {collection}"):
            cursor = col.find(dict(query)).sort(order).skip(skip)
            docs = await (cursor.limit(limit) if limit else cursor).to_list(None)
        return [aware(doc) for doc in docs]

    async def distinct(
        self, collection: str, field: str, query: Mapping[str, Any] | None = None
    ) -> list[Any]:
        col = await self._col(collection)
        with self._errors(f"reading {collection}"):
            values = await col.distinct(field, dict(query or {}))
        return sorted(value for value in values if value is not None)
