"""What ``SqliteStore`` does on its thread: one function per kind of call, each given the
connection; ``in_write`` wraps a writing one in ``BEGIN IMMEDIATE`` ... ``COMMIT``.

SQL narrows through the indexed columns; ``documents.matches`` and ``apply_update`` decide,
so each write means exactly what it means on MongoDB.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

import bson
from bson.errors import BSONError

from .documents import (
    CLAIM_SORT,
    SCHEDULE_SORT,
    Doc,
    DocId,
    Update,
    apply_update,
    claim_query,
    get_path,
    matches,
    schedule_claim_query,
    sort_docs,
)
from .sqlite_query import order_by, where
from .sqlite_schema import (
    COLUMNS,
    decode,
    decode_all,
    has_table,
    sql_value,
    table,
    upsert_rows,
)

__all__ = [
    "PAGE",
    "Page",
    "claim_frontier",
    "claim_schedule",
    "corrupt_docs",
    "count",
    "count_by_state",
    "distinct",
    "find",
    "find_page",
    "get",
    "in_write",
    "inserted",
    "latest_run",
    "page",
    "put",
    "put_new",
    "schedule_add",
    "update_one",
    "update_where",
]

PAGE = 1000  # documents per read of a streamed collection
T = TypeVar("T")


def in_write(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    """``fn(conn, *args)`` as one transaction holding the write lock from its start."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _exists(conn: sqlite3.Connection, collection: str) -> bool:
    table(collection)  # a bad name is an error even where nothing was written
    return collection in COLUMNS or has_table(conn, collection)


def _docs(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Doc]:
    return decode_all(row[0] for row in conn.execute(sql, params))


def _stored(docs: Iterable[Doc]) -> list[Doc]:
    """``docs`` as they read back (datetimes at milliseconds), as MongoDB returns them."""
    return [decode(bson.encode(doc)) for doc in docs]


# --- reads -----------------------------------------------------------------------------------


def get(conn: sqlite3.Connection, collection: str, doc_id: DocId) -> Doc | None:
    if not _exists(conn, collection):
        return None
    found = _docs(conn, f"SELECT doc FROM {table(collection)} WHERE id = ?", [doc_id])
    return found[0] if found else None


def find(conn: sqlite3.Connection, collection: str, query: Mapping[str, Any]) -> list[Doc]:
    """Documents matching ``query``, by ``_id``."""
    if not _exists(conn, collection):
        return []
    clause = where(collection, query)
    sql = f"SELECT doc FROM {table(collection)} WHERE {clause.sql} ORDER BY id"
    found = _docs(conn, sql, clause.params)
    return found if clause.complete else [doc for doc in found if matches(doc, query)]


def find_page(conn: sqlite3.Connection, collection: str, query: Mapping[str, Any],
              sort: Sequence[tuple[str, int]], skip: int, limit: int | None) -> list[Doc]:
    """A page of the documents matching ``query`` in ``sort`` order, then by ``_id``: in SQL
    when the query and the sort speak only of indexed columns, else every match is read,
    sorted by ``documents.sort_docs`` and cut."""
    if not _exists(conn, collection):
        return []
    clause, order = where(collection, query), order_by(collection, sort)
    if clause.complete and order is not None:
        cut = [*clause.params, -1 if limit is None else limit, skip]
        if not skip:
            return _docs(conn, f"SELECT doc FROM {table(collection)} WHERE {clause.sql} "
                         f"{order} LIMIT ? OFFSET ?", cut)
        # The ids first, from the indexes alone, then only the page's documents: an
        # OFFSET deep into a large table then never reads the documents it passes over.
        sql = (f"SELECT id FROM {table(collection)} WHERE {clause.sql} {order} "
               "LIMIT ? OFFSET ?")
        ids = [row[0] for row in conn.execute(sql, cut)]
        found = {doc["_id"]: doc for doc in _docs(
            conn, f"SELECT doc FROM {table(collection)} WHERE id IN "
            "(SELECT value FROM json_each(?))", [json.dumps(ids)])}
        return [found[doc_id] for doc_id in ids]
    ordered = sort_docs(find(conn, collection, query), sort)
    return ordered[skip:] if limit is None else ordered[skip:skip + limit]


def distinct(conn: sqlite3.Connection, collection: str, field: str,
             query: Mapping[str, Any]) -> list[Any]:
    clause = where(collection, query)
    if field == "_id" and clause.complete:
        sql = f"SELECT id FROM {table(collection)} WHERE {clause.sql} ORDER BY id"
        return [row[0] for row in conn.execute(sql, clause.params)]
    found = {get_path(doc, field) for doc in find(conn, collection, query)}
    return sorted(found - {None})


def page(conn: sqlite3.Connection, collection: str, after: DocId | None,
         query: Mapping[str, Any]) -> Page:
    """The documents matching ``query`` among the next ``PAGE`` rows by ``_id`` after
    ``after`` (from the first if None), the id of the last row read (None: no row left),
    and the rows among them whose BSON does not decode, with why."""
    if not _exists(conn, collection):
        return Page([], None, [])
    clause = where(collection, query)
    sql, params = clause.sql, clause.params
    if after is not None:
        sql, params = f"{sql} AND id > ?", [*params, after]
    rows = conn.execute(f"SELECT id, doc FROM {table(collection)} WHERE {sql} ORDER BY id "
                        f"LIMIT {PAGE}", params).fetchall()
    docs, corrupt = _decoded(rows)
    if not clause.complete:
        docs = [doc for doc in docs if matches(doc, query)]
    return Page(docs, rows[-1][0] if len(rows) == PAGE else None, corrupt)


class Page(NamedTuple):
    docs: list[Doc]
    last: DocId | None
    corrupt: list[tuple[DocId, str]]


def _decoded(rows: Sequence[tuple[DocId, bytes]]) -> tuple[list[Doc], list[tuple[DocId, str]]]:
    """Every row's document, and the rows that do not decode (one by one only then: a page
    decodes at once several times faster)."""
    try:
        return decode_all(blob for _, blob in rows), []
    except BSONError:  # handled: some row is corrupt; which is found below
        pass
    docs, corrupt = [], []
    for doc_id, blob in rows:
        try:
            docs.append(decode(blob))
        except BSONError as exc:  # handled: the caller names and skips it, or raises
            corrupt.append((doc_id, f"its BSON does not decode ({exc})"))
    return docs, corrupt


# A row whose BSON header does not give its own length, or that does not end with 0.
_CUT_SHORT = ("length(doc) < 5 OR substr(doc, -1) != x'00' OR hex(substr(doc, 1, 4)) != "
              "printf('%02X%02X%02X%02X', length(doc) % 256, length(doc) / 256 % 256, "
              "length(doc) / 65536 % 256, length(doc) / 16777216)")


def corrupt_docs(conn: sqlite3.Connection, limit: int) -> list[tuple[str, DocId, str]]:
    """Rows of every collection whose BSON is cut short or is not BSON, decoded to say why."""
    names = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' "
        "ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name")]
    found: list[tuple[str, DocId, str]] = []
    for name in names:
        # In the table's own order: through the id index, each row would be a page seek.
        rows = conn.execute(f"SELECT id, doc FROM {table(name)} WHERE {_CUT_SHORT} LIMIT ?",
                            [limit]).fetchall()
        found += [(name, doc_id, why) for doc_id, why in _decoded(rows)[1]]
    return found[:limit]


def count(conn: sqlite3.Connection, collection: str, query: Mapping[str, Any]) -> int:
    if not _exists(conn, collection):
        return 0
    clause = where(collection, query)
    if not clause.complete:
        return len(find(conn, collection, query))
    found = conn.execute(f"SELECT count(*) FROM {table(collection)} WHERE {clause.sql}",
                         clause.params)
    return int(found.fetchone()[0])


def count_by_state(conn: sqlite3.Connection, query: Mapping[str, Any]) -> dict[str, int]:
    """Frontier items matching ``query`` (equalities on indexed columns) by state."""
    clause = where("frontier", query)
    if not clause.complete:
        raise ValueError(f"cannot count the frontier by {sorted(query)}")
    rows = conn.execute(
        f"SELECT state, count(*) FROM frontier WHERE {clause.sql} GROUP BY state",
        clause.params)
    return {state: int(n) for state, n in rows}


def latest_run(conn: sqlite3.Connection, job: str) -> Doc | None:
    found = _docs(conn, "SELECT doc FROM runs WHERE job = ? ORDER BY started DESC LIMIT 1",
                  [job])
    return found[0] if found else None


# --- writes (inside in_write) ----------------------------------------------------------------


def put(conn: sqlite3.Connection, collection: str, docs: Sequence[Doc]) -> int:
    """Insert or replace whole documents."""
    return upsert_rows(conn, collection, docs)


def put_new(conn: sqlite3.Connection, collection: str, docs: Sequence[Doc]) -> int:
    """Insert the documents not yet known; returns how many."""
    return upsert_rows(conn, collection, docs, replace=False)


def inserted(doc_id: DocId, update: Update) -> Doc:
    """The document an upsert of ``update`` creates."""
    return apply_update(None, doc_id, update)


def update_one(conn: sqlite3.Connection, collection: str, doc_id: DocId,
               update: Update) -> None:
    """Upsert one document by ``update``."""
    upsert_rows(conn, collection, [apply_update(get(conn, collection, doc_id), doc_id, update)])


def update_where(conn: sqlite3.Connection, collection: str, query: Mapping[str, Any],
                 update: Update) -> int:
    """Update (never insert) the documents matching ``query``; returns how many."""
    hits = find(conn, collection, query)
    upsert_rows(conn, collection, [apply_update(doc, doc["_id"], update) for doc in hits])
    return len(hits)


def schedule_add(conn: sqlite3.Connection, updates: Sequence[tuple[str, Update]]) -> int:
    """Upsert schedule entries; returns how many were new."""
    changed: dict[str, Doc] = {}
    added = 0
    for entry_id, update in updates:
        old = changed.get(entry_id) or get(conn, "schedule", entry_id)
        added += old is None
        new = apply_update(old, entry_id, update)
        if new != old:
            changed[entry_id] = new
    upsert_rows(conn, "schedule", changed.values())
    return added


def claim_frontier(conn: sqlite3.Connection, job: str, kind: str | None, now: datetime,
                   update: Update, limit: int) -> list[Doc]:
    """Up to ``limit`` pending or lapsed items, best first, taken by ``update``."""
    of_kind, params = ("AND kind = ?", [kind]) if kind is not None else ("", [])
    pending = _docs(conn, "SELECT doc FROM frontier WHERE job = ? AND state = 'pending' "
                    f"{of_kind} ORDER BY priority DESC, seq LIMIT ?", [job, *params, limit])
    lapsed = _docs(conn, "SELECT doc FROM frontier WHERE job = ? AND state = 'claimed' "
                   f"AND lease_until < ? {of_kind}", [job, sql_value(now), *params])
    return _take(conn, "frontier", pending + lapsed, claim_query(job, kind, now), update,
                 CLAIM_SORT, limit)


def claim_schedule(conn: sqlite3.Connection, job: str, due_by: datetime, now: datetime,
                   update: Update, limit: int) -> list[Doc]:
    """Up to ``limit`` due entries (pending or lapsed), most overdue first."""
    due, params = sql_value(due_by), [job]
    pending = _docs(conn, "SELECT doc FROM schedule WHERE job = ? AND state = 'pending' "
                    "AND due <= ? ORDER BY due, id LIMIT ?", [*params, due, limit])
    lapsed = _docs(conn, "SELECT doc FROM schedule WHERE job = ? AND state = 'claimed' "
                   "AND due <= ? AND lease_until < ?", [*params, due, sql_value(now)])
    query = schedule_claim_query(job, due_by=due_by, now=now)
    return _take(conn, "schedule", pending + lapsed, query, update, SCHEDULE_SORT, limit)


def _take(conn: sqlite3.Connection, collection: str, candidates: list[Doc],
          query: Mapping[str, Any], update: Update, sort: list[tuple[str, int]],
          limit: int) -> list[Doc]:
    ready = sorted((doc for doc in candidates if matches(doc, query)),
                   key=lambda doc: tuple(doc[f] if order > 0 else -doc[f] for f, order in sort))
    taken = [apply_update(doc, doc["_id"], update) for doc in ready[:limit]]
    upsert_rows(conn, collection, taken)
    return _stored(taken)
