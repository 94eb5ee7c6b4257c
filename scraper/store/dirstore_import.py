"""The one-time import of a directory store (the embedded store before SQLite).

That store kept one JSON file per document, ``<dir>/<collection>/<name>.json``
(``bson.json_util``, relaxed); a ``.json.tmp`` file was a write cut short, whose previous
version (if any) is intact. Reading it is all that is left of it: the files stay where
they are, and the documents go into the SQLite store in the transaction that creates it,
so an import that fails leaves no half-filled store behind and is tried again next time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

from bson import json_util
from bson.errors import BSONError

from ..errors import StoreError
from .documents import Doc, check_collection
from .sqlite_schema import upsert_rows

__all__ = ["DirImport", "holds_dir_store"]

_JSON = json_util.JSONOptions(json_mode=json_util.JSONMode.RELAXED, tz_aware=True, tzinfo=UTC)
_BATCH = 500


def holds_dir_store(folder: Path) -> bool:
    """Whether ``folder`` holds a directory store: a collection folder with documents."""
    if not folder.is_dir():
        return False
    return any(_is_collection(sub) and next(sub.glob("*.json"), None) is not None
               for sub in folder.iterdir())


def _is_collection(path: Path) -> bool:
    try:
        return path.is_dir() and check_collection(path.name) == path.name
    except ValueError:
        return False


class DirImport:
    """Copies every document of the directory store in ``folder``, if there is one (a
    ``fill`` step of ``sqlite_schema.open_file``); ``count`` says how many it copied,
    None if it found no store."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count: int | None = None

    def __call__(self, conn: sqlite3.Connection) -> None:
        if not holds_dir_store(self.folder):
            return
        self.count = 0
        for sub in sorted(self.folder.iterdir()):
            if _is_collection(sub):
                self._collection(conn, sub)

    def _collection(self, conn: sqlite3.Connection, folder: Path) -> None:
        batch: list[Doc] = []
        for doc in _documents(folder):
            batch.append(doc)
            if len(batch) == _BATCH:
                self._copy(conn, folder.name, batch)
        self._copy(conn, folder.name, batch)

    def _copy(self, conn: sqlite3.Connection, collection: str, batch: list[Doc]) -> None:
        self.count = (self.count or 0) + upsert_rows(conn, collection, batch)
        batch.clear()


def _documents(folder: Path) -> Iterator[Doc]:
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json_util.loads(path.read_text(encoding="utf-8"), json_options=_JSON)
        except (OSError, ValueError, BSONError) as exc:
            raise StoreError(f"cannot import directory store file {path}: {exc}") from exc
        if not isinstance(doc, dict) or "_id" not in doc:
            raise StoreError(f"cannot import directory store file {path}: not a document")
        yield doc
