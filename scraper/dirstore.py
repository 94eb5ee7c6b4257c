"""The documents both stores write, and ``DirStore``, the embedded store that needs no server.

Both stores speak MongoDB's update language: the builders here (``video_update``,
``claim_update``, ...) say once what a write means; ``MongoStore`` sends them to the
server and ``DirStore`` applies them with ``apply_update`` (``$set``, ``$setOnInsert``,
``$inc``) and ``matches`` (equality, ``$lt``, ``$lte``, ``$or``): only what the builders use.

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
import re
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, get_args
from urllib.parse import quote

from bson import json_util
from bson.errors import BSONError
from pydantic import BaseModel

from .errors import StoreError
from .models import (
    DYNAMIC_VIDEO_FIELDS,
    STATIC_VIDEO_FIELDS,
    Comment,
    FrontierItem,
    RunRecord,
    ScheduleEntry,
    Snapshot,
    Video,
)

__all__ = ["FRONTIER_STATES", "DirStore", "DocId"]

DocId = str | int
Doc = dict[str, Any]
Update = dict[str, dict[str, Any]]
_M = TypeVar("_M", bound=BaseModel)

FRONTIER_STATES: tuple[str, ...] = get_args(FrontierItem.model_fields["state"].annotation)
SEQ = "seq"  # storage-only field of frontier documents: insertion order, claim tie-breaker
CLAIM_SORT: list[tuple[str, int]] = [("priority", -1), (SEQ, 1)]
SCHEDULE_SORT: list[tuple[str, int]] = [("due", 1), ("_id", 1)]  # the most overdue first
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")


# --- documents and updates, shared by both stores ------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def video_update(video: Video) -> Update:
    """Static fields and ``crawl.first`` on insert only; the rest follows the latest visit."""
    doc = video.model_dump()
    crawl = doc.pop("crawl")
    on_insert = {name: doc[name] for name in sorted(STATIC_VIDEO_FIELDS)}
    on_insert |= {"vid": video.vid, "crawl.first": crawl.pop("first")}
    latest = {name: doc[name] for name in sorted(DYNAMIC_VIDEO_FIELDS)}
    latest |= {f"crawl.{name}": value for name, value in crawl.items()}
    return {"$setOnInsert": on_insert, "$set": latest}


def comment_doc(comment: Comment) -> Doc:
    return {"_id": comment.id, **comment.model_dump()}


def snapshot_doc(snap: Snapshot, visit_id: str | None) -> Doc:
    return {"_id": visit_id or f"{snap.vid}:{snap.run_id}", **snap.model_dump()}


def run_doc(run: RunRecord) -> Doc:
    return {"_id": run.run_id, **run.model_dump()}


def keyed(doc_id: DocId, doc: Mapping[str, Any]) -> Doc:
    """``doc`` with ``_id`` first."""
    return {"_id": doc_id, **{k: v for k, v in doc.items() if k != "_id"}}


def frontier_insert(item: FrontierItem) -> Update:
    return {"$setOnInsert": {**item.model_dump(), SEQ: next_seq()}}


def claim_query(job: str, kind: str | None, now: datetime) -> Doc:
    query: Doc = {
        "job": job,
        "$or": [{"state": "pending"}, {"state": "claimed", "lease_until": {"$lt": now}}],
    }
    if kind is not None:
        query["kind"] = kind
    return query


def claim_update(worker: str, lease_s: float, now: datetime) -> Update:
    lease_until = now + timedelta(seconds=lease_s)
    return {
        "$set": {"state": "claimed", "worker": worker, "lease_until": lease_until},
        "$inc": {"attempts": 1},
    }


def finish_update(state: Literal["done", "failed"], error: str | None) -> Update:
    return {"$set": {"state": state, "error": error, "lease_until": None}}


RELEASE_UPDATE: Update = {"$set": {"state": "pending", "worker": None, "lease_until": None}}
RETRY_UPDATE: Update = {
    "$set": {"state": "pending", "error": None, "worker": None, "lease_until": None, "attempts": 0}
}


def held_query(doc_id: str, worker: str, **fields: Any) -> Doc:
    """The claimed document ``doc_id``, if ``worker`` still holds it (and ``fields`` match)."""
    return {"_id": doc_id, "state": "claimed", "worker": worker, **fields}


def renew_update(lease_s: float, now: datetime) -> Update:
    return {"$set": {"lease_until": now + timedelta(seconds=lease_s)}}


def schedule_insert(entry: ScheduleEntry) -> Update:
    """A new entry as given; a known one keeps its schedule and takes the newer card."""
    doc = entry.model_dump()
    return {"$setOnInsert": {k: v for k, v in doc.items() if k != "card"},
            "$set": {"card": doc["card"]}}


def schedule_claim_query(job: str, *, due_by: datetime, now: datetime) -> Doc:
    return {
        "job": job,
        "due": {"$lte": due_by},
        "$or": [{"state": "pending"}, {"state": "claimed", "lease_until": {"$lt": now}}],
    }


def schedule_finish_update(changes: Mapping[str, Any]) -> Update:
    """The visit is over: the entry takes its next ``due`` (in ``changes``) and is free."""
    free = {"state": "pending", "worker": None, "lease_until": None, "attempts": 0}
    return {"$set": {**changes, **free}, "$inc": {"visits": 1}}


def move_update(due: datetime, tier: str) -> Update:
    return {"$set": {"due": due, "tier": tier}}


def job_query(job: str, *, kind: str | None = None, state: str | None = None) -> Doc:
    optional = {"kind": kind, "state": state}
    return {"job": job} | {key: value for key, value in optional.items() if value is not None}


def from_doc(model: type[_M], doc: Mapping[str, Any]) -> _M:
    """Validate a stored document, leaving out storage-only keys (``_id``, ``seq``)."""
    return model.model_validate({k: v for k, v in doc.items() if k in model.model_fields})


def check_collection(name: str) -> str:
    if not _COLLECTION_NAME.fullmatch(name):
        raise ValueError(f"bad collection name {name!r}")
    return name


_last_seq = 0


def next_seq() -> int:
    """Nanoseconds since the epoch, strictly increasing within this process."""
    global _last_seq
    _last_seq = max(time.time_ns(), _last_seq + 1)
    return _last_seq


# --- the update language, applied to dicts -------------------------------------------------

_MISSING: Any = object()


def _get(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _put(doc: Doc, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def apply_update(doc: Doc | None, doc_id: DocId, update: Update) -> Doc:
    """The document after ``update`` (an upsert when ``doc`` is None); ``doc`` is untouched."""
    new = {"_id": doc_id} if doc is None else copy.deepcopy(doc)
    for op, fields in update.items():
        if op == "$setOnInsert" and doc is not None:
            continue
        if op not in ("$set", "$setOnInsert", "$inc"):
            raise ValueError(f"unsupported update operator {op}")
        for path, value in fields.items():
            if op == "$inc":
                current = _get(new, path)
                value = (0 if current is _MISSING else current) + value
            _put(new, path, copy.deepcopy(value))
    return new


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """MongoDB's answer for ``doc`` against a query of equalities, ``$lt``, ``$lte``, ``$or``."""
    for key, cond in query.items():
        if key == "$or":
            if not any(matches(doc, branch) for branch in cond):
                return False
        elif isinstance(cond, Mapping) and cond and set(cond) <= {"$lt", "$lte"}:
            value = _get(doc, key)
            if value is _MISSING or value is None:
                return False
            if ("$lt" in cond and not value < cond["$lt"]) or (
                    "$lte" in cond and not value <= cond["$lte"]):
                return False
        else:
            value = _get(doc, key)
            if (None if value is _MISSING else value) != cond:
                return False
    return True


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
            return sum(matches(doc, filter_eq or {}) for doc in docs.values())

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
