"""``SqliteStore``, the embedded store: one SQLite file (WAL) that processes share.

It applies the same MongoDB update and query documents ``MongoStore`` sends (built in
``documents.py``) with ``apply_update`` and ``matches``; SQL only narrows what those read,
through the indexed columns of ``sqlite_schema.py``. So a claim, a save or a lookup reads
a handful of rows, and nothing holds a collection in memory.

Each call is one whole transaction (read, apply the update document, write) run as one
synchronous function on the store's own thread. That is why this is not aiosqlite: there
a transaction spans several awaits, and another coroutine on the same connection could
slip its statements into it; here no statement interleaves, and the event loop never
waits on the disk. Writes take SQLite's write lock up front (``BEGIN IMMEDIATE``), so a
claim is atomic across processes; a process that finds the lock held waits up to
``busy_timeout_s`` (30 s). A commit is in the write-ahead log before the call returns: ``kill
-9`` loses nothing committed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from bson.errors import BSONError

from ..errors import StoreError
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
from . import sqlite_ops as ops
from .base import OnCorrupt
from .dirstore_import import DirImport
from .documents import (
    FRONTIER_STATES,
    RELEASE_UPDATE,
    RETRY_UPDATE,
    Doc,
    DocId,
    Update,
    channel_snapshot_doc,
    channel_update,
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
    move_update,
    renew_update,
    run_doc,
    schedule_finish_update,
    schedule_insert,
    snapshot_doc,
    utc_now,
    video_update,
)
from .sqlite_schema import BUSY_TIMEOUT_S, open_file

__all__ = ["SqliteStore"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SqliteStore:
    """The store in the SQLite file ``path``; ``import_from``: a directory store whose
    documents a new file starts with (once, in the transaction that creates the file)."""

    kind: str = "sqlite"

    def __init__(
        self, path: Path | str, *, import_from: Path | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        self.path = Path(path)
        self.description = str(self.path)
        self._import_from = import_from
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def __aenter__(self) -> Self:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        try:
            with self._errors("opening it"):
                self._conn, imported = await self._on_thread(self._open)
        except BaseException:
            self._thread.shutdown(wait=False)
            self._thread = None
            raise
        if imported is not None:
            log.warning("imported %d documents of the directory store in %s into %s; its "
                        "files are left in place", imported, self._import_from, self.path)
        return self

    def _open(self) -> tuple[sqlite3.Connection, int | None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot use store directory {self.path.parent}: {exc}") from exc
        filler = DirImport(self._import_from) if self._import_from else None
        conn, created = open_file(self.path, fill=[filler] if filler else [],
                                  busy_timeout_s=self._busy_timeout_s)
        return conn, filler.count if created and filler else None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, thread, self._conn, self._thread = self._conn, self._thread, None, None
        if thread is None:
            return
        if conn is not None:
            await self._on_thread(conn.close, thread=thread)
        thread.shutdown(wait=False)

    async def _on_thread(
        self, fn: Callable[[], T], *, thread: ThreadPoolExecutor | None = None
    ) -> T:
        return await asyncio.get_running_loop().run_in_executor(thread or self._thread, fn)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) in _BUSY:
                raise StoreError(f"SQLite store {self.description} is busy: another process "
                                 f"held it for {self._busy_timeout_s:g}s ({action})") from exc
            raise StoreError(f"SQLite store {self.description}: {action} failed: {exc}") from exc
        except (BSONError, OverflowError) as exc:
            raise StoreError(f"cannot store a document in {self.description} ({action}): "
                             f"{exc}") from exc

    async def _read(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        conn = self._conn
        if conn is None:
            raise StoreError(f"store {self.description} is not open (use 'async with')")
        with self._errors(action):
            return await self._on_thread(partial(fn, conn, *args))

    async def _write(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        return await self._read(action, ops.in_write, fn, *args)

    # --- videos, comments, snapshots, runs ---------------------------------------------

    async def save_video(self, video: Video) -> None:
        await self._write("saving a video", ops.update_one, "videos", video.vid,
                          video_update(video))

    async def save_comments(self, comments: Sequence[Comment]) -> None:
        if comments:
            await self._write("saving comments", ops.put, "comments",
                              [comment_doc(comment) for comment in comments])

    async def add_snapshot(self, snap: Snapshot, *, visit_id: str | None = None) -> None:
        await self._write("adding a snapshot", ops.put, "snapshots",
                          [snapshot_doc(snap, visit_id)])

    async def get_video(self, vid: str) -> Video | None:
        doc = await self.get_doc("videos", vid)
        return None if doc is None else from_doc(Video, doc)

    async def save_channel(self, channel: Channel) -> None:
        await self._write("saving a channel", ops.update_one, "channels", channel.uid,
                          channel_update(channel))

    async def add_channel_snapshot(
        self, snap: ChannelSnapshot, *, visit_id: str | None = None
    ) -> None:
        await self._write("adding a channel snapshot", ops.put, "channel_snapshots",
                          [channel_snapshot_doc(snap, visit_id)])

    async def add_lists(
        self, collection: str, doc_id: str, path: str, lists: Sequence[str]
    ) -> bool:
        return await self._update(collection, {"_id": doc_id}, lists_update(path, lists)) > 0

    async def fill_missing(self, collection: str, doc_id: str, path: str, value: Any) -> bool:
        return await self._update(collection, *fill_missing(doc_id, path, value)) > 0

    async def start_run(self, run: RunRecord) -> None:
        await self._write("starting a run", ops.put, "runs", [run_doc(run)])

    async def update_run(self, run: RunRecord) -> None:
        await self._write("updating a run", ops.put, "runs", [run_doc(run)])

    async def latest_run(self, job: str) -> RunRecord | None:
        doc = await self._read("reading runs", ops.latest_run, job)
        return None if doc is None else from_doc(RunRecord, doc)

    # --- the frontier --------------------------------------------------------------------

    async def frontier_add(self, items: Sequence[FrontierItem]) -> int:
        docs = [ops.inserted(item.id, frontier_insert(item)) for item in items]
        return await self._write("adding to the frontier", ops.put_new, "frontier", docs)

    async def frontier_claim(
        self, job: str, *, worker: str, lease_s: float, kind: str | None = None, limit: int = 1
    ) -> list[FrontierItem]:
        now = utc_now()
        docs = await self._write("claiming from the frontier", ops.claim_frontier, job, kind,
                                 now, claim_update(worker, lease_s, now), limit)
        return [from_doc(FrontierItem, doc) for doc in docs]

    async def frontier_finish(
        self, item_id: str, *, state: Literal["done", "failed"], error: str | None = None
    ) -> None:
        await self._update("frontier", {"_id": item_id}, finish_update(state, error))

    async def frontier_release(self, item_id: str) -> None:
        await self._update("frontier", {"_id": item_id}, RELEASE_UPDATE)

    async def frontier_release_claimed(self, job: str) -> int:
        return await self._update("frontier", job_query(job, state="claimed"), RELEASE_UPDATE)

    async def frontier_counts(self, job: str, *, kind: str | None = None) -> dict[str, int]:
        counts = await self._read("counting the frontier", ops.count_by_state,
                                  job_query(job, kind=kind))
        return dict.fromkeys(FRONTIER_STATES, 0) | counts

    async def frontier_retry_failed(self, job: str) -> int:
        return await self._update("frontier", job_query(job, state="failed"), RETRY_UPDATE)

    async def frontier_renew(self, item_id: str, *, worker: str, lease_s: float) -> bool:
        update = renew_update(lease_s, utc_now())
        return await self._update("frontier", held_query(item_id, worker), update) > 0

    # --- the schedule ----------------------------------------------------------------------

    async def schedule_add(self, entries: Sequence[ScheduleEntry]) -> int:
        updates = [(entry.id, schedule_insert(entry)) for entry in entries]
        return await self._write("adding to the schedule", ops.schedule_add, updates)

    async def schedule_claim(
        self, job: str, *, due_by: datetime, worker: str, lease_s: float, limit: int = 1
    ) -> list[ScheduleEntry]:
        now = utc_now()
        docs = await self._write("claiming from the schedule", ops.claim_schedule, job,
                                 due_by, now, claim_update(worker, lease_s, now), limit)
        return [from_doc(ScheduleEntry, doc) for doc in docs]

    async def schedule_renew(self, entry_id: str, *, worker: str, lease_s: float) -> bool:
        update = renew_update(lease_s, utc_now())
        return await self._update("schedule", held_query(entry_id, worker), update) > 0

    async def schedule_finish(
        self, entry_id: str, *, worker: str, due: datetime, changes: Mapping[str, Any]
    ) -> bool:
        query = held_query(entry_id, worker, due=due)
        return await self._update("schedule", query, schedule_finish_update(changes)) > 0

    async def schedule_release(self, entry_id: str, *, worker: str) -> None:
        await self._update("schedule", held_query(entry_id, worker), RELEASE_UPDATE)

    async def schedule_move(
        self, entry_id: str, *, was: datetime, due: datetime, tier: str
    ) -> bool:
        query = {"_id": entry_id, "state": "pending", "due": was}
        return await self._update("schedule", query, move_update(due, tier)) > 0

    async def _update(self, collection: str, query: Doc, update: Update) -> int:
        """Update (never insert) every document matching ``query``; returns how many."""
        return await self._write(f"updating {collection}", ops.update_where, collection,
                                 query, update)

    # --- any collection ----------------------------------------------------------------------

    async def iter_docs(
        self, collection: str, query: Mapping[str, Any] | None = None, *,
        on_corrupt: OnCorrupt | None = None,
    ) -> AsyncIterator[Doc]:
        after: DocId | None = None
        while True:
            page = await self._read(f"reading {collection}", ops.page, collection, after,
                                    dict(query or {}))
            for doc_id, why in page.corrupt:
                if on_corrupt is None:
                    raise StoreError(f"{self.description}: document {doc_id!r} of "
                                     f"{collection} is corrupt: {why}")
                on_corrupt(doc_id, why)
            for doc in page.docs:
                yield doc
            if page.last is None:
                return
            after = page.last

    async def corrupt_docs(self, *, limit: int = 20) -> list[tuple[str, DocId, str]]:
        return await self._read("checking documents", ops.corrupt_docs, limit)

    async def count(self, collection: str, filter_eq: Mapping[str, Any] | None = None) -> int:
        return await self._read(f"counting {collection}", ops.count, collection,
                                dict(filter_eq or {}))

    async def save_doc(self, collection: str, doc_id: DocId, doc: Mapping[str, Any]) -> None:
        await self._write(f"writing to {collection}", ops.put, collection,
                          [keyed(doc_id, doc)])

    async def get_doc(self, collection: str, doc_id: DocId) -> Doc | None:
        return await self._read(f"reading {collection}", ops.get, collection, doc_id)

    async def find_docs(self, collection: str, filter_eq: Mapping[str, Any]) -> list[Doc]:
        return await self._read(f"reading {collection}", ops.find, collection,
                                dict(filter_eq))

    async def find_page(
        self, collection: str, query: Mapping[str, Any], *,
        sort: Sequence[tuple[str, int]] = (), skip: int = 0, limit: int | None = None,
    ) -> list[Doc]:
        return await self._read(f"reading {collection}", ops.find_page, collection,
                                dict(query), list(sort), skip, limit)

    async def distinct(
        self, collection: str, field: str, query: Mapping[str, Any] | None = None
    ) -> list[Any]:
        return await self._read(f"reading {collection}", ops.distinct, collection, field,
                                dict(query or {}))
