"""The ``Store`` protocol: what a crawl may ask of wherever it keeps what it finds.

Two implementations: ``MongoStore`` (``mongo.py``) and ``SqliteStore`` (``sqlite.py``);
``target.open_store`` picks one from the target.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from ..models import (
    Channel,
    ChannelSnapshot,
    Comment,
    FrontierItem,
    RunRecord,
    ScheduleEntry,
    Snapshot,
    Video,
)
from .documents import Doc, DocId

__all__ = ["OnCorrupt", "Store"]

# A document that cannot be read back: its id, and why.
OnCorrupt = Callable[[DocId, str], None]


class Store(Protocol):
    """Where a crawl keeps what it finds. Use it as ``async with open_store(...) as store``.

    Datetimes are timezone-aware UTC going in and coming out, at millisecond precision
    (MongoDB's). Every failure is a ``StoreError``.
    """

    kind: str  # "mongodb" | "sqlite"
    description: str  # where the data lives, for messages; never a password

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def save_video(self, video: Video) -> None:
        """Upsert; static fields and ``crawl.first`` stay as the first crawl left them."""

    async def save_comments(self, comments: Sequence[Comment]) -> None:
        """Upsert top-level comments (replies nested); a re-crawl replaces each document."""

    async def add_snapshot(self, snap: Snapshot, *, visit_id: str | None = None) -> None:
        """Upsert under ``visit_id`` (default ``vid:run_id``), so a redone visit is one."""

    async def get_video(self, vid: str) -> Video | None: ...

    async def save_channel(self, channel: Channel) -> None:
        """Upsert; ``first_visit`` stays as the first visit left it, the rest follows."""

    async def add_channel_snapshot(
        self, snap: ChannelSnapshot, *, visit_id: str | None = None
    ) -> None:
        """Upsert under ``visit_id`` (default ``uid:run_id``), so a redone visit is one."""

    async def add_lists(
        self, collection: str, doc_id: str, path: str, lists: Sequence[str]
    ) -> bool:
        """Add ``lists`` to the array at ``path`` of an existing document (each value once;
        nothing is removed); False when there is no such document (none is created)."""

    async def fill_missing(self, collection: str, doc_id: str, path: str, value: Any) -> bool:
        """Set ``path`` of an existing document to ``value`` where it is missing or null;
        False when there is no such document or it already had a value."""

    async def start_run(self, run: RunRecord) -> None: ...

    async def update_run(self, run: RunRecord) -> None: ...

    async def latest_run(self, job: str) -> RunRecord | None:
        """The run of ``job`` that started last."""

    async def frontier_add(self, items: Sequence[FrontierItem]) -> int:
        """Insert the items not yet known (known ones keep their state); returns how many."""

    async def frontier_claim(
        self, job: str, *, worker: str, lease_s: float, kind: str | None = None, limit: int = 1
    ) -> list[FrontierItem]:
        """Atomically take up to ``limit`` pending (or lease-expired) items.

        Highest priority first, then insertion order; each taken item's ``attempts``
        counts one more claim.
        """

    async def frontier_finish(
        self, item_id: str, *, state: Literal["done", "failed"], error: str | None = None
    ) -> None: ...

    async def frontier_release(self, item_id: str) -> None:
        """Put a claimed item back to pending (its ``attempts`` is kept)."""

    async def frontier_release_claimed(self, job: str) -> int:
        """Every claimed item of ``job`` back to pending (resuming after a crash)."""

    async def frontier_counts(self, job: str, *, kind: str | None = None) -> dict[str, int]:
        """Items of ``job`` (of one ``kind``) by state, every state present (zeros included)."""

    async def frontier_retry_failed(self, job: str) -> int:
        """Failed items of ``job`` back to pending with ``attempts`` 0; returns how many."""

    async def frontier_renew(self, item_id: str, *, worker: str, lease_s: float) -> bool:
        """Extend ``worker``'s lease on a claimed item; False if the claim is no longer its."""

    async def schedule_add(self, entries: Sequence[ScheduleEntry]) -> int:
        """Insert unknown entries; known ones keep their schedule and take the new ``card``.

        Returns how many were new.
        """

    async def schedule_claim(
        self, job: str, *, due_by: datetime, worker: str, lease_s: float, limit: int = 1
    ) -> list[ScheduleEntry]:
        """Atomically take up to ``limit`` entries of ``job`` due at ``due_by``, most overdue
        first: pending ones, or claimed ones whose lease lapsed (by the wall clock)."""

    async def schedule_renew(self, entry_id: str, *, worker: str, lease_s: float) -> bool:
        """Extend ``worker``'s lease on an entry; False if the claim is no longer its."""

    async def schedule_finish(
        self, entry_id: str, *, worker: str, due: datetime, changes: Mapping[str, Any]
    ) -> bool:
        """End the visit ``due`` that ``worker`` holds: apply ``changes`` (the next ``due``,
        tier, observations…), free the entry, count the visit. False (and nothing written)
        if another worker took the entry over or already finished that visit."""

    async def schedule_release(self, entry_id: str, *, worker: str) -> None:
        """Give back an entry ``worker`` holds, unvisited (its ``due`` is kept)."""

    async def schedule_move(
        self, entry_id: str, *, was: datetime, due: datetime, tier: str
    ) -> bool:
        """Move a pending entry's visit from ``was`` to ``due`` in ``tier`` (tiers were
        redefined); False if it was claimed or rescheduled meanwhile."""

    def iter_docs(
        self, collection: str, query: Mapping[str, Any] | None = None, *,
        on_corrupt: OnCorrupt | None = None,
    ) -> AsyncIterator[Doc]:
        """Every document of a collection matching ``query`` (``find_page``'s language) as a
        plain dict (with ``_id``), by ``_id``, read a page at a time.

        A document the store cannot read back (an SQLite row whose BSON does not decode) is
        passed to ``on_corrupt`` with why and skipped; without it, it is a ``StoreError``.
        """

    async def corrupt_docs(self, *, limit: int = 20) -> list[tuple[str, DocId, str]]:
        """Up to ``limit`` documents that cannot be read back, as (collection, id, why):
        SQLite rows whose BSON is cut short or is not BSON (a header check: nothing is
        decoded but those rows), MongoDB documents that lack a required field or hold it
        with the wrong type (``documents.misfit_query``)."""

    async def count(self, collection: str, filter_eq: Mapping[str, Any] | None = None) -> int:
        """Documents whose fields (dotted paths allowed) equal ``filter_eq``'s values (or
        meet its operators, as ``find_page``'s query)."""

    async def save_doc(self, collection: str, doc_id: DocId, doc: Mapping[str, Any]) -> None:
        """Insert or replace one document of any collection."""

    async def get_doc(self, collection: str, doc_id: DocId) -> Doc | None: ...

    async def find_docs(self, collection: str, filter_eq: Mapping[str, Any]) -> list[Doc]: ...

    async def find_page(
        self,
        collection: str,
        query: Mapping[str, Any],
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
    ) -> list[Doc]:
        """One page of the documents matching ``query``, ordered by ``sort`` then ``_id``.

        ``query`` is MongoDB's language, the part ``documents.matches`` speaks: equality on
        dotted paths, ``$lt``/``$lte``/``$gt``/``$gte``, ``$in``, ``$regex`` (``$options``
        ``"i"``) and ``$or``. ``sort`` is ``[(path, 1 | -1)]``; missing values sort as null
        (first ascending). ``skip`` documents are passed over, then at most ``limit`` come.
        """

    async def distinct(
        self, collection: str, field: str, query: Mapping[str, Any] | None = None
    ) -> list[Any]:
        """The different non-null values of ``field`` among documents matching ``query``,
        sorted."""
