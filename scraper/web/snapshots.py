"""What the dashboard derives from snapshots: views gained per hour and visits per hour.

A store may hold a million snapshots; ``SnapshotIndex`` reads them once, in pages by
time, then only the new ones on each refresh, and keeps per video the last two visits
(as the monitor's tiers do) and per hour how many visits there were.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..store.base import Store

__all__ = ["SnapshotIndex", "Visit", "growth_per_hour"]

# Writers stamp a snapshot when the visit started; one written a little late may carry a
# time earlier than the newest already read, so each refresh looks back this far.
_LOOK_BACK = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Visit:
    ts: datetime
    stat_play: int | None


def growth_per_hour(before: Visit, after: Visit) -> float | None:
    """Views gained per hour between two visits, None when either lacks a count."""
    hours = (after.ts - before.ts).total_seconds() / 3600
    if before.stat_play is None or after.stat_play is None or hours <= 0:
        return None
    return (after.stat_play - before.stat_play) / hours


class SnapshotIndex:
    """Per video its last two visits, per hour its visit count; ``refresh`` reads the new."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._last_two: dict[str, tuple[Visit, ...]] = {}
        self._seen: dict[str, datetime] = {}  # ids read at or after (newest - look-back)
        self._newest: datetime | None = None
        self._count = -1
        self.per_hour: Counter[datetime] = Counter()
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Read the snapshots written since the last refresh (all of them the first time)."""
        async with self._lock:
            count = await self._store.count("snapshots")
            if count == self._count:
                return  # nothing new (a redone visit, rewritten in place, waits for the next)
            self._count = count
            since = {} if self._newest is None else {"ts": {"$gte": self._newest - _LOOK_BACK}}
            for doc in await self._store.find_page("snapshots", since, sort=[("ts", 1)]):
                if doc["_id"] not in self._seen:
                    self._add(doc)
            self._forget_old()

    def _add(self, doc: dict[str, Any]) -> None:
        ts: datetime = doc["ts"]
        self._seen[doc["_id"]] = ts
        self._newest = ts if self._newest is None else max(self._newest, ts)
        self.per_hour[ts.replace(minute=0, second=0, microsecond=0)] += 1
        visits = (*self._last_two.get(doc["vid"], ()), Visit(ts, doc.get("stat_play")))
        self._last_two[doc["vid"]] = tuple(sorted(visits, key=lambda v: v.ts)[-2:])

    def _forget_old(self) -> None:
        if self._newest is not None:
            horizon = self._newest - _LOOK_BACK
            self._seen = {k: ts for k, ts in self._seen.items() if ts >= horizon}

    def growth(self, vid: str) -> float | None:
        """Views gained per hour between the video's last two visits."""
        visits = self._last_two.get(vid, ())
        return growth_per_hour(*visits) if len(visits) == 2 else None
