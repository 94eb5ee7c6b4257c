"""JSON(P) replies: unwrapping a callback, and the checks every reply reader shares.

A body that does not parse, or a value of the wrong shape, is ``MalformedResponse``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import MalformedResponse

__all__ = ["as_int", "as_list", "as_object", "load_body", "unwrap_jsonp"]

# What may precede the JSON value: `/**/`, `try{`, `typeof cb === 'function' && `, `cb(`.
_JSONP_HEAD = re.compile(
    r"""\s*(?:/\*.*?\*/\s*)?(?:try\s*\{\s*)?
        (?:typeof\s+[\w$.]+\s*===?\s*(['"])function\1\s*&&\s*)?
        [A-Za-z_$][\w$.]*\s*\(\s*""",
    re.VERBOSE | re.DOTALL,
)
# What may follow it: `)`, `;`, `}catch(e){}`.
_JSONP_TAIL = re.compile(r"\s*\)\s*;?\s*(?:\}\s*catch\s*\(\s*[\w$]*\s*\)\s*\{[^}]*\}\s*;?\s*)?")
_DECODER = json.JSONDecoder()


def unwrap_jsonp(text: str) -> Any:
    """Parse plain JSON or a JSONP call such as ``/**/ cb({...});``; ``MalformedResponse`` else."""
    body = text.lstrip("\ufeff").strip()
    if not body:
        raise MalformedResponse("empty body")
    if body[0] in "{[":
        return _decode(body, 0, tail=None)
    head = _JSONP_HEAD.match(body)
    if head is None:
        raise MalformedResponse(f"neither JSON nor JSONP: starts {body[:40]!r}")
    return _decode(body, head.end(), tail=_JSONP_TAIL)


def _decode(body: str, start: int, *, tail: re.Pattern[str] | None) -> Any:
    try:
        value, end = _DECODER.raw_decode(body, start)
    except json.JSONDecodeError as exc:
        raise MalformedResponse(f"bad JSON at char {exc.pos}: {exc.msg}") from exc
    rest = body[end:]
    if (tail.fullmatch(rest) is None) if tail else rest.strip():
        raise MalformedResponse(f"unexpected text after JSON: {rest[:40]!r}")
    return value


def load_body(body: str | Any) -> Any:
    return unwrap_jsonp(body) if isinstance(body, str) else body


def as_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedResponse(f"{what}: expected an object, got {type(value).__name__}")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponse(f"{what}: expected an array, got {type(value).__name__}")
    return value


def as_int(value: Any, what: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    try:
        return int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError) as exc:
        raise MalformedResponse(f"{what}: expected a number, got {value!r}") from exc
