"""The store: videos, comments, snapshots, runs and the crawl frontier.

One ``Store`` protocol, two implementations:

* ``MongoStore`` (here): MongoDB through motor. Every pymongo/bson error becomes a
  ``StoreError`` in this module, raised ``from`` the original.
* ``DirStore`` (``dirstore.py``): the embedded store, one JSON file per document.

Both write the same MongoDB update documents, built once in ``dirstore.py``
(``video_update``, ``claim_update``, ...): ``MongoStore`` sends them to the server,
``DirStore`` applies them to its dicts. So the merge rules (static video fields kept
from the first crawl, frontier leases) are written once.

Only this module and ``dirstore.py`` import motor, pymongo or bson; switching to
PyMongo's own async API changes ``MongoStore`` alone.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self
from urllib.parse import unquote_plus

from bson.errors import BSONError
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from .dirstore import (
    CLAIM_SORT,
    FRONTIER_STATES,
    RELEASE_UPDATE,
    RETRY_UPDATE,
    SCHEDULE_SORT,
    DirStore,
    DocId,
    Update,
    check_collection,
    claim_query,
    claim_update,
    comment_doc,
    finish_update,
    from_doc,
    frontier_insert,
    held_query,
    job_query,
    keyed,
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
from .errors import StoreError
from .models import Comment, FrontierItem, RunRecord, ScheduleEntry, Snapshot, Video

__all__ = [
    "FRONTIER_STATES",
    "DirStore",
    "DocId",
    "MongoStore",
    "Store",
    "mongo_answers",
    "open_store",
]

Doc = dict[str, Any]
INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "videos": [[("crawl.last", 1)]],
    "comments": [[("vid", 1)]],
    "snapshots": [[("vid", 1), ("ts", 1)]],
    "frontier": [[("job", 1), ("state", 1), *CLAIM_SORT]],
    "runs": [[("job", 1), ("started", -1)]],
    "schedule": [[("job", 1), ("state", 1), *SCHEDULE_SORT]],
}


class Store(Protocol):
    """Where a crawl keeps what it finds. Use it as ``async with open_store(...) as store``.

    Datetimes are timezone-aware UTC going in and coming out, at millisecond precision
    (MongoDB's). Every failure is a ``StoreError``.
    """

    kind: str  # "mongodb" | "dir"
    description: str  # where the data lives, for messages; never a password

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def save_video(self, video: Video) -> None:
        """Upsert; static fields and ``crawl.first`` stay as the first crawl left them."""

    async def save_comments(self, comments: Sequence[Comment]) -> None:
        """Upsert top-level comments (replies nested); a re-crawl replaces each document."""

    async def add_snapshot(self, snap: Snapshot, *, visit_id: str | None = None) -> None:
        """Upsert under ``visit_id`` (default ``vid:run_id``), so a redone visit is one."""

    async def get_video(self, vid: str) -> Video | None: ...

    async def start_run(self, run: RunRecord) -> None: ...

    async def update_run(self, run: RunRecord) -> None: ...

    async def latest_run(self, job: str) -> RunRecord | None:
        """The run of ``job`` that started last."""

    async def frontier_add(self, items: Sequence[FrontierItem]) -> int:
        """Insert the items not yet known (known ones keep their state); returns how many."""

    async def frontier_claim(
        self, job: str, *, worker: str, lease_s: float, kind: str | None = None, limit: int = 1
    ) -> list[FrontierItem]:
        """Atomically take up to ``limit`` pending (or lease-expired) items.

        Highest priority first, then insertion order; each taken item's ``attempts``
        counts one more claim.
        """

    async def frontier_finish(
        self, item_id: str, *, state: Literal["done", "failed"], error: str | None = None
    ) -> None: ...

    async def frontier_release(self, item_id: str) -> None:
        """Put a claimed item back to pending (its ``attempts`` is kept)."""

    async def frontier_release_claimed(self, job: str) -> int:
        """Every claimed item of ``job`` back to pending (resuming after a crash)."""

    async def frontier_counts(self, job: str, *, kind: str | None = None) -> dict[str, int]:
        """Items of ``job`` (of one ``kind``) by state, every state present (zeros included)."""

    async def frontier_retry_failed(self, job: str) -> int:
        """Failed items of ``job`` back to pending with ``attempts`` 0; returns how many."""

    async def frontier_renew(self, item_id: str, *, worker: str, lease_s: float) -> bool:
        """Extend ``worker``'s lease on a claimed item; False if the claim is no longer its."""

    async def schedule_add(self, entries: Sequence[ScheduleEntry]) -> int:
        """Insert unknown entries; known ones keep their schedule and take the new ``card``.

        Returns how many were new.
        """

    async def schedule_claim(
        self, job: str, *, due_by: datetime, worker: str, lease_s: float, limit: int = 1
    ) -> list[ScheduleEntry]:
        """Atomically take up to ``limit`` entries of ``job`` due at ``due_by``, most overdue
        first: pending ones, or claimed ones whose lease lapsed (by the wall clock)."""

    async def schedule_renew(self, entry_id: str, *, worker: str, lease_s: float) -> bool:
        """Extend ``worker``'s lease on an entry; False if the claim is no longer its."""

    async def schedule_finish(
        self, entry_id: str, *, worker: str, due: datetime, changes: Mapping[str, Any]
    ) -> bool:
        """End the visit ``due`` that ``worker`` holds: apply ``changes`` (the next ``due``,
        tier, observations…), free the entry, count the visit. False (and nothing written)
        if another worker took the entry over or already finished that visit."""

    async def schedule_release(self, entry_id: str, *, worker: str) -> None:
        """Give back an entry ``worker`` holds, unvisited (its ``due`` is kept)."""

    async def schedule_move(
        self, entry_id: str, *, was: datetime, due: datetime, tier: str
    ) -> bool:
        """Move a pending entry's visit from ``was`` to ``due`` in ``tier`` (tiers were
        redefined); False if it was claimed or rescheduled meanwhile."""

    def iter_docs(self, collection: str) -> AsyncIterator[Doc]:
        """Every document of a collection as a plain dict (with ``_id``), by ``_id``."""

    async def count(self, collection: str, filter_eq: Mapping[str, Any] | None = None) -> int:
        """Documents whose fields (dotted paths allowed) equal ``filter_eq``'s values."""

    async def save_doc(self, collection: str, doc_id: DocId, doc: Mapping[str, Any]) -> None:
        """Insert or replace one document of any collection."""

    async def get_doc(self, collection: str, doc_id: DocId) -> Doc | None: ...

    async def find_docs(self, collection: str, filter_eq: Mapping[str, Any]) -> list[Doc]: ...


def open_store(
    target: str, *, database_default: str = "scraper", connect_timeout_s: float = 2.0
) -> Store:
    """A MongoDB URI gives a ``MongoStore``; anything else is a directory for a ``DirStore``."""
    if target.startswith(("mongodb://", "mongodb+srv://")):
        return MongoStore(
            target, database_default=database_default, connect_timeout_s=connect_timeout_s
        )
    return DirStore(Path(target))


async def mongo_answers(uri: str, *, timeout_s: float = 2.0) -> bool:
    """Whether a MongoDB server answers a ping at ``uri`` within ``timeout_s``."""
    client: AsyncIOMotorClient[Doc] | None = None
    try:
        client = _new_client(uri, timeout_s)
        await client["admin"].command("ping")
    except (PyMongoError, BSONError):  # handled: a probe; no answer means no
        return False
    finally:
        if client is not None:
            client.close()
    return True


def describe_uri(uri: str, database_default: str) -> tuple[str, str]:
    """``(uri without credentials or options, database name)``, parsed as pymongo does."""
    scheme, _, rest = uri.partition("://")
    host_and_db = rest.partition("?")[0]
    hosts, _, database = host_and_db.partition("/")
    hosts = hosts.rpartition("@")[2]
    database = unquote_plus(database).partition(".")[0] or database_default
    return f"{scheme}://{hosts}/{database}", database


def one_line(exc: BaseException) -> str:
    """pymongo's message without its topology dump, on one line."""
    text = str(exc).split(", Timeout: ")[0]
    text = re.sub(r" \(configured timeouts: [^)]*\)", "", text)
    text = " ".join(text.split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _new_client(uri: str, timeout_s: float) -> AsyncIOMotorClient[Doc]:
    ms = max(1, int(timeout_s * 1000))
    return AsyncIOMotorClient(uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, tz_aware=True)


def aware(doc: Mapping[str, Any]) -> Doc:
    """The document with its datetimes aware UTC (a client without ``tz_aware`` gives naive)."""
    return {key: _aware(value) for key, value in doc.items()}


def _aware(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, Mapping):
        return aware(value)
    if isinstance(value, list):
        return [_aware(item) for item in value]
    return value


class MongoStore:
    """The store in a MongoDB database (the URI's, else ``database_default``).

    ``client`` is the test seam: a ``mongomock_motor.AsyncMongoMockClient`` runs the
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
        try:
            if self._client is None:
                self._client = _new_client(self._uri, self._timeout_s)
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
        # One round trip each: mongomock's bulk_write does not take pymongo 4.9+ requests.
        for comment in comments:
            await self._replace("comments", comment_doc(comment))

    async def add_snapshot(self, snap: Snapshot, *, visit_id: str | None = None) -> None:
        await self._replace("snapshots", snapshot_doc(snap, visit_id))

    async def get_video(self, vid: str) -> Video | None:
        doc = await self.get_doc("videos", vid)
        return None if doc is None else from_doc(Video, doc)

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
        col = await self._col("frontier")
        added = 0
        for item in items:
            with self._errors("adding to the frontier"):
                try:
                    result = await col.update_one(
                        {"_id": item.id}, frontier_insert(item), upsert=True
                    )
                except DuplicateKeyError:  # handled: another process added it first
                    continue  # another process inserted it between our match and insert
            added += result.upserted_id is not None
        return added

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
        col = await self._col("schedule")
        added = 0
        for entry in entries:
            with self._errors("adding to the schedule"):
                try:
                    result = await col.update_one(
                        {"_id": entry.id}, schedule_insert(entry), upsert=True
                    )
                except DuplicateKeyError:  # handled: another process added it first
                    continue  # it exists now; its card is refreshed on the next catalogue read
            added += result.upserted_id is not None
        return added

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

    async def _update_one(self, collection: str, query: Doc, update: Update) -> bool:
        col = await self._col(collection)
        with self._errors(f"updating {collection}"):
            result = await col.update_one(query, update)
        return result.matched_count > 0

    async def iter_docs(self, collection: str) -> AsyncIterator[Doc]:
        col = await self._col(collection)
        with self._errors(f"reading {collection}"):
            async for doc in col.find({}).sort("_id", 1):
                yield aware(doc)

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
