"""``scrape export``: a collection of the store as JSON lines or CSV.

JSON lines give each record ``_id``, then the model's fields as ``models.py`` declares
them, then anything else the document holds, nesting kept. CSV is a table for
spreadsheets (``tables.py``): a row per comment and reply, videos' nested fields as counts
and joined text. Datetimes are ISO 8601; ``excel`` starts CSV with a byte-order mark so
Excel reads it as UTF-8.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Literal, TextIO

import orjson
from pydantic import BaseModel

from ..models import Channel, ChannelSnapshot, Comment, Snapshot, Video
from .base import Store
from .tables import COMMENT_COLUMNS, VIDEO_COLUMNS, comment_rows, video_row

__all__ = ["export"]

Collection = Literal["videos", "comments", "snapshots", "channels", "channel-snapshots"]
Format = Literal["jsonl", "csv"]

_MODELS: dict[str, type[BaseModel]] = {"videos": Video, "comments": Comment, "snapshots": Snapshot,
                                       "channels": Channel, "channel-snapshots": ChannelSnapshot}
# What ``--what`` calls a collection, where it differs from the collection's name.
_COLLECTIONS = {"channel-snapshots": "channel_snapshots"}


async def export(
    store: Store, what: Collection, fmt: Format, out: TextIO, *, excel: bool = False
) -> int:
    """Write every document of ``what`` to ``out``; returns how many documents."""
    if what not in _MODELS:
        raise ValueError(f"cannot export {what!r}: choose one of {', '.join(_MODELS)}")
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r}: choose jsonl or csv")
    columns = ["_id", *_MODELS[what].model_fields]
    docs = store.iter_docs(_COLLECTIONS.get(what, what))
    if fmt == "jsonl":
        return await _jsonl(docs, columns, out)
    if excel:
        out.write("\ufeff")
    columns, rows = _TABLES.get(what, (columns, _as_is))
    return await _csv(docs, columns, rows, out)


async def _jsonl(docs: AsyncIterator[dict[str, Any]], columns: list[str], out: TextIO) -> int:
    count = 0
    async for doc in docs:
        if list(doc)[:len(columns)] != columns:  # as stored, documents are in this order
            doc = {key: doc[key] for key in columns if key in doc} | doc
        out.write(_json(doc) + "\n")
        count += 1
    return count


Rows = Callable[[Mapping[str, Any]], Iterable[Mapping[str, Any]]]


def _as_is(doc: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return (doc,)


_TABLES: dict[str, tuple[list[str], Rows]] = {
    "comments": (COMMENT_COLUMNS, comment_rows),
    "videos": (VIDEO_COLUMNS, lambda doc: (video_row(doc),)),
}


async def _csv(docs: AsyncIterator[dict[str, Any]], columns: list[str], rows: Rows,
               out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    count = 0
    async for doc in docs:
        for row in rows(doc):
            writer.writerow({key: _cell(value) for key, value in row.items()})
        count += 1
    return count


def _cell(value: Any) -> Any:
    if isinstance(value, Mapping | list | tuple):
        return _json(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value  # None becomes an empty cell


def _json(value: Any) -> str:
    """Compact JSON, UTF-8 unescaped, datetimes as ``isoformat()`` writes them (orjson:
    the encoding is most of an export's time, and orjson's is several times faster)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:
        raise TypeError(f"cannot export a document: {exc}") from exc
