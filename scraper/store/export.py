"""``scrape export``: a collection of the store as JSON lines, CSV or parquet.

JSON lines give each record ``_id``, then the model's fields as ``models.py`` declares
them, then anything else the document holds, nesting kept. CSV is a table for
spreadsheets (``tables.py``): a row per comment and reply, videos' nested fields as counts
and joined text. Datetimes are ISO 8601; ``excel`` starts CSV with a byte-order mark so
Excel reads it as UTF-8. Parquet is CSV's table with typed columns (``parquet.py``).
``filters.py`` narrows what is read, in the store's query.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import IO, Any, Literal

import orjson
from pydantic import BaseModel, ValidationError

from ..errors import StoreError
from ..models import Channel, ChannelSnapshot, Comment, Snapshot, Video
from .base import OnCorrupt, Store
from .documents import Doc, misfit
from .filters import ExportFilter, export_query
from .tables import Rows, table_of

__all__ = ["FORMATS", "export"]

Collection = Literal["videos", "comments", "snapshots", "channels", "channel-snapshots"]
Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")

_MODELS: dict[str, type[BaseModel]] = {"videos": Video, "comments": Comment, "snapshots": Snapshot,
                                       "channels": Channel, "channel-snapshots": ChannelSnapshot}
# What ``--what`` calls a collection, where it differs from the collection's name.
_COLLECTIONS = {"channel-snapshots": "channel_snapshots"}


async def export(
    store: Store, what: Collection, fmt: Format, out: IO[Any], *, excel: bool = False,
    keep: ExportFilter | None = None, on_corrupt: OnCorrupt | None = None,
) -> int:
    """Write the documents of ``what`` that ``keep`` keeps to ``out`` (text, or binary for
    parquet); returns how many documents.

    A document that cannot be read back or does not fit its model is passed to
    ``on_corrupt`` and left out; without it, it is a ``StoreError`` that names it.
    """
    if what not in _MODELS:
        raise ValueError(f"cannot export {what!r}: choose one of {', '.join(_MODELS)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: choose {', '.join(FORMATS)}")
    collection = _COLLECTIONS.get(what, what)
    query = await export_query(store, collection, keep or ExportFilter())
    docs = _checked(store.iter_docs(collection, query, on_corrupt=on_corrupt), what,
                    on_corrupt, typed=fmt == "parquet")
    columns = ["_id", *_MODELS[what].model_fields]
    if fmt == "jsonl":
        return await _jsonl(docs, columns, out)
    columns, rows = table_of(what, columns)
    if fmt == "parquet":
        from .parquet import write_parquet  # pyarrow is large: loaded only for parquet

        return await write_parquet(docs, what, columns, rows, out)
    if excel:
        out.write("\ufeff")
    return await _csv(docs, columns, rows, out)


async def _checked(docs: AsyncIterator[Doc], what: str, on_corrupt: OnCorrupt | None, *,
                   typed: bool) -> AsyncIterator[Doc]:
    """``docs`` that hold ``what``'s required fields (MongoDB stores any document it is
    given); ``typed`` (parquet's typed columns): that fit its whole model."""
    model = _MODELS[what]
    async for doc in docs:
        why = misfit(doc, what)
        if why is None and typed:
            try:
                model.model_validate({key: doc[key] for key in model.model_fields if key in doc})
            except ValidationError as exc:
                why = _first_problem(exc)
        if why is None:
            yield doc
            continue
        why = f"it does not fit the {what} model ({why})"
        if on_corrupt is None:
            raise StoreError(f"document {doc.get('_id')!r} of {what} is corrupt: {why}")
        on_corrupt(doc["_id"], why)


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


async def _jsonl(docs: AsyncIterator[Doc], columns: list[str], out: IO[str]) -> int:
    count = 0
    async for doc in docs:
        if list(doc)[:len(columns)] != columns:  # as stored, documents are in this order
            doc = {key: doc[key] for key in columns if key in doc} | doc
        out.write(_json(doc) + "\n")
        count += 1
    return count


async def _csv(docs: AsyncIterator[Doc], columns: list[str], rows: Rows, out: IO[str]) -> int:
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
