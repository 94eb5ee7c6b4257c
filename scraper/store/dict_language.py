"""MongoDB's update and query language, applied to Python dicts.

``SqliteStore`` keeps documents as dicts and applies the same updates and queries the
MongoDB server would: ``apply_update`` (``$set``, ``$setOnInsert``, ``$inc``,
``$addToSet``), ``matches`` (equality, ``$lt``, ``$lte``, ``$gt``, ``$gte``, ``$in``,
``$regex``, ``$or``) and ``sort_docs``, with MongoDB's rules for missing fields, null
and types. Only what ``documents``' builders and the dashboard's reads use: any other
operator is an error rather than a silent mismatch.
"""

from __future__ import annotations

import copy
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["Doc", "DocId", "Update", "apply_update", "get_path", "matches", "sort_docs"]

DocId = str | int
Doc = dict[str, Any]
Update = dict[str, dict[str, Any]]

_MISSING: Any = object()


def _get(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def get_path(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of ``doc``, None where there is none."""
    value = _get(doc, path)
    return None if value is _MISSING else value


def _put(doc: Doc, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def apply_update(doc: Doc | None, doc_id: DocId, update: Update) -> Doc:
    """The document after ``update`` (an upsert when ``doc`` is None); ``doc`` is untouched."""
    new = {"_id": doc_id} if doc is None else _copied(doc)
    for op, fields in update.items():
        if op == "$setOnInsert" and doc is not None:
            continue
        if op not in ("$set", "$setOnInsert", "$inc", "$addToSet"):
            raise ValueError(f"unsupported update operator {op}")
        for path, value in fields.items():
            if op == "$addToSet":
                value = _added(_get(new, path), value)
            elif op == "$inc":
                current = _get(new, path)
                value = (0 if current is _MISSING else current) + value
            _put(new, path, _copied(value))
    return new


_IMMUTABLE = (str, int, float, datetime, bytes, type(None))  # shared by copies, never changed


def _copied(value: Any) -> Any:
    """``copy.deepcopy`` of document data, a few times faster: plain dicts and lists are
    rebuilt, immutable values shared, anything else deep-copied."""
    if type(value) is dict:
        return {key: _copied(item) for key, item in value.items()}
    if type(value) is list:
        return [_copied(item) for item in value]
    return value if isinstance(value, _IMMUTABLE) else copy.deepcopy(value)


def _added(current: Any, operand: Any) -> list[Any]:
    """``$addToSet`` (with or without ``$each``): the array with the new values appended."""
    values = operand["$each"] if isinstance(operand, Mapping) else [operand]
    array = [] if current is _MISSING or current is None else list(current)
    return array + [v for i, v in enumerate(values) if v not in array and v not in values[:i]]


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """MongoDB's answer for ``doc`` against a query of equalities, comparisons (``$lt``,
    ``$lte``, ``$gt``, ``$gte``), ``$eq``, ``$in``, ``$regex`` (with ``$options`` ``i``),
    ``$or``, and ``$elemMatch`` with operators (an array with an element meeting them:
    ``{"lists": {"$elemMatch": {"$eq": "category:x"}}}``). A plain equality compares an
    array as a whole, not element by element as MongoDB would too.

    Any other operator raises ``ValueError``: read as an equality it would match nothing.
    """
    for key, cond in query.items():
        if key == "$or":
            if not any(matches(doc, branch) for branch in cond):
                return False
        elif key.startswith("$"):
            raise ValueError(f"unsupported query operator {key}")
        elif isinstance(cond, Mapping) and any(str(op).startswith("$") for op in cond):
            if not _meets(_get(doc, key), cond):
                return False
        else:
            value = _get(doc, key)
            if not _equal(None if value is _MISSING else value, cond):
                return False
    return True


def _equal(value: Any, wanted: Any) -> bool:
    """MongoDB's equality: as Python's, except that a bool never equals a number."""
    return value == wanted and isinstance(value, bool) == isinstance(wanted, bool)


def _meets(value: Any, cond: Mapping[str, Any]) -> bool:
    """Whether a field's ``value`` meets every operator of ``cond``."""
    value = None if value is _MISSING else value
    for op, operand in cond.items():
        if op == "$in":
            if not any(_equal(value, choice) for choice in operand):
                return False
        elif op == "$eq":
            if not _equal(value, operand):
                return False
        elif op == "$elemMatch":
            if not isinstance(operand, Mapping) or not all(
                    str(inner).startswith("$") for inner in operand):
                raise ValueError("unsupported query operator $elemMatch on documents")
            if not isinstance(value, list) or not any(_meets(item, operand) for item in value):
                return False
        elif op == "$regex":
            flags = re.IGNORECASE if "i" in cond.get("$options", "") else 0
            if not isinstance(value, str) or not re.search(operand, value, flags):
                return False
        elif op in _COMPARE:
            if value is None or _rank(value) != _rank(operand) or not _COMPARE[op](value, operand):
                return False
        elif op != "$options":
            raise ValueError(f"unsupported query operator {op}")
    return True


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": operator.lt, "$lte": operator.le, "$gt": operator.gt, "$gte": operator.ge,
}


def _rank(value: Any) -> int:
    """MongoDB's order of types: missing and null, numbers, strings, objects, arrays, bools,
    dates."""
    if value is None or value is _MISSING:
        return 0
    if isinstance(value, bool):
        return 5
    if isinstance(value, int | float):
        return 1
    if isinstance(value, str):
        return 2
    if isinstance(value, Mapping):
        return 3
    if isinstance(value, list | tuple):
        return 4
    return 6


def sort_docs(docs: list[Doc], sort: Sequence[tuple[str, int]]) -> list[Doc]:
    """``docs`` in MongoDB's order for ``sort`` (``[(path, 1 | -1)]``), then by ``_id``;
    values of different types order by type, missing ones as null."""
    ordered = sorted(docs, key=lambda d: _sort_value(d["_id"]))
    for path, direction in reversed(sort):
        ordered.sort(key=lambda d: _sort_value(_get(d, path)), reverse=direction < 0)
    return ordered


def _sort_value(value: Any) -> tuple[int, Any]:
    rank = _rank(value)
    return (rank, value if rank in (1, 2, 5, 6) else None)


# What a document of a data collection needs to be read as its model: its required
# fields, by BSON type. MongoDB keeps any document; one that misses these is corrupt.
