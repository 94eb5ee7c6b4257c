"""``DirStore``, the embedded store that needs no server.

It applies the same MongoDB update documents ``MongoStore`` sends (built in
``store_docs.py``) to its dicts, with ``apply_update`` and ``matches``.

``DirStore`` keeps one JSON file per document, ``<dir>/<collection>/<id>.json``
(``bson.json_util``, relaxed, so datetimes come back as datetimes), written atomically
(temporary file, fsync, rename). Each collection is read into memory on first use and
written through. An exclusive ``flock`` on ``<dir>/.lock`` keeps a second process out.
"""

from __future__ import annotations

import asyncio
import copy
import fcntl
import os
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

from bson import json_util
from bson.errors import BSONError

from ..errors import StoreError
from ..models import Comment, FrontierItem, RunRecord, ScheduleEntry, Snapshot, Video
from .documents import (
    CLAIM_SORT,
    FRONTIER_STATES,
    RELEASE_UPDATE,
    RETRY_UPDATE,
    SCHEDULE_SORT,
    Doc,
    DocId,
    Update,
    apply_update,
    check_collection,
    claim_query,
    claim_update,
    comment_doc,
    finish_update,
    from_doc,
    frontier_insert,
    get_path,
    held_query,
    job_query,
    keyed,
    matches,
    move_update,
    renew_update,
    run_doc,
    schedule_claim_query,
    schedule_finish_update,
    schedule_insert,
    snapshot_doc,
    sort_docs,
    utc_now,
    video_update,
)

__all__ = ["DirStore"]


# --- files ---------------------------------------------------------------------------------

_JSON = json_util.JSONOptions(json_mode=json_util.JSONMode.RELAXED, tz_aware=True, tzinfo=UTC)


def _filename(doc_id: DocId) -> str:
    """A file name unique to ``doc_id``: plain ids never contain ``~``, the others start with it."""
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int):
        raise TypeError(f"document ids are str or int, not {type(doc_id).__name__}")
    name = quote(doc_id, safe="").replace("~", "%7E") if isinstance(doc_id, str) else f"~i{doc_id}"
    if len(name) > 200:
        name = f"{name[:100]}~h{sha256(name.encode()).hexdigest()}"
    return f"{name}.json"


def _encode(doc: Doc) -> tuple[str, Doc]:
    """The file text and the document as it will read back (millisecond datetimes)."""
    text = json_util.dumps(doc, json_options=_JSON, ensure_ascii=False)
    return text, _decode(text)


def _decode(text: str) -> Doc:
    doc = json_util.loads(text, json_options=_JSON)
    if not isinstance(doc, dict) or "_id" not in doc:
        raise ValueError("not a document with an _id")
    return doc


def _read_collection(folder: Path) -> dict[DocId, Doc]:
    docs: dict[DocId, Doc] = {}
    if not folder.is_dir():
        return docs
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".json.tmp"):
            path.unlink()  # a write cut short; its previous version, if any, is intact
        elif path.name.endswith(".json"):
            try:
                doc = _decode(path.read_text(encoding="utf-8"))
                if _filename(doc["_id"]) != path.name:
                    raise ValueError(f"its _id {doc['_id']!r} belongs in another file")
            except (ValueError, TypeError, KeyError, BSONError) as exc:
                raise StoreError(f"corrupt store file {path}: {exc}") from exc
            docs[doc["_id"]] = doc
    return docs


def _write_files(folder: Path, files: Sequence[tuple[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files:
        tmp = folder / f"{name}.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / name)
    dir_fd = os.open(folder, os.O_RDONLY)  # make the renames themselves durable
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _lock(root: Path) -> int:
    """Create ``root`` and hold ``root/.lock``; BlockingIOError if another process holds it."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:
        os.close(fd)
        raise
    return fd


# --- the embedded store --------------------------------------------------------------------


class DirStore:
    """The store in a directory of JSON files, for one process at a time."""

    kind: str = "dir"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.description = str(self.path)
        self._lock_fd: int | None = None
        self._data: dict[str, dict[DocId, Doc]] = {}
        # One lock per collection: a frontier claim never waits behind a comment write.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def __aenter__(self) -> Self:
        try:
            self._lock_fd = await asyncio.to_thread(_lock, self.path)
        except BlockingIOError as exc:
            raise StoreError(
                f"store directory {self.path} is in use by another scrape process"
            ) from exc
        except OSError as exc:
            raise StoreError(f"cannot use store directory {self.path}: {exc}") from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            self._data.clear()
            os.close(fd)  # closing it releases the flock

    async def _docs(self, collection: str) -> dict[DocId, Doc]:
        """The collection in memory, read on first use; call it holding the collection's lock."""
        if self._lock_fd is None:
            raise StoreError(f"store {self.description} is not open (use 'async with')")
        if collection not in self._data:
            folder = self.path / check_collection(collection)
            try:
                self._data[collection] = await asyncio.to_thread(_read_collection, folder)
            except OSError as exc:
                raise StoreError(f"cannot read store directory {folder}: {exc}") from exc
        return self._data[collection]

    async def _write(self, collection: str, docs: Sequence[Doc]) -> list[Doc]:
        """Write ``docs`` through to disk, then to memory; returns them as stored."""
        if not docs:
            return []  # an idle claim poll touches no file
        try:
            encoded = [_encode(doc) for doc in docs]
        except (TypeError, ValueError, BSONError) as exc:
            raise StoreError(f"cannot store a document in {collection}: {exc}") from exc
        files = [(_filename(doc["_id"]), text) for text, doc in encoded]
        folder = self.path / collection
        try:
            await asyncio.to_thread(_write_files, folder, files)
        except OSError as exc:
            raise StoreError(f"cannot write to store directory {folder}: {exc}") from exc
        stored = self._data[collection]
        for _, doc in encoded:
            stored[doc["_id"]] = doc
        return [doc for _, doc in encoded]

    async def _replace(self, collection: str, docs: Sequence[Doc]) -> None:
        async with self._locks[collection]:
            await self._docs(collection)
            await self._write(collection, docs)

    async def save_video(self, video: Video) -> None:
        async with self._locks["videos"]:
            old = (await self._docs("videos")).get(video.vid)
            await self._write("videos", [apply_update(old, video.vid, video_update(video))])

    async def save_comments(self, comments: Sequence[Comment]) -> None:
        await self._replace("comments", [comment_doc(comment) for comment in comments])

    async def add_snapshot(self, snap: Snapshot, *, visit_id: str | None = None) -> None:
        await self._replace("snapshots", [snapshot_doc(snap, visit_id)])

    async def get_video(self, vid: str) -> Video | None:
        doc = await self.get_doc("videos", vid)
        return None if doc is None else from_doc(Video, doc)

    async def start_run(self, run: RunRecord) -> None:
        await self._replace("runs", [run_doc(run)])

    async def update_run(self, run: RunRecord) -> None:
        await self._replace("runs", [run_doc(run)])

    async def latest_run(self, job: str) -> RunRecord | None:
        runs = await self.find_docs("runs", {"job": job})
        return from_doc(RunRecord, max(runs, key=lambda d: d["started"])) if runs else None

    async def frontier_add(self, items: Sequence[FrontierItem]) -> int:
        async with self._locks["frontier"]:
            docs = await self._docs("frontier")
            new: dict[str, Doc] = {}
            for item in items:
                if item.id not in docs and item.id not in new:
                    new[item.id] = apply_update(None, item.id, frontier_insert(item))
            await self._write("frontier", list(new.values()))
        return len(new)

    async def frontier_claim(
        self, job: str, *, worker: str, lease_s: float, kind: str | None = None, limit: int = 1
    ) -> list[FrontierItem]:
        now = utc_now()
        query, update = claim_query(job, kind, now), claim_update(worker, lease_s, now)
        async with self._locks["frontier"]:
            docs = await self._docs("frontier")
            ready = [doc for doc in _candidates(docs, query) if matches(doc, query)]
            ready.sort(key=lambda d: tuple(d[f] * order for f, order in CLAIM_SORT))
            chosen = [apply_update(doc, doc["_id"], update) for doc in ready[:limit]]
            return [from_doc(FrontierItem, d) for d in await self._write("frontier", chosen)]

    async def frontier_finish(
        self, item_id: str, *, state: Literal["done", "failed"], error: str | None = None
    ) -> None:
        await self._update_where("frontier", {"_id": item_id}, finish_update(state, error))

    async def frontier_release(self, item_id: str) -> None:
        await self._update_where("frontier", {"_id": item_id}, RELEASE_UPDATE)

    async def frontier_release_claimed(self, job: str) -> int:
        query = job_query(job, state="claimed")
        return await self._update_where("frontier", query, RELEASE_UPDATE)

    async def frontier_counts(self, job: str, *, kind: str | None = None) -> dict[str, int]:
        docs = await self.find_docs("frontier", job_query(job, kind=kind))
        counts = Counter(doc["state"] for doc in docs)
        return {state: counts[state] for state in FRONTIER_STATES} | dict(counts)

    async def frontier_retry_failed(self, job: str) -> int:
        query = job_query(job, state="failed")
        return await self._update_where("frontier", query, RETRY_UPDATE)

    async def frontier_renew(self, item_id: str, *, worker: str, lease_s: float) -> bool:
        update = renew_update(lease_s, utc_now())
        return await self._update_where("frontier", held_query(item_id, worker), update) > 0

    async def schedule_add(self, entries: Sequence[ScheduleEntry]) -> int:
        async with self._locks["schedule"]:
            docs = await self._docs("schedule")
            changed: dict[str, Doc] = {}
            added = 0
            for entry in entries:
                old = changed.get(entry.id) or docs.get(entry.id)
                added += old is None
                new = apply_update(old, entry.id, schedule_insert(entry))
                if new != old:
                    changed[entry.id] = new
            await self._write("schedule", list(changed.values()))
        return added

    async def schedule_claim(
        self, job: str, *, due_by: datetime, worker: str, lease_s: float, limit: int = 1
    ) -> list[ScheduleEntry]:
        now = utc_now()
        query = schedule_claim_query(job, due_by=due_by, now=now)
        update = claim_update(worker, lease_s, now)
        async with self._locks["schedule"]:
            docs = await self._docs("schedule")
            ready = sorted((d for d in docs.values() if matches(d, query)),
                           key=lambda d: tuple(d[f] for f, _ in SCHEDULE_SORT))
            chosen = [apply_update(doc, doc["_id"], update) for doc in ready[:limit]]
            return [from_doc(ScheduleEntry, d) for d in await self._write("schedule", chosen)]

    async def schedule_renew(self, entry_id: str, *, worker: str, lease_s: float) -> bool:
        update = renew_update(lease_s, utc_now())
        return await self._update_where("schedule", held_query(entry_id, worker), update) > 0

    async def schedule_finish(
        self, entry_id: str, *, worker: str, due: datetime, changes: Mapping[str, Any]
    ) -> bool:
        query = held_query(entry_id, worker, due=due)
        return await self._update_where("schedule", query, schedule_finish_update(changes)) > 0

    async def schedule_release(self, entry_id: str, *, worker: str) -> None:
        await self._update_where("schedule", held_query(entry_id, worker), RELEASE_UPDATE)

    async def schedule_move(
        self, entry_id: str, *, was: datetime, due: datetime, tier: str
    ) -> bool:
        query = {"_id": entry_id, "state": "pending", "due": was}
        return await self._update_where("schedule", query, move_update(due, tier)) > 0

    async def _update_where(self, collection: str, query: Doc, update: Update) -> int:
        """Update (never insert) every document matching ``query``; returns how many."""
        async with self._locks[collection]:
            docs = await self._docs(collection)
            hits = [doc for doc in _candidates(docs, query) if matches(doc, query)]
            await self._write(collection, [apply_update(d, d["_id"], update) for d in hits])
        return len(hits)

    async def iter_docs(self, collection: str) -> AsyncIterator[Doc]:
        for doc in await self.find_docs(collection, {}):
            yield doc

    async def count(self, collection: str, filter_eq: Mapping[str, Any] | None = None) -> int:
        async with self._locks[collection]:
            docs = await self._docs(collection)
            return sum(matches(d, filter_eq) for d in docs.values()) if filter_eq else len(docs)

    async def save_doc(self, collection: str, doc_id: DocId, doc: Mapping[str, Any]) -> None:
        await self._replace(collection, [keyed(doc_id, doc)])

    async def get_doc(self, collection: str, doc_id: DocId) -> Doc | None:
        async with self._locks[collection]:
            doc = (await self._docs(collection)).get(doc_id)
        return None if doc is None else copy.deepcopy(doc)

    async def find_docs(self, collection: str, filter_eq: Mapping[str, Any]) -> list[Doc]:
        """Matching documents, copied, in MongoDB's ``_id`` order (numbers before strings)."""
        async with self._locks[collection]:
            docs = await self._docs(collection)
            hits = [copy.deepcopy(doc) for doc in docs.values() if matches(doc, filter_eq)]
        return sorted(hits, key=lambda d: (isinstance(d["_id"], str), d["_id"]))

    async def find_page(self, collection: str, query: Mapping[str, Any], *,
                        sort: Sequence[tuple[str, int]] = (), skip: int = 0,
                        limit: int | None = None) -> list[Doc]:
        async with self._locks[collection]:
            docs = await self._docs(collection)
            hits = sort_docs([d for d in _candidates(docs, query) if matches(d, query)], sort)
            return copy.deepcopy(hits[skip:skip + limit] if limit else hits[skip:])

    async def distinct(
        self, collection: str, field: str, query: Mapping[str, Any] | None = None
    ) -> list[Any]:
        async with self._locks[collection]:
            docs = await self._docs(collection)
            found = {get_path(doc, field) for doc in docs.values() if matches(doc, query or {})}
        return sorted(found - {None})


def _candidates(docs: Mapping[DocId, Doc], query: Mapping[str, Any]) -> Iterable[Doc]:
    """Documents that may match: one by ``_id``, or those of the queried job.

    The frontier holds every run's items; a claim or finish would otherwise run the
    general matcher over all of them, once per video.
    """
    doc_id = query.get("_id")
    if isinstance(doc_id, str | int):
        found = docs.get(doc_id)
        return [found] if found is not None else []
    job = query.get("job")
    if isinstance(job, str):
        return (doc for doc in docs.values() if doc.get("job") == job)
    return docs.values()
