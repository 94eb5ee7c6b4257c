"""New versions of selector files, written as a person would write them.

A released ``v<N>.toml`` is never edited: ``write_version`` validates a new version with
the loader's own checks and writes it beside the old ones, never over a file. Only
``refresh-selectors`` writes, so the crawl does not import the TOML writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import tomlkit

from .selector_files import FieldSpec, SelectorSet, parse_file, version_number
from .toml_fields import field_error

__all__ = ["next_version_path", "render_version", "write_version"]


def render_version(doc: Mapping[str, Any]) -> str:
    """A selector file as a person would write it: XPaths and regexes as literal strings
    (no escaped quotes or backslashes) and a note that the file is never edited."""
    out = tomlkit.document()
    out.add(tomlkit.comment(f"{doc['meta']['page'].capitalize()} page selectors, written by "
                            "refresh-selectors. Released: never edit; add a new version."))
    out.add("meta", _toml_table(doc["meta"]))
    fields = tomlkit.table(is_super_table=True)
    for name, spec in doc["fields"].items():
        fields.add(name, _toml_table(spec))
    out.add("fields", fields)
    return tomlkit.dumps(out)


def _toml_table(values: Mapping[str, Any]) -> Any:
    table = tomlkit.table()
    for key, value in values.items():
        table.add(key, _toml_value(value))
    return table


def _toml_value(value: Any) -> Any:
    if isinstance(value, str) and "'" not in value and "\n" not in value:
        return tomlkit.string(value, literal=True)
    return value


def next_version_path(page_dir: Path) -> Path:
    """The path the next version of a page's selectors would take (``v<max+1>.toml``)."""
    versions = [n for p in page_dir.glob("v*.toml") if (n := version_number(p.name))]
    return page_dir / f"v{max(versions, default=0) + 1}.toml"


def write_version(base: SelectorSet, *, reason: str,
                  fields: Mapping[str, FieldSpec | Mapping[str, Any]],
                  derived_from: int | None = None, items: str | None = None,
                  created: date | None = None, version: int | None = None) -> Path:
    """Write a new version of ``base``'s page beside it and return its path.

    ``derived_from`` defaults to ``base.version``, ``items`` to ``base.items``, ``version``
    to the next free number. The file is validated before it is written, and an existing
    file is never overwritten.
    """
    page_dir = base.path.parent
    path = page_dir / f"v{version}.toml" if version else next_version_path(page_dir)
    derived = base.version if derived_from is None else derived_from
    meta: dict[str, Any] = {
        "page": base.page, "version": version or int(path.stem[1:]),
        "created": created or date.today(), "derived_from": derived, "reason": reason,
    }
    if (items := items or base.items) is not None:
        meta["items"] = items
    doc = {"meta": meta, "fields": {name: spec.to_toml() if isinstance(spec, FieldSpec)
                                    else dict(spec) for name, spec in fields.items()}}
    parse_file(path, doc, page=base.page)
    if derived and not (page_dir / f"v{derived}.toml").is_file():
        raise field_error(path, "meta 'derived_from'", f"no version {derived} here")
    try:
        with path.open("x", encoding="utf-8") as fh:
            fh.write(render_version(doc))
    except FileExistsError:
        raise field_error(path, "write",
                          "file exists; a released version is never edited") from None
    return path
