"""What ``scrape export --vid/--since/--until/--category`` keep, as one store query.

Each collection says, in ``FIELDS``, which of its fields holds the video id, the time that
``--since``/``--until`` compare and the id of the run that crawled it (which names the
catalogue category). A collection without a category field is narrowed to the videos of
that category; a filter on a field the collection lacks is an error. The query is
MongoDB's language (``find_page``'s), so both stores do the filtering, never Python after
reading everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import ConfigError
from .base import Store

__all__ = [
    "FIELDS", "ExportFilter", "Fields", "category_query", "category_runs", "export_query",
]


@dataclass(frozen=True, slots=True)
class Fields:
    """A collection's fields that the export filters read (None: it has no such field)."""

    time: str | None
    vid: str | None
    run: str | None = None  # the run that crawled it: its category is the catalogue's


_CRAWLED_BY = "crawl.run_id"  # a video's: the run that crawled it last
FIELDS: dict[str, Fields] = {
    "videos": Fields(time="crawl.last", vid="_id", run=_CRAWLED_BY),  # _id is the vid
    "comments": Fields(time="time", vid="vid"),
    "snapshots": Fields(time="ts", vid="vid"),
    "channels": Fields(time="last_visit", vid=None),
    "channel_snapshots": Fields(time="ts", vid=None),
}


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Keep documents of these videos, timed in [since, until), of this catalogue category."""

    vids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    category: str | None = None


async def export_query(store: Store, collection: str, keep: ExportFilter) -> dict[str, Any]:
    """The store query for ``keep`` on ``collection`` (``{}`` keeps everything)."""
    fields = FIELDS[collection]
    query: dict[str, Any] = {}
    if keep.vids:
        query[_need(fields.vid, "--vid", collection)] = {
            "$in": sorted({vid.rstrip("=") for vid in keep.vids})}
    if keep.since or keep.until:
        bounds = {"$gte": keep.since, "$lt": keep.until}
        query[_need(fields.time, "--since/--until", collection)] = {
            op: at for op, at in bounds.items() if at is not None}
    if keep.category:
        of_category = await _videos_of(store, keep.category)
        vid_path = _need(fields.vid, "--category", collection)
        chosen = query.get(vid_path, {}).get("$in", of_category)
        query[vid_path] = {"$in": sorted(set(chosen) & set(of_category))}
    return query


def category_query(category: str, runs: list[str]) -> dict[str, Any]:
    """The videos seen in ``category``'s catalogue, as a ``videos`` query: those whose
    ``lists`` name it, and those stored before lists were kept (none) whose crawling run,
    one of ``runs``, read it. (A run of several lists reads each; its videos say in
    ``lists`` which they were seen in, and a video crawled again by another category's
    run keeps the lists it was seen in before.)"""
    crawled_by = {_CRAWLED_BY: {"$in": runs}}
    return {"$or": [{"lists": {"$elemMatch": {"$eq": f"category:{category}"}}},
                    {"lists": None, **crawled_by}, {"lists": [], **crawled_by}]}


async def _videos_of(store: Store, category: str) -> list[str]:
    runs = await _runs_of(store, category)
    return [str(vid) for vid in
            await store.distinct("videos", "_id", category_query(category, runs))]


async def _runs_of(store: Store, category: str) -> list[str]:
    """The runs and monitor jobs that crawled ``category``; a category none crawled is a
    typo until proven otherwise: an error naming the ones crawled."""
    crawled = await category_runs(store)
    if category not in crawled:
        raise ConfigError(f"--category {category!r}: no run crawled it into "
                          f"{store.description} (crawled: {', '.join(crawled) or 'none'})")
    return crawled[category]


def _need(path: str | None, flag: str, collection: str) -> str:
    if path is None:
        raise ConfigError(f"{flag} does not apply to {collection}")
    return path


async def category_runs(store: Store) -> dict[str, list[str]]:
    """Catalogue category -> ids of the runs and monitor jobs that crawled it."""
    found: dict[str, set[str]] = {}
    for collection in ("runs", "monitors"):
        for doc in await store.find_page(collection, {}):
            for label in doc["category"].split("+"):  # several lists: "today-hot+military"
                found.setdefault(label, set()).add(doc["_id"])
    return {category: sorted(ids) for category, ids in sorted(found.items())}
