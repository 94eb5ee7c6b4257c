"""Versioned selector files: loading, validation, compiled XPath (``selector_writer.py``
writes new versions).

Layout (data only, no Python under ``selectors/``)::

    selectors/
      <site>/site.toml                     a site profile (``site_profile.py``) names its <set>
      <set>/pages/<page>/v<N>.toml         selector files

A released ``v<N>.toml`` is never edited: a layout change gets a new version recording
``derived_from``, ``created`` and ``reason``, and the extractor tries versions newest first.

Every malformed file raises :class:`SelectorFileError` with one line naming the file, the
key or field, and what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import parsel  # noqa: F401  (importing parsel registers has-class() for lxml XPath)
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from ..errors import SelectorFileError
from .convert import CONVERTER_NAMES
from .profile import SiteProfile
from .toml_fields import field_error, read_toml, reject_unknown, require

__all__ = [
    "FieldSpec",
    "SelectorSet",
    "compile_xpath",
    "load_page_dir",
    "load_selectors",
    "native_xpath",
    "parse_file",
    "version_number",
]

_META_KEYS = {"page", "version", "created", "derived_from", "reason", "items"}
_FIELD_KEYS = {"xpath", "vars", "regex", "convert", "required", "default", "many"}
_VERSION_FILE = re.compile(r"^v(\d+)\.toml$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# XPath 1.0 functions and node tests, parsel's has-class() and EXSLT regular expressions.
_XPATH_NS = {"re": "http://exslt.org/regular-expressions"}
_XPATH_FUNCTIONS = frozenset(
    "last position count id local-name namespace-uri name string concat starts-with contains "
    "substring-before substring-after substring string-length normalize-space translate "
    "boolean not true false lang number sum floor ceiling round node text comment "
    "processing-instruction has-class re:test re:match re:replace and or div mod".split()
)
_XPATH_LITERAL = re.compile(r"\"[^\"]*\"|'[^']*'")
_XPATH_CALL = re.compile(r"(?<![\w$.-])([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)\s*\(")
_XPATH_VAR = re.compile(r"\$([A-Za-z_][\w.-]*)")
# has-class() is parsel's Python function, called once per node tested: 4-5 times slower
# than the same test in native XPath. The files say has-class("x") (readable, parsel's
# idiom); what is compiled is the native equivalent, for class names given as literals.
_HAS_CLASS = re.compile(
    r"(?P<literal>\"[^\"]*\"|'[^']*')"
    r"|(?<![\w.-])has-class\(\s*(?P<args>(?:\"[^\"\s]+\"|'[^'\s]+')"
    r"(?:\s*,\s*(?:\"[^\"\s]+\"|'[^'\s]+'))*)\s*\)"
)
_PROBE = etree.fromstring("<html><body><div class='x'>1</div></body></html>")


# --- selector files --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one field is read: XPath (with variables), optional regex, converter."""

    name: str
    xpath: str
    convert: str = "text"
    required: bool = False
    default: Any = None
    many: bool = False
    regex: re.Pattern[str] | None = None
    vars: Mapping[str, str | int | float] = field(default_factory=lambda: MappingProxyType({}))
    # lxml's compiled form of ``xpath``, evaluated by the extractor (compiling costs more
    # than evaluating, and a catalogue page evaluates each item field 15 times).
    compiled: Any = field(default=None, compare=False, repr=False)
    # Fields reading the same nodes (``duration_text``/``duration_s``) share one evaluation.
    key: tuple[Any, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.xpath, *sorted(self.vars.items())))
        if self.compiled is None:  # built in code (a refresh), not loaded from a file
            object.__setattr__(self, "compiled", compile_xpath(self.xpath))

    def to_toml(self) -> dict[str, Any]:
        """The field as a selector-file table (only the keys that differ from defaults)."""
        table: dict[str, Any] = {"xpath": self.xpath, "convert": self.convert,
                                 "required": self.required}
        if self.vars:
            table["vars"] = dict(self.vars)
        if self.regex is not None:
            table["regex"] = self.regex.pattern
        if self.many:
            table["many"] = True
        if self.default is not None:
            table["default"] = self.default
        return table


@dataclass(frozen=True, slots=True)
class SelectorSet:
    """One version of the selectors of one page type (a ``v<N>.toml`` file)."""

    page: str
    version: int
    path: Path
    meta: Mapping[str, Any]
    fields: Mapping[str, FieldSpec]
    items: str | None = None
    items_compiled: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.items is not None and self.items_compiled is None:
            object.__setattr__(self, "items_compiled", compile_xpath(self.items))

    @property
    def label(self) -> str:
        """``page@vN``, as recorded with every extracted document."""
        return f"{self.page}@v{self.version}"

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, spec in self.fields.items() if spec.required)


def load_selectors(profile: SiteProfile, page: str) -> tuple[SelectorSet, ...]:
    """Every version of ``page``'s selectors for ``profile``, newest first."""
    return load_page_dir(profile.pages_dir / page)


def load_page_dir(page_dir: Path) -> tuple[SelectorSet, ...]:
    """Every ``v<N>.toml`` in one page directory, validated, newest first."""
    files = sorted(page_dir.glob("*.toml")) if page_dir.is_dir() else []
    if not files:
        raise SelectorFileError(f"{page_dir}: no selector files (expected v1.toml, v2.toml, …)")
    sets: dict[int, SelectorSet] = {}
    for path in files:
        selector_set = parse_file(path, read_toml(path), page=page_dir.name)
        if selector_set.version in sets:
            raise field_error(path, "meta 'version'", f"version {selector_set.version} also in "
                        f"{sets[selector_set.version].path.name}")
        sets[selector_set.version] = selector_set
    for selector_set in sets.values():
        parent = selector_set.meta["derived_from"]
        if parent and parent not in sets:
            raise field_error(selector_set.path, "meta 'derived_from'", f"no version {parent} here")
    return tuple(sets[v] for v in sorted(sets, reverse=True))


def version_number(file_name: str) -> int | None:
    """N of a selector file named ``v<N>.toml``; None for any other name."""
    match = _VERSION_FILE.match(file_name)
    return int(match[1]) if match else None


def parse_file(path: Path, doc: dict[str, Any], *, page: str) -> SelectorSet:
    """A selector file's parsed TOML ``doc``, validated; ``path`` names it in errors."""
    reject_unknown(path, doc, {"meta", "fields"}, label="table")
    meta = dict(require(path, doc, "meta", dict, label="table"))
    reject_unknown(path, meta, _META_KEYS, label="meta")
    match = _VERSION_FILE.match(path.name)
    if not match:
        raise field_error(path, "file name", "expected v<N>.toml")
    version = require(path, meta, "version", int, label="meta")
    if version != int(match[1]) or version < 1:
        raise field_error(path, "meta 'version'", f"{version} does not match the file name")
    if require(path, meta, "page", str, label="meta") != page:
        raise field_error(path, "meta 'page'",
                          f"{meta['page']!r} differs from the directory {page!r}")
    derived = require(path, meta, "derived_from", int, label="meta")
    if not 0 <= derived < version:
        raise field_error(path, "meta 'derived_from'", f"must be 0 (none) or below {version}")
    require(path, meta, "reason", str, label="meta")
    meta["created"] = _created(path, meta)
    items = meta.get("items")
    items_compiled = None
    if items is not None:
        items = require(path, meta, "items", str, label="meta")
        items_compiled = _compile(path, "meta 'items'", items, {})
    table = require(path, doc, "fields", dict, label="table")
    if not table:
        raise field_error(path, "table 'fields'", "no field defined")
    fields = {name: _parse_field(path, name, spec, relative=items is not None)
              for name, spec in table.items()}
    return SelectorSet(page=page, version=version, path=path, meta=MappingProxyType(meta),
                       fields=MappingProxyType(fields), items=items,
                       items_compiled=items_compiled)


def _created(path: Path, meta: Mapping[str, Any]) -> str:
    created = require(path, meta, "created", (str, date), label="meta")
    try:
        day = created if isinstance(created, date) else date.fromisoformat(created)
        return day.isoformat()[:10]
    except ValueError:
        raise field_error(path, "meta 'created'", f"not a YYYY-MM-DD date: {created!r}") from None


def _parse_field(path: Path, name: str, spec: Any, *, relative: bool) -> FieldSpec:
    where = f"field '{name}'"
    if not _NAME.match(name):
        raise field_error(path, where, "field names are lower_snake_case")
    if not isinstance(spec, dict):
        raise field_error(path, where, "expected a table")
    for key in spec:
        if key not in _FIELD_KEYS:
            raise field_error(path, where, f"unknown key '{key}'; expected one of: "
                        f"{', '.join(sorted(_FIELD_KEYS))}")
    if "xpath" not in spec:
        raise field_error(path, where, "missing xpath")
    xpath, variables = spec["xpath"], spec.get("vars", {})
    if not isinstance(xpath, str) or not isinstance(variables, dict) or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool)
            for v in variables.values()):
        raise field_error(path, where, "xpath must be a string and vars a table of strings/numbers")
    if relative and xpath.lstrip("( ").startswith("/"):
        raise field_error(path, where, f"item fields are relative to the item: start with './/', "
                    f"not '/': {xpath!r}")
    convert = spec.get("convert", "text")
    if convert not in CONVERTER_NAMES:
        raise field_error(path, where, f"unknown converter {convert!r}; expected one of: "
                    f"{', '.join(sorted(CONVERTER_NAMES))}")
    required, many = spec.get("required", False), spec.get("many", False)
    if not isinstance(required, bool) or not isinstance(many, bool):
        raise field_error(path, where, "required and many must be true or false")
    if required and spec.get("default") is not None:
        raise field_error(path, where, "a required field cannot have a default")
    return FieldSpec(name=name, xpath=xpath, convert=convert, required=required,
                     default=spec.get("default"), many=many,
                     regex=_regex(path, where, spec.get("regex", "")),
                     vars=MappingProxyType(variables),
                     compiled=_compile(path, where, xpath, variables))


def _regex(path: Path, where: str, pattern: Any) -> re.Pattern[str] | None:
    if not isinstance(pattern, str):
        raise field_error(path, where, "regex must be a string")
    try:
        return re.compile(pattern) if pattern else None
    except re.error as exc:
        raise field_error(path, where, f"bad regex {pattern!r}: {exc}") from None


def compile_xpath(xpath: str) -> Any:
    """``xpath`` compiled as the extractor evaluates it (raises lxml's ``XPathSyntaxError``)."""
    return etree.XPath(native_xpath(xpath), namespaces=_XPATH_NS, smart_strings=False)


def _compile(path: Path, where: str, xpath: str, variables: Mapping[str, Any]) -> Any:
    """Compile ``xpath``; lxml only reports syntax, so names are checked here too."""
    try:
        compiled = compile_xpath(xpath)
    except etree.XPathError as exc:
        raise field_error(path, where, f"xpath does not compile ({exc}): {xpath!r}") from None
    code = _XPATH_LITERAL.sub('""', xpath)
    for function in _XPATH_CALL.findall(code):
        if function not in _XPATH_FUNCTIONS:
            raise field_error(path, where, f"unknown XPath function {function}(): {xpath!r}")
    for variable in _XPATH_VAR.findall(code):
        if variable not in variables:
            raise field_error(path, where, f"xpath uses ${variable} but vars does not define it")
    try:
        compiled(_PROBE, **variables)
    except etree.XPathError as exc:
        raise field_error(path, where, f"xpath fails to evaluate ({exc}): {xpath!r}") from None
    return compiled


def native_xpath(xpath: str) -> str:
    """``xpath`` with each literal ``has-class("a", …)`` spelled in native XPath 1.0."""
    def replace(match: re.Match[str]) -> str:
        if match["literal"]:
            return match["literal"]
        names = _XPATH_LITERAL.findall(match["args"])
        return "(" + " and ".join(
            f"contains(concat(' ', normalize-space(@class), ' '), {name[0]} {name[1:-1]} {name[0]})"
            for name in names) + ")"
    return _HAS_CLASS.sub(replace, xpath)
