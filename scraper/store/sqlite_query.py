"""MongoDB queries and sorts as SQL over the SQLite store's indexed columns.

``where`` turns the part of a query that speaks only of ``_id`` and indexed columns into a
WHERE clause, and says whether that clause is the whole query. It is exact only where the
SQL means what ``documents.matches`` means, so each operator guards the type of what it
compares (MongoDB compares a number only with numbers, a string only with strings, a date
only with dates). Whatever it cannot say exactly is left out of the clause and marked
incomplete; the caller then checks each document with ``matches``. ``order_by`` does the
same for a sort: NULL (a missing field) sorts first ascending and last descending in both.

Datetimes live in their columns as epoch milliseconds (``sql_value``), so a date column
only meets datetime operands, and other columns never do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .sqlite_schema import (
    ARRAY_COLUMNS,
    ARRAY_SEP,
    COLUMNS,
    DATE_COLUMNS,
    REGEX_FUNCTION,
    array_text,
    column_sql,
    sql_value,
)

__all__ = ["Where", "order_by", "where"]

_OPS = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_NUMBER = "typeof({c}) IN ('integer', 'real')"
_TEXT = "typeof({c}) = 'text'"


@dataclass(slots=True)
class Where:
    """A WHERE clause, its parameters, and whether it is the whole query."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    complete: bool = True

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) or "1"


def where(collection: str, query: Mapping[str, Any]) -> Where:
    """The SQL for ``query`` on ``collection``'s table, as far as it can be exact."""
    out = Where()
    for key, cond in query.items():
        if key == "$or" and isinstance(cond, list) and cond:
            _or(collection, cond, out)
            continue
        column = _column(collection, key)
        part = _condition(column, key, cond) if column else None
        if part is None:
            out.complete = False
        else:
            out.clauses.append(part[0])
            out.params.extend(part[1])
    return out


def order_by(collection: str, sort: Sequence[tuple[str, int]]) -> str | None:
    """``ORDER BY`` for ``sort`` then ``_id``; None when a sort field has no column."""
    terms = []
    for path, direction in sort:
        column = _column(collection, path)
        if column is None or path in ARRAY_COLUMNS:
            return None
        terms.append(f"{column} {'DESC' if direction < 0 else 'ASC'}")
    return "ORDER BY " + ", ".join([*terms, "id"])


def _column(collection: str, path: str) -> str | None:
    if path == "_id":
        return "id"
    return column_sql(path) if path in COLUMNS.get(collection, ()) else None


def _or(collection: str, branches: list[Any], out: Where) -> None:
    parts = [where(collection, branch) if isinstance(branch, Mapping) else None
             for branch in branches]
    if any(part is None or not part.complete for part in parts):
        out.complete = False
        return
    out.clauses.append("(" + " OR ".join(f"({p.sql})" for p in parts if p) + ")")
    for part in parts:
        assert part is not None
        out.params.extend(part.params)


def _condition(column: str, path: str, cond: Any) -> tuple[str, list[Any]] | None:
    """SQL for one field's condition, or None where it cannot be exact."""
    if path in ARRAY_COLUMNS:
        return _array_condition(column, cond)
    is_date = path in DATE_COLUMNS
    if isinstance(cond, Mapping) and any(str(op).startswith("$") for op in cond):
        parts = [_operator(column, is_date, op, operand, cond)
                 for op, operand in cond.items() if op != "$options"]
        if any(part is None for part in parts) or not parts:
            return None
        clauses = [p[0] for p in parts if p]
        return " AND ".join(clauses), [v for p in parts if p for v in p[1]]
    if cond is None:
        return f"{column} IS NULL", []
    if not _fits(cond, is_date):
        return None
    return f"{column} = ?", [sql_value(cond)]


def _operator(column: str, is_date: bool, op: str, operand: Any,
              cond: Mapping[str, Any]) -> tuple[str, list[Any]] | None:
    if op in _OPS:
        if operand is None or not _fits(operand, is_date):
            return None
        guard = (_TEXT if isinstance(operand, str) else _NUMBER).format(c=column)
        return f"({guard} AND {column} {_OPS[op]} ?)", [sql_value(operand)]
    if op == "$in" and isinstance(operand, list | tuple):
        return _in(column, is_date, list(operand))
    if op == "$regex" and isinstance(operand, str):
        options = cond.get("$options", "")
        if not isinstance(options, str):
            return None
        return f"{REGEX_FUNCTION}(?, ?, {column})", [operand, options]
    return None


def _array_condition(column: str, cond: Any) -> tuple[str, list[Any]] | None:
    """An array column's condition (``sqlite_schema.array_text``): null or missing,
    equality with an array of strings, ``$in`` of those, and ``$elemMatch`` of ``$eq`` a
    string (the array holds it). Anything else is left to ``matches``."""
    if not (isinstance(cond, Mapping) and any(str(op).startswith("$") for op in cond)):
        return _array_equal(column, cond)
    if set(cond) == {"$in"} and isinstance(cond["$in"], list | tuple):
        parts = [_array_equal(column, choice) for choice in cond["$in"]]
        if not parts:
            return "0", []
        if any(part is None for part in parts):
            return None
        return ("(" + " OR ".join(p[0] for p in parts if p) + ")",
                [v for p in parts if p for v in p[1]])
    inner = cond.get("$elemMatch") if set(cond) == {"$elemMatch"} else None
    if isinstance(inner, Mapping) and set(inner) == {"$eq"} and isinstance(inner["$eq"], str):
        needle = ARRAY_SEP + json.dumps(inner["$eq"]) + ARRAY_SEP
        return f"(typeof({column}) = 'text' AND instr({column}, ?) > 0)", [needle]
    return None


def _array_equal(column: str, value: Any) -> tuple[str, list[Any]] | None:
    if value is None:
        return f"{column} IS NULL", []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return f"{column} = ?", [array_text(value)]
    return None


def _in(column: str, is_date: bool, values: list[Any]) -> tuple[str, list[Any]] | None:
    present = [v for v in values if v is not None]
    if not all(_fits(v, is_date) for v in present):
        return None
    clauses = [f"{column} IN (SELECT value FROM json_each(?))"] if present else []
    if len(present) < len(values):
        clauses.append(f"{column} IS NULL")
    if not clauses:
        return "0", []
    params = [json.dumps([sql_value(v) for v in present])] if present else []
    return "(" + " OR ".join(clauses) + ")", params


def _fits(value: Any, is_date: bool) -> bool:
    """Whether ``value`` compares in SQL as MongoDB compares it with this column's values."""
    if is_date:
        return isinstance(value, datetime)
    return isinstance(value, str | int | float) and not isinstance(value, bool)
