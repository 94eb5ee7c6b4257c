"""MongoDB's conventions that need no driver: URIs, error messages, stored datetimes.

``store.py`` (the only module importing the MongoDB driver) uses these to describe a
server without its password, to put the driver's errors on one line, and to hand back
aware UTC datetimes whatever the client returned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from .documents import Doc

__all__ = ["aware", "describe_uri", "one_line"]


def describe_uri(uri: str, database_default: str) -> tuple[str, str]:
    """``(uri without credentials or options, database name)``, parsed as pymongo does."""
    scheme, _, rest = uri.partition("://")
    host_and_db = rest.partition("?")[0]
    hosts, _, database = host_and_db.partition("/")
    hosts = hosts.rpartition("@")[2]
    database = unquote_plus(database).partition(".")[0] or database_default
    return f"{scheme}://{hosts}/{database}", database


def one_line(exc: BaseException) -> str:
    """pymongo's message without its topology dump, on one line."""
    text = str(exc).split(", Timeout: ")[0]
    text = re.sub(r" \(configured timeouts: [^)]*\)", "", text)
    text = " ".join(text.split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def aware(doc: Mapping[str, Any]) -> Doc:
    """The document with its datetimes aware UTC (a client without ``tz_aware`` gives naive)."""
    return {key: _aware(value) for key, value in doc.items()}


def _aware(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, Mapping):
        return aware(value)
    if isinstance(value, list):
        return [_aware(item) for item in value]
    return value
