"""Which store a ``--store`` target names, built but not yet opened."""

from __future__ import annotations

from pathlib import Path

from .base import Store
from .mongo import MongoStore
from .sqlite import SqliteStore

__all__ = ["DB_FILE", "open_store"]

DB_FILE = "scrape.db"  # the SQLite store's file in a store directory
_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def open_store(
    target: str, *, database_default: str = "scraper", connect_timeout_s: float = 2.0
) -> Store:
    """A MongoDB URI gives a ``MongoStore``; a ``.db``/``.sqlite`` path, that SQLite file;
    anything else is a directory holding ``scrape.db`` (where a directory store found there
    is imported from the first time)."""
    if target.startswith(("mongodb://", "mongodb+srv://")):
        return MongoStore(
            target, database_default=database_default, connect_timeout_s=connect_timeout_s
        )
    path = Path(target)
    if path.suffix.lower() in _DB_SUFFIXES:
        return SqliteStore(path)
    return SqliteStore(path / DB_FILE, import_from=path)
