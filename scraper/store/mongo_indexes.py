"""The MongoDB indexes of each collection: what crawls, the monitor and the dashboard query.

Data only (no driver import), so ``mongo.py`` stays the one module that talks to MongoDB;
the SQLite store keeps its own indexed columns (``sqlite_schema.py``).
"""

from __future__ import annotations

from .documents import CLAIM_SORT, SCHEDULE_SORT

__all__ = ["INDEXES"]

# The dashboard's Videos table filters and sorts on the videos' fields; its live view and
# growth figures read snapshots by time.
INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "videos": [[("crawl.last", 1)], [("stat_play", 1)], [("comment_total", 1)],
               [("category", 1)], [("channel_name", 1)], [("channel_link", 1)],
               [("status", 1)], [("lists", 1)]],
    "comments": [[("vid", 1)]],
    "snapshots": [[("vid", 1), ("ts", 1)], [("ts", 1)]],
    "frontier": [[("job", 1), ("state", 1), *CLAIM_SORT]],
    "runs": [[("job", 1), ("started", -1)]],
    "channels": [[("last_visit", 1)]],
    "channel_snapshots": [[("uid", 1), ("ts", 1)], [("ts", 1)]],
    "schedule": [[("job", 1), ("state", 1), *SCHEDULE_SORT]],
}
