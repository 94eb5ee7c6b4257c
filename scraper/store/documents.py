"""The documents both stores write, and the updates that say what each write means.

The builders here (``video_update``, ``claim_update``, ...) are MongoDB's update and
query language: ``MongoStore`` (``mongo.py``) sends them to the server and
``SqliteStore`` (``sqlite.py``) applies them to dicts with ``dict_language`` (re-exported
here). So the merge rules (static video fields kept from the first crawl, frontier
leases) are written once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
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
from .dict_language import Doc, DocId, Update, apply_update, get_path, matches, sort_docs

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
