"""Which store a ``--store`` target names, built but not yet opened."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .base import Store
from .dirstore_import import holds_dir_store
from .sqlite import SqliteStore

__all__ = ["DB_FILE", "open_store"]

DB_FILE = "scrape.db"  # the SQLite store's file in a store directory
_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def open_store(
    target: str, *, database_default: str = "scraper", connect_timeout_s: float = 2.0,
    must_exist: bool = False,
) -> Store:
    """A MongoDB URI gives a ``MongoStore``; a ``.db``/``.sqlite`` path or an existing file,
    that SQLite file; anything else is a directory holding ``scrape.db`` (where a directory
    store found there is imported from the first time). With ``must_exist`` (commands that
    only read), an embedded store that is not there is a ``ConfigError`` saying where it
    looked, never a new empty store."""
    if target.startswith(("mongodb://", "mongodb+srv://")):
        # motor and pymongo's client take a fifth of a second to import: only for MongoDB.
        from .mongo import MongoStore

        return MongoStore(
            target, database_default=database_default, connect_timeout_s=connect_timeout_s
        )
    if "://" in target:
        raise ConfigError(f"--store {target}: not a MongoDB URI (mongodb:// or "
                          "mongodb+srv://) nor a path")
    path = Path(target)
    # An existing file is the SQLite file itself, whatever its name (a foreign one is
    # refused in one line when opened, never overwritten).
    if path.suffix.lower() in _DB_SUFFIXES or path.is_file():
        if must_exist and not path.is_file():
            raise ConfigError(f"no store at {path}: the file does not exist (check --store)")
        return SqliteStore(path)
    if must_exist and not ((path / DB_FILE).is_file() or holds_dir_store(path)):
        raise ConfigError(f"no store at {path} (looked for {path / DB_FILE}): check --store, "
                          "or run `scrape run` first")
    return SqliteStore(path / DB_FILE, import_from=path)
