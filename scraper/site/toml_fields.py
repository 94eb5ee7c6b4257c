"""Reading and checking TOML data files (site profiles, selector files).

Every malformed file raises :class:`SelectorFileError` with one line naming the file,
the key or field, and what is wrong.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import SelectorFileError

__all__ = ["field_error", "read_toml", "reject_unknown", "require"]


def field_error(path: Path, where: str, reason: str) -> SelectorFileError:
    return SelectorFileError(f"{path}: {where}: {reason}".replace("\n", " "))


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SelectorFileError(f"{path}: invalid TOML: {exc}".replace("\n", " ")) from exc
    except OSError as exc:
        raise SelectorFileError(f"{path}: cannot read: {exc.strerror}") from exc


def require(path: Path, table: Mapping[str, Any], key: str, kind: type | tuple[type, ...],
         *, label: str = "key", prefix: str = "") -> Any:
    where = f"{label} '{prefix}{key}'"
    if key not in table:
        raise field_error(path, where, "missing")
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise field_error(path, where, f"expected {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({str: "a string", int: "an integer", bool: "true or false",
                        dict: "a table", date: "a date"}.get(k, k.__name__) for k in kinds)


def reject_unknown(path: Path, table: Mapping[str, Any], allowed: set[str], *,
                label: str = "key", prefix: str = "") -> None:
    for key in table:
        if key not in allowed:
            raise field_error(path, f"{label} '{prefix}{key}'",
                        f"unknown key; expected one of: {', '.join(sorted(allowed))}")
