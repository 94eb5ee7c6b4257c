"""``scrape export``: a collection of the store as JSON lines or CSV.

Both formats give each record the same keys in the same order: ``_id``, then the
model's fields as ``models.py`` declares them, then anything else the document holds
(JSON lines only). Datetimes are ISO 8601; CSV cells holding lists or dicts are JSON.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Any, Literal, TextIO

import orjson
from pydantic import BaseModel

from ..models import Comment, Snapshot, Video
from .base import Store

__all__ = ["export"]

Collection = Literal["videos", "comments", "snapshots"]
Format = Literal["jsonl", "csv"]

_MODELS: dict[str, type[BaseModel]] = {"videos": Video, "comments": Comment, "snapshots": Snapshot}


async def export(store: Store, what: Collection, fmt: Format, out: TextIO) -> int:
    """Write every document of ``what`` to ``out``; returns how many."""
    if what not in _MODELS:
        raise ValueError(f"cannot export {what!r}: choose one of {', '.join(_MODELS)}")
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r}: choose jsonl or csv")
    columns = ["_id", *_MODELS[what].model_fields]
    write = _jsonl if fmt == "jsonl" else _csv
    return await write(store.iter_docs(what), columns, out)


async def _jsonl(docs: AsyncIterator[dict[str, Any]], columns: list[str], out: TextIO) -> int:
    count = 0
    async for doc in docs:
        if list(doc)[:len(columns)] != columns:  # as stored, documents are in this order
            doc = {key: doc[key] for key in columns if key in doc} | doc
        out.write(_json(doc) + "\n")
        count += 1
    return count


async def _csv(docs: AsyncIterator[dict[str, Any]], columns: list[str], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    count = 0
    async for doc in docs:
        writer.writerow({key: _cell(value) for key, value in doc.items()})
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
