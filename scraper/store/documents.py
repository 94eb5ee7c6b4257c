"""The documents both stores write, and the update language they share.

Both stores speak MongoDB's update language: the builders here (``video_update``,
``claim_update``, ...) say once what a write means; ``MongoStore`` (``mongo.py``) sends
them to the server and ``SqliteStore`` (``sqlite.py``) applies them with ``apply_update``
(``$set``, ``$setOnInsert``, ``$inc``, ``$addToSet``), ``matches`` (equality, ``$lt``,
``$lte``, ``$gt``, ``$gte``, ``$in``, ``$regex``, ``$or``) and ``sort_docs``: only what the
builders and the dashboard's reads use, and any other operator is an error rather than a
silent mismatch.
So the merge rules (static video fields kept from the first crawl, frontier leases) are
written once.
"""

from __future__ import annotations

import copy
import operator
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel

from ..models import (
    DYNAMIC_VIDEO_FIELDS,
    STATIC_VIDEO_FIELDS,
    Channel,
    ChannelSnapshot,
    Comment,
    FrontierItem,
    RunRecord,
    ScheduleEntry,
    Snapshot,
    Video,
)

__all__ = [
    "CLAIM_SORT",
    "FRONTIER_STATES",
    "RELEASE_UPDATE",
    "RETRY_UPDATE",
    "SCHEDULE_SORT",
    "SEQ",
    "Doc",
    "DocId",
    "Update",
    "apply_update",
    "channel_snapshot_doc",
    "channel_update",
    "check_collection",
    "claim_query",
    "claim_update",
    "comment_doc",
    "fill_missing",
    "finish_update",
    "from_doc",
    "frontier_insert",
    "get_path",
    "held_query",
    "job_query",
    "keyed",
    "lists_update",
    "matches",
    "misfit",
    "misfit_query",
    "move_update",
    "next_seq",
    "renew_update",
    "run_doc",
    "schedule_claim_query",
    "schedule_finish_update",
    "schedule_insert",
    "snapshot_doc",
    "sort_docs",
    "utc_now",
    "video_update",
]

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
    if doc["published"] is not None:  # else a list that shows no date: keep the stored one
        latest["published"] = doc["published"]
    update: Update = {"$setOnInsert": on_insert, "$set": latest}
    return update | lists_update("lists", doc["lists"])


def lists_update(path: str, lists: Sequence[str]) -> Update:
    """Add ``lists`` to the array at ``path`` (each once; what was there stays; an empty
    array where there was none)."""
    return {"$addToSet": {path: {"$each": list(dict.fromkeys(lists))}}}


def fill_missing(doc_id: DocId, path: str, value: Any) -> tuple[Doc, Update]:
    """The query and update that set ``path`` only where it is missing or null."""
    return {"_id": doc_id, path: None}, {"$set": {path: value}}


def channel_update(channel: Channel) -> Update:
    """``first_visit`` on insert only; the name, avatar and figures follow the latest visit."""
    doc = channel.model_dump()
    first = doc.pop("first_visit")
    return {"$setOnInsert": {"first_visit": first},
            "$set": {k: v for k, v in doc.items()}}


def channel_snapshot_doc(snap: ChannelSnapshot, visit_id: str | None) -> Doc:
    """``_id`` ``uid:run_id`` by default, so a redone visit of a run is one snapshot."""
    return {"_id": visit_id or f"{snap.uid}:{snap.run_id}", **snap.model_dump()}


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
    """A new entry as given; a known one keeps its schedule and takes the newer card,
    whose ``lists`` add to those the entry's card had (a video seen in several lists)."""
    doc = entry.model_dump()
    card = {f"card.{k}": v for k, v in doc["card"].items() if k != "lists"}
    update: Update = {"$setOnInsert": {k: v for k, v in doc.items() if k != "card"}}
    if card:
        update["$set"] = card
    return update | lists_update("card.lists", doc["card"].get("lists") or [])


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


def get_path(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of ``doc``, None where there is none."""
    value = _get(doc, path)
    return None if value is _MISSING else value


def _put(doc: Doc, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def apply_update(doc: Doc | None, doc_id: DocId, update: Update) -> Doc:
    """The document after ``update`` (an upsert when ``doc`` is None); ``doc`` is untouched."""
    new = {"_id": doc_id} if doc is None else _copied(doc)
    for op, fields in update.items():
        if op == "$setOnInsert" and doc is not None:
            continue
        if op not in ("$set", "$setOnInsert", "$inc", "$addToSet"):
            raise ValueError(f"unsupported update operator {op}")
        for path, value in fields.items():
            if op == "$addToSet":
                value = _added(_get(new, path), value)
            elif op == "$inc":
                current = _get(new, path)
                value = (0 if current is _MISSING else current) + value
            _put(new, path, _copied(value))
    return new


_IMMUTABLE = (str, int, float, datetime, bytes, type(None))  # shared by copies, never changed


def _copied(value: Any) -> Any:
    """``copy.deepcopy`` of document data, a few times faster: plain dicts and lists are
    rebuilt, immutable values shared, anything else deep-copied."""
    if type(value) is dict:
        return {key: _copied(item) for key, item in value.items()}
    if type(value) is list:
        return [_copied(item) for item in value]
    return value if isinstance(value, _IMMUTABLE) else copy.deepcopy(value)


def _added(current: Any, operand: Any) -> list[Any]:
    """``$addToSet`` (with or without ``$each``): the array with the new values appended."""
    values = operand["$each"] if isinstance(operand, Mapping) else [operand]
    array = [] if current is _MISSING or current is None else list(current)
    return array + [v for i, v in enumerate(values) if v not in array and v not in values[:i]]


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """MongoDB's answer for ``doc`` against a query of equalities, comparisons (``$lt``,
    ``$lte``, ``$gt``, ``$gte``), ``$in``, ``$regex`` (with ``$options`` ``i``) and ``$or``.

    Any other operator raises ``ValueError``: read as an equality it would match nothing.
    """
    for key, cond in query.items():
        if key == "$or":
            if not any(matches(doc, branch) for branch in cond):
                return False
        elif key.startswith("$"):
            raise ValueError(f"unsupported query operator {key}")
        elif isinstance(cond, Mapping) and any(str(op).startswith("$") for op in cond):
            if not _meets(_get(doc, key), cond):
                return False
        else:
            value = _get(doc, key)
            if not _equal(None if value is _MISSING else value, cond):
                return False
    return True


def _equal(value: Any, wanted: Any) -> bool:
    """MongoDB's equality: as Python's, except that a bool never equals a number."""
    return value == wanted and isinstance(value, bool) == isinstance(wanted, bool)


def _meets(value: Any, cond: Mapping[str, Any]) -> bool:
    """Whether a field's ``value`` meets every operator of ``cond``."""
    value = None if value is _MISSING else value
    for op, operand in cond.items():
        if op == "$in":
            if not any(_equal(value, choice) for choice in operand):
                return False
        elif op == "$regex":
            flags = re.IGNORECASE if "i" in cond.get("$options", "") else 0
            if not isinstance(value, str) or not re.search(operand, value, flags):
                return False
        elif op in _COMPARE:
            if value is None or _rank(value) != _rank(operand) or not _COMPARE[op](value, operand):
                return False
        elif op != "$options":
            raise ValueError(f"unsupported query operator {op}")
    return True


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": operator.lt, "$lte": operator.le, "$gt": operator.gt, "$gte": operator.ge,
}


def _rank(value: Any) -> int:
    """MongoDB's order of types: missing and null, numbers, strings, objects, arrays, bools,
    dates."""
    if value is None or value is _MISSING:
        return 0
    if isinstance(value, bool):
        return 5
    if isinstance(value, int | float):
        return 1
    if isinstance(value, str):
        return 2
    if isinstance(value, Mapping):
        return 3
    if isinstance(value, list | tuple):
        return 4
    return 6


def sort_docs(docs: list[Doc], sort: Sequence[tuple[str, int]]) -> list[Doc]:
    """``docs`` in MongoDB's order for ``sort`` (``[(path, 1 | -1)]``), then by ``_id``;
    values of different types order by type, missing ones as null."""
    ordered = sorted(docs, key=lambda d: _sort_value(d["_id"]))
    for path, direction in reversed(sort):
        ordered.sort(key=lambda d: _sort_value(_get(d, path)), reverse=direction < 0)
    return ordered


def _sort_value(value: Any) -> tuple[int, Any]:
    rank = _rank(value)
    return (rank, value if rank in (1, 2, 5, 6) else None)


# What a document of a data collection needs to be read as its model: its required
# fields, by BSON type. MongoDB keeps any document; one that misses these is corrupt.
_REQUIRED: dict[str, dict[str, str]] = {
    "videos": {"vid": "string", "url": "string", "title": "string", "crawl.first": "date",
               "crawl.last": "date"},
    "comments": {"vid": "string", "id": "number", "time": "date", "content": "string"},
    "snapshots": {"vid": "string", "ts": "date", "run_id": "string"},
}


def misfit_query(collection: str) -> Doc | None:
    """A query for ``collection``'s documents that lack a required field or hold it with
    the wrong type (None: the collection has no model to fit)."""
    required = _REQUIRED.get(collection)
    if required is None:
        return None
    return {"$or": [{path: {"$not": {"$type": kind}}} for path, kind in required.items()]}


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "date": (datetime,), "number": (int, float)}


def misfit(doc: Mapping[str, Any], collection: str) -> str | None:
    """What makes ``doc`` match ``misfit_query(collection)``: its first required field that
    is missing or of the wrong type (None: it fits, or the collection has no model)."""
    for path, kind in _REQUIRED.get(collection, {}).items():
        value = get_path(doc, path)
        if not isinstance(value, _PYTHON_TYPES[kind]) or isinstance(value, bool):
            return f"{path} is {'missing' if value is None else type(value).__name__}"
    return None
