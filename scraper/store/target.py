"""Which store a ``--store`` target names, built but not yet opened."""

from __future__ import annotations

from pathlib import Path

from .base import Store
from .dirstore import DirStore
from .mongo import MongoStore

__all__ = ["open_store"]


def open_store(
    target: str, *, database_default: str = "scraper", connect_timeout_s: float = 2.0
) -> Store:
    """A MongoDB URI gives a ``MongoStore``; anything else is a directory for a ``DirStore``."""
    if target.startswith(("mongodb://", "mongodb+srv://")):
        return MongoStore(
            target, database_default=database_default, connect_timeout_s=connect_timeout_s
        )
    return DirStore(Path(target))
