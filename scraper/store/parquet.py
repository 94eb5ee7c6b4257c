"""``scrape export --format parquet``: the CSV table (``tables.py``) with typed columns.

The rows are CSV's (a row per comment and reply; videos' segments and crawl record
flattened), so a snapshot series or a comment table loads into pandas, polars or DuckDB
in one line. Counts are ``int64``, times ``timestamp[ms, tz=UTC]`` (MongoDB's precision),
everything else ``string`` (a comment's ``user`` is a number or a name: string). Rows go
out 1,000 at a time, so memory does not grow with the collection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from .documents import Doc
from .tables import Rows

__all__ = ["parquet_schema", "write_parquet"]

_INT = pa.int64()
_TIME = pa.timestamp("ms", tz="UTC")
_BATCH = 1000
# Column -> type, by collection; a column not named here is a string.
_TYPES: dict[str, dict[str, pa.DataType]] = {
    "videos": {
        **dict.fromkeys(["duration_s", "stat_play", "stat_cmt", "comment_num", "comment_total",
                         "segments", "segments_ok", "segments_bytes"], _INT),
        **dict.fromkeys(["crawl_first", "crawl_last"], _TIME),
    },
    "comments": {
        **dict.fromkeys(["_id", "id", "thread", "parent_id", "depth", "num_up", "num_down",
                         "num_reply"], _INT),
        "time": _TIME,
    },
    "snapshots": {
        **dict.fromkeys(["stat_play", "stat_cmt", "comment_total"], _INT),
        "ts": _TIME,
    },
}


def parquet_schema(collection: str, columns: list[str]) -> pa.Schema:
    types = _TYPES.get(collection, {})
    return pa.schema([pa.field(name, types.get(name, pa.string())) for name in columns])


async def write_parquet(docs: AsyncIterator[Doc], collection: str, columns: list[str],
                        rows: Rows, out: IO[bytes]) -> int:
    """Write the rows of ``docs`` to ``out``; returns how many documents."""
    schema = parquet_schema(collection, columns)
    strings = [f.name for f in schema if f.type == pa.string()]
    count, batch = 0, []
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        async for doc in docs:
            batch += [_stringified(row, strings) for row in rows(doc)]
            count += 1
            if len(batch) >= _BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return count


def _stringified(row: Mapping[str, Any], strings: list[str]) -> dict[str, Any]:
    """The row with every value of a string column as text (ids and users may be ints)."""
    return {**row, **{name: str(row[name]) for name in strings
                      if row.get(name) is not None and not isinstance(row[name], str)}}
