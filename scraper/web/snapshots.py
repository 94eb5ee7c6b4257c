"""What the dashboard derives from snapshots: views gained per hour and visits per hour.

A store may hold a million snapshots; ``SnapshotIndex`` reads them once, in pages by
time, then only the new ones on each refresh, and keeps per video the last two visits
(as the monitor's tiers do) and per hour how many visits there were.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
        self._hours: Counter[int] = Counter()  # hours since 0001-01-01 UTC -> visits
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

    @property
    def per_hour(self) -> Counter[datetime]:
        """Visits per hour (the hour's start, UTC)."""
        return Counter({datetime.fromordinal(hour // 24).replace(hour=hour % 24, tzinfo=UTC): n
                        for hour, n in self._hours.items()})

    def _add(self, doc: dict[str, Any]) -> None:
        # Runs once per snapshot of the store on the first request: kept to plain
        # comparisons and integer arithmetic.
        ts: datetime = doc["ts"]
        self._seen[doc["_id"]] = ts
        if self._newest is None or ts > self._newest:
            self._newest = ts
        self._hours[ts.toordinal() * 24 + ts.hour] += 1  # stored times are UTC
        visit, vid = Visit(ts, doc.get("stat_play")), doc["vid"]
        known = self._last_two.get(vid)
        if not known:
            self._last_two[vid] = (visit,)
        elif len(known) == 1:
            self._last_two[vid] = (known[0], visit) if known[0].ts <= ts else (visit, known[0])
        elif ts >= known[1].ts:
            self._last_two[vid] = (known[1], visit)
        elif ts > known[0].ts:
            self._last_two[vid] = (known[0], visit)

    def _forget_old(self) -> None:
        if self._newest is not None:
            horizon = self._newest - _LOOK_BACK
            self._seen = {k: ts for k, ts in self._seen.items() if ts >= horizon}

    def growth(self, vid: str) -> float | None:
        """Views gained per hour between the video's last two visits."""
        visits = self._last_two.get(vid, ())
        return growth_per_hour(*visits) if len(visits) == 2 else None
