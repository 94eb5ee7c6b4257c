"""The SQLite store's file: its tables, indexed columns, document encoding and opening.

One table per collection: ``id`` (the document's ``_id``, stored as it is, so ints sort
before strings as MongoDB sorts them), ``doc`` (the whole document as BSON, so types and
millisecond datetimes are MongoDB's own) and, for the collections crawls query, a few
columns copied from the document for the indexes of the hot paths. A datetime column
holds milliseconds since the epoch. Everything here is synchronous: ``SqliteStore`` runs
it on its own thread.

A file is ours when its ``application_id`` says so; an empty file becomes ours; anything
else (another program's database, a file that is not SQLite) is refused, never written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
from bson.codec_options import CodecOptions

from ..errors import StoreError
from .documents import Doc, check_collection

__all__ = [
    "BUSY_TIMEOUT_S",
    "COLUMNS",
    "decode",
    "decode_all",
    "ensure_table",
    "has_table",
    "open_file",
    "sql_value",
    "table",
    "upsert_rows",
    "where_eq",
]

APPLICATION_ID = 0x53435250  # "SCRP": this file is a scrape store
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0  # how long a write waits for another process's write to end

# Document fields copied into columns, per collection; the indexes below use them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "videos": (),
    "comments": ("vid",),
    "snapshots": ("vid", "ts"),
    "frontier": ("job", "state", "kind", "priority", "seq", "lease_until"),
    "schedule": ("job", "state", "due", "lease_until"),
    "runs": ("job", "status", "started"),
    "channels": ("last_visit",),
    "channel_snapshots": ("uid", "ts"),
}
_INDEXES: dict[str, tuple[str, ...]] = {
    "comments": ("vid",),
    "snapshots": ("vid, ts",),
    "frontier": ("job, state, priority DESC, seq",),  # a claim: pending, best first
    "schedule": ("job, state, due, id",),  # a claim: pending, most overdue first
    "runs": ("job, started", "status"),
    "channels": ("last_visit",),
    "channel_snapshots": ("uid, ts",),
}
# Aware datetimes in bson's own UTC: converting each to datetime.UTC would halve decoding.
_CODEC: CodecOptions[Doc] = CodecOptions(tz_aware=True)
_EPOCH = datetime(1970, 1, 1)
Fill = Callable[[sqlite3.Connection], None]  # a step that fills a new store (an import)


# --- documents and their columns -----------------------------------------------------------


def table(collection: str) -> str:
    """The quoted table name of ``collection``; ``_``-names are the store's own."""
    if check_collection(collection).startswith("_"):
        raise ValueError(f"bad collection name {collection!r}")
    return f'"{collection}"'


def decode(blob: bytes) -> Doc:
    return bson.decode(blob, codec_options=_CODEC)


def decode_all(blobs: Iterable[bytes]) -> list[Doc]:
    """Documents stored one after another (BSON documents delimit themselves)."""
    return bson.decode_all(b"".join(blobs), codec_options=_CODEC)


def sql_value(value: Any) -> Any:
    """A document value as its column holds it (datetimes as epoch milliseconds, as BSON)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return (value - _EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, str | int | float) or value is None:
        return value
    return None  # only scalars are indexed; matches() still reads the document


def _row(collection: str, doc: Mapping[str, Any]) -> tuple[Any, ...]:
    doc_id = doc["_id"]
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int):
        raise TypeError(f"document ids are str or int, not {type(doc_id).__name__}")
    columns = COLUMNS.get(collection, ())
    return (doc_id, bson.encode(doc), *(sql_value(doc.get(name)) for name in columns))


def upsert_rows(
    conn: sqlite3.Connection, collection: str, docs: Iterable[Mapping[str, Any]], *,
    replace: bool = True,
) -> int:
    """Insert ``docs`` (replacing known ones, or with ``replace=False`` keeping them);
    returns how many rows changed. Call it inside a write transaction."""
    ensure_table(conn, collection)
    names = ["id", "doc", *COLUMNS.get(collection, ())]
    conflict = ("DO UPDATE SET " + ", ".join(f"{n} = excluded.{n}" for n in names[1:])
                if replace else "DO NOTHING")
    sql = (f"INSERT INTO {table(collection)} ({', '.join(names)}) "
           f"VALUES ({', '.join('?' * len(names))}) ON CONFLICT(id) {conflict}")
    changed = conn.executemany(sql, (_row(collection, doc) for doc in docs)).rowcount
    return max(changed, 0)  # -1 when there was nothing to write


def where_eq(collection: str, query: Mapping[str, Any]) -> tuple[str, list[Any], bool]:
    """SQL narrowing ``query`` by its equalities on ``_id`` and indexed columns, and whether
    that SQL is the whole query.

    Where it is not, the caller checks each document with ``documents.matches``, which
    alone says what a query means.
    """
    clauses, params, complete = ["1"], [], True
    for key, value in query.items():
        column = "id" if key == "_id" else key if key in COLUMNS.get(collection, ()) else None
        if column is None or isinstance(value, Mapping | list | tuple | bool):
            complete = False
        elif value is None:
            clauses.append(f"{column} IS NULL")
        else:
            clauses.append(f"{column} = ?")
            params.append(sql_value(value))
    return " AND ".join(clauses), params, complete


# --- tables ----------------------------------------------------------------------------------


def has_table(conn: sqlite3.Connection, collection: str) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                         (collection,)).fetchone()
    return found is not None


def ensure_table(conn: sqlite3.Connection, collection: str) -> None:
    """Create ``collection``'s table and indexes if missing (inside a write transaction)."""
    name = table(collection)
    columns = "".join(f", {column}" for column in COLUMNS.get(collection, ()))
    conn.execute(f"CREATE TABLE IF NOT EXISTS {name} (id PRIMARY KEY, doc BLOB NOT NULL"
                 f"{columns})")
    for n, keys in enumerate(_INDEXES.get(collection, ())):
        conn.execute(f'CREATE INDEX IF NOT EXISTS "{collection}_{n}" ON {name} ({keys})')


# --- the file ----------------------------------------------------------------------------------


def open_file(
    path: Path, *, fill: Sequence[Fill] = (), busy_timeout_s: float = BUSY_TIMEOUT_S
) -> tuple[sqlite3.Connection, bool]:
    """Connect to the store file, making a new or empty one a store (and calling each
    ``fill(conn)`` in that same transaction). Returns the connection and whether it was new.

    Raises ``StoreError`` for a file that is not a scrape store; sqlite3 errors pass.
    """
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                           cached_statements=256)
    try:
        _check_ours(conn, path, allow_empty=True)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: a commit survives kill -9
        return conn, _initialize(conn, path, fill)
    except BaseException:
        conn.close()
        raise


def _check_ours(conn: sqlite3.Connection, path: Path, *, allow_empty: bool) -> bool:
    """Whether the file is already ours (False: empty, and ``allow_empty``)."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a scrape store (not an SQLite database: {exc}); "
                         "it was left as it is") from exc
    if app_id == APPLICATION_ID:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path} was written by a newer scrape (store version {version})")
        return True
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id != 0 or tables or not allow_empty:
        raise StoreError(f"{path} is an SQLite database of another program, not a scrape "
                         "store; it was left as it is")
    return False


def _initialize(conn: sqlite3.Connection, path: Path, fill: Sequence[Fill]) -> bool:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _check_ours(conn, path, allow_empty=True):  # another process made it meanwhile
            conn.execute("ROLLBACK")
            return False
        for collection in COLUMNS:
            ensure_table(conn, collection)
        for step in fill:
            step(conn)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True
