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

import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
from bson.codec_options import CodecOptions

from ..errors import StoreError
from .documents import Doc, check_collection, get_path

__all__ = [
    "ARRAY_COLUMNS",
    "ARRAY_SEP",
    "BUSY_TIMEOUT_S",
    "COLUMNS",
    "DATE_COLUMNS",
    "REGEX_FUNCTION",
    "array_text",
    "column_sql",
    "column_value",
    "decode",
    "decode_all",
    "ensure_table",
    "has_table",
    "open_file",
    "regex_search",
    "sql_value",
    "table",
    "upsert_rows",
]

REGEX_FUNCTION = "scrape_regex"  # $regex in SQL: sqlite_query's where() calls it
APPLICATION_ID = 0x53435250  # "SCRP": this file is a scrape store
# 2: the videos columns the dashboard filters and sorts by; 3: the videos' lists
SCHEMA_VERSION = 3
BUSY_TIMEOUT_S = 30.0  # how long a write waits for another process's write to end

# Document fields (dotted paths) copied into columns, per collection; the indexes below and
# ``sqlite_query`` use them. A column holds one type of value (the models' own), which is
# what lets ``sqlite_query`` sort and compare in SQL exactly as MongoDB would.
COLUMNS: dict[str, tuple[str, ...]] = {
    "videos": ("stat_play", "comment_total", "category", "channel_name", "status", "title",
               "crawl.last", "crawl.run_id", "channel_link", "lists"),
    "comments": ("vid",),
    "snapshots": ("vid", "ts"),
    "frontier": ("job", "state", "kind", "priority", "seq", "lease_until"),
    "schedule": ("job", "state", "due", "lease_until"),
    "runs": ("job", "status", "started"),
    "channels": ("last_visit",),
    "channel_snapshots": ("uid", "ts"),
}
DATE_COLUMNS = frozenset({"ts", "due", "lease_until", "started", "crawl.last", "last_visit"})
# Array fields whose column holds the array as text (``array_text``), so SQL can ask
# whether it holds a string (the catalogue categories a video was seen in); such a column
# is never sorted by.
ARRAY_COLUMNS = frozenset({"lists"})
ARRAY_SEP = "\x1f"  # between two elements, and around them all
_NOT_TEXT = "\x1e"  # an element that is not a string: it equals no string
_INDEXES: dict[str, tuple[str, ...]] = {
    # (column, id): the page's ids come from the index alone, ties in id order (the
    # dashboard sorts by the first three descending, first).
    "videos": ("stat_play DESC, id", "comment_total DESC, id", '"crawl.last" DESC, id',
               "category, id", "channel_name, id", "status, id", '"crawl.run_id", id',
               "channel_link"),
    "comments": ("vid",),
    "snapshots": ("vid, ts", "ts"),  # a video's series; the dashboard's new since
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


def regex_search(pattern: str, options: str, value: Any) -> bool:
    """``$regex`` as ``documents.matches`` reads it (``$options`` ``i`` only), for SQL."""
    flags = re.IGNORECASE if "i" in options else 0
    return isinstance(value, str) and re.search(pattern, value, flags) is not None


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


def column_sql(path: str) -> str:
    """A column's quoted name (columns are named by their dotted document paths)."""
    return '"' + path.replace('"', '""') + '"'


def sql_value(value: Any) -> Any:
    """A document value as its column holds it (datetimes as epoch milliseconds, as BSON).

    What SQL cannot compare as MongoDB does (objects, arrays, bools) becomes a blob that
    equals no query value and sorts after strings in MongoDB's order of those types."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return (value - _EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, bool):
        return bytes([5, value])
    if isinstance(value, str | int | float) or value is None:
        return value
    return bytes([3 if isinstance(value, Mapping) else 4])


def array_text(items: Sequence[Any]) -> str:
    """An array as its column holds it: each string element JSON-quoted, every element
    followed by ``ARRAY_SEP``, all after one more (``[]`` is one separator alone)."""
    return ARRAY_SEP + "".join(
        (json.dumps(item) if isinstance(item, str) else _NOT_TEXT) + ARRAY_SEP
        for item in items)


def column_value(doc: Mapping[str, Any], path: str) -> Any:
    """What ``path``'s column holds for ``doc``: ``sql_value`` of the field, or for an
    array column the array as text (null where the field is missing or null, and a blob,
    which no condition matches, where it holds no array)."""
    value = get_path(doc, path)
    if path not in ARRAY_COLUMNS:
        return sql_value(value)
    if isinstance(value, list):
        return array_text(value)
    return None if value is None else bytes([2])


def _row(collection: str, doc: Mapping[str, Any]) -> tuple[Any, ...]:
    doc_id = doc["_id"]
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int):
        raise TypeError(f"document ids are str or int, not {type(doc_id).__name__}")
    columns = COLUMNS.get(collection, ())
    return (doc_id, bson.encode(doc), *(column_value(doc, name) for name in columns))


def upsert_rows(
    conn: sqlite3.Connection, collection: str, docs: Iterable[Mapping[str, Any]], *,
    replace: bool = True,
) -> int:
    """Insert ``docs`` (replacing known ones, or with ``replace=False`` keeping them);
    returns how many rows changed. Call it inside a write transaction."""
    ensure_table(conn, collection)
    names = ["id", "doc", *map(column_sql, COLUMNS.get(collection, ()))]
    conflict = ("DO UPDATE SET " + ", ".join(f"{n} = excluded.{n}" for n in names[1:])
                if replace else "DO NOTHING")
    sql = (f"INSERT INTO {table(collection)} ({', '.join(names)}) "
           f"VALUES ({', '.join('?' * len(names))}) ON CONFLICT(id) {conflict}")
    changed = conn.executemany(sql, (_row(collection, doc) for doc in docs)).rowcount
    return max(changed, 0)  # -1 when there was nothing to write


# --- tables ----------------------------------------------------------------------------------


def has_table(conn: sqlite3.Connection, collection: str) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                         (collection,)).fetchone()
    return found is not None


def ensure_table(conn: sqlite3.Connection, collection: str) -> None:
    """Create ``collection``'s table and indexes if missing (inside a write transaction)."""
    name = table(collection)
    columns = "".join(f", {column_sql(column)}" for column in COLUMNS.get(collection, ()))
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
        conn.create_function(REGEX_FUNCTION, 3, regex_search, deterministic=True)
        created = _initialize(conn, path, fill)
        if not created:
            _upgrade(conn, path)
        return conn, created
    except BaseException:
        conn.close()
        raise


def _check_ours(conn: sqlite3.Connection, path: Path, *, allow_empty: bool) -> bool:
    """Whether the file is already ours (False: empty, and ``allow_empty``).

    The header and the table count are read in one transaction: read apart, another
    process could make the file a store between the two reads (header still empty,
    tables already there), and the file would look like another program's.
    """
    own = not conn.in_transaction
    try:
        if own:
            conn.execute("BEGIN")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a scrape store (not an SQLite database: {exc}); "
                         "it was left as it is") from exc
    finally:
        if own and conn.in_transaction:
            conn.execute("COMMIT")
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path} was written by a newer scrape (store version {version})")
        return True
    if app_id != 0 or tables or not allow_empty:
        raise StoreError(f"{path} is an SQLite database of another program, not a scrape "
                         "store; it was left as it is")
    return False


def _upgrade(conn: sqlite3.Connection, path: Path) -> None:
    """Bring a store an older scrape wrote up to this version: add the columns and indexes
    it lacks and fill the new columns from the documents, in one transaction."""
    if (conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION
            and not any(_missing(conn, collection) for collection in COLUMNS)):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for collection in COLUMNS:
            _add_columns(conn, collection)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        raise StoreError(f"cannot upgrade the store {path}: {exc}; it was left as it "
                         "was") from exc


def _missing(conn: sqlite3.Connection, collection: str) -> list[str]:
    """``collection``'s columns its table lacks (none when there is no table yet)."""
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({table(collection)})")}
    return [c for c in COLUMNS[collection] if present and c not in present]


def _add_columns(conn: sqlite3.Connection, collection: str) -> None:
    name, missing = table(collection), _missing(conn, collection)
    for column in missing:
        conn.execute(f"ALTER TABLE {name} ADD COLUMN {column_sql(column)}")
    sets = ", ".join(f"{column_sql(c)} = ?" for c in missing)
    last = -1
    while missing:  # a thousand rows at a time: a large table never sits in memory
        rows = conn.execute(f"SELECT rowid, doc FROM {name} WHERE rowid > ? ORDER BY rowid "
                            "LIMIT 1000", (last,)).fetchall()
        if not rows:
            break
        conn.executemany(f"UPDATE {name} SET {sets} WHERE rowid = ?", (
            (*(column_value(decoded, c) for c in missing), rowid)
            for rowid, decoded in ((rowid, decode(doc)) for rowid, doc in rows)))
        last = rows[-1][0]
    ensure_table(conn, collection)  # the table if new, and the indexes


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
