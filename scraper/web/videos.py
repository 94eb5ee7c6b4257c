"""The Videos table: filters and sort orders turned into one page of store reads.

Filtering, sorting by a stored field and paging happen in the store (``find_page``), so
a page of 100,000 videos costs one indexed query. Views gained per hour is not stored:
the matching ids are ordered by it here, from the ``SnapshotIndex``, and only the page's
documents are read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..store.base import Store
from ..store.documents import Doc
from ..store.filters import category_query, category_runs
from .snapshots import SnapshotIndex

__all__ = ["SORTS", "VideoFilters", "VideoPage", "category_runs", "video_page", "video_tiers"]

Sort = Literal["views", "growth", "comments", "last"]
# Sort name -> stored field (None: derived here).
SORTS: dict[str, str | None] = {
    "views": "stat_play", "growth": None, "comments": "comment_total", "last": "crawl.last",
}
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class VideoFilters:
    """What the Videos page was asked for; every field optional."""

    category: str = ""
    tag: str = ""
    channel: str = ""
    status: str = ""
    tier: str = ""
    q: str = ""
    sort: str = "views"
    order: str = "desc"
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> VideoFilters:
        """From URL parameters; unknown sorts and bad page numbers fall back to defaults."""
        page = query.get("page", "1")
        sort = query.get("sort", "views")
        return cls(
            **{name: query.get(name, "").strip()
               for name in ("category", "tag", "channel", "status", "tier", "q")},
            sort=sort if sort in SORTS else "views",
            order="asc" if query.get("order") == "asc" else "desc",
            page=int(page) if page.isdigit() and int(page) > 0 else 1,
        )


@dataclass(frozen=True, slots=True)
class VideoPage:
    rows: list[Doc]
    total: int
    filters: VideoFilters
    pages: int
    growth: dict[str, float | None] = field(default_factory=dict)
    tiers: dict[str, str] = field(default_factory=dict)


async def video_page(store: Store, index: SnapshotIndex, filters: VideoFilters, *,
                     page_size: int = PAGE_SIZE) -> VideoPage:
    """The page of videos ``filters`` ask for, with their growth and tier."""
    query = await _query(store, filters)
    skip = (filters.page - 1) * page_size
    if filters.sort == "growth":
        rows, total = await _by_growth(store, index, query, filters, skip, page_size)
    else:
        direction = 1 if filters.order == "asc" else -1
        sort = [(SORTS[filters.sort] or "stat_play", direction)]
        rows = await store.find_page("videos", query, sort=sort, skip=skip, limit=page_size)
        total = await store.count("videos", query)
    vids = [row["_id"] for row in rows]
    return VideoPage(rows=rows, total=total, filters=filters,
                     pages=max(1, -(-total // page_size)),
                     growth={vid: index.growth(vid) for vid in vids},
                     tiers=await video_tiers(store, vids))


async def _by_growth(store: Store, index: SnapshotIndex, query: dict[str, Any],
                     filters: VideoFilters, skip: int, size: int) -> tuple[list[Doc], int]:
    """Order every matching id by views gained per hour (unknown last), read the page."""
    ids = await store.distinct("videos", "_id", query)
    known = [vid for vid in ids if index.growth(vid) is not None]
    known.sort(key=lambda vid: index.growth(vid) or 0.0, reverse=filters.order == "desc")
    ordered = known + [vid for vid in ids if index.growth(vid) is None]
    chosen = ordered[skip:skip + size]
    docs = {d["_id"]: d for d in await store.find_page("videos", {"_id": {"$in": chosen}})}
    return [docs[vid] for vid in chosen if vid in docs], len(ids)


async def _query(store: Store, filters: VideoFilters) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for name, path in (("tag", "category"), ("channel", "channel_name"), ("status", "status")):
        if value := getattr(filters, name):
            query[path] = value
    if filters.q:
        query["title"] = {"$regex": re.escape(filters.q), "$options": "i"}
    if filters.category:
        runs = (await category_runs(store)).get(filters.category, [])
        query |= category_query(filters.category, runs)
    if filters.tier:
        entries = await store.find_page("schedule", {"kind": "video", "tier": filters.tier})
        query["_id"] = {"$in": sorted({entry["key"] for entry in entries})}
    return query


async def video_tiers(store: Store, vids: list[str]) -> dict[str, str]:
    """The monitor tier of each of ``vids`` that a monitor job follows."""
    entries = await store.find_page("schedule", {"kind": "video", "key": {"$in": vids}})
    return {entry["key"]: entry["tier"] for entry in entries}
