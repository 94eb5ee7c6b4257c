"""The Overview page's figures: runs, monitor jobs and tiers, failures, views, store size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..store.base import Store
from ..store.documents import Doc
from .snapshots import SnapshotIndex

__all__ = ["COLLECTIONS", "Overview", "TierRow", "overview", "store_version"]

COLLECTIONS = ("videos", "comments", "snapshots", "runs", "monitors", "schedule", "frontier")
_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class TierRow:
    job: str
    tier: str
    videos: int
    next_due: datetime | None
    failed: int


@dataclass(frozen=True, slots=True)
class Overview:
    runs: list[Doc]
    monitors: list[Doc]
    tiers: list[TierRow]
    statuses: dict[str, int]
    failed_videos: list[Doc]
    failed_visits: list[Doc]
    views: dict[str, int | None]  # min, median, max
    sizes: dict[str, int]
    per_hour: list[tuple[datetime, int]]


async def overview(store: Store, index: SnapshotIndex) -> Overview:
    """Everything the Overview page shows, read through the store."""
    await index.refresh()
    schedule = await store.find_page("schedule", {"kind": "video"})
    statuses = {status: await store.count("videos", {"status": status})
                for status in await store.distinct("videos", "status")}
    return Overview(
        runs=await store.find_page("runs", {}, sort=[("started", -1)]),
        monitors=await store.find_page("monitors", {}, sort=[("started", -1)]),
        tiers=_tiers(schedule),
        statuses=statuses,
        failed_videos=await store.find_page(
            "videos", {"status": {"$in": ["failed", "partial"]}}, sort=[("crawl.last", -1)],
            limit=_EXAMPLES),
        failed_visits=sorted((e for e in schedule if e.get("last_error")),
                             key=lambda e: e["last_visit"] or e["due"])[-_EXAMPLES:][::-1],
        views=await _views(store),
        sizes={name: await store.count(name) for name in COLLECTIONS},
        per_hour=sorted(index.per_hour.items()),
    )


def _tiers(schedule: list[Doc]) -> list[TierRow]:
    groups: dict[tuple[str, str], list[Doc]] = {}
    for entry in schedule:
        groups.setdefault((entry["job"], entry["tier"]), []).append(entry)
    return [
        TierRow(job=job, tier=tier, videos=len(group),
                next_due=min(entry["due"] for entry in group),
                failed=sum(bool(entry.get("last_error")) for entry in group))
        for (job, tier), group in sorted(groups.items())
    ]


async def _views(store: Store) -> dict[str, int | None]:
    """Minimum, median and maximum ``stat_play``, each one indexed read."""
    counted: dict[str, Any] = {"stat_play": {"$gte": 0}}
    n = await store.count("videos", counted)

    async def at(rank: int) -> int | None:
        if n == 0:
            return None
        docs = await store.find_page("videos", counted, sort=[("stat_play", 1)], skip=rank,
                                     limit=1)
        return int(docs[0]["stat_play"])

    return {"min": await at(0), "median": await at((n - 1) // 2), "max": await at(n - 1)}


async def store_version(store: Store) -> str:
    """Changes whenever a crawl or a monitor writes something the pages show."""
    counts = [await store.count(name) for name in ("videos", "snapshots", "comments", "runs")]
    latest = await store.find_page("runs", {}, sort=[("started", -1)], limit=1)
    run = latest[0] if latest else {}
    progress = sum(run.get("counters", {}).values())
    return ":".join(map(str, [*counts, run.get("status"), progress]))
