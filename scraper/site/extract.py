"""Fields from HTML with versioned selectors: pure and synchronous, no I/O.

Versions are tried newest first. A page takes the first version whose required fields
all match; a list page the first version whose every item is complete. When none fits,
the newest version's partial result comes back with what is missing, so the caller can
retry the page or count it as drift (:meth:`Extraction.raise_if_missing`).

The document is parsed once per call with parsel; each field's XPath was compiled when
its selector file was loaded and is evaluated with the file's variables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import parsel
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from ..errors import ExtractionError
from .convert import Converter, converter
from .selector_files import FieldSpec, SelectorSet

__all__ = [
    "Extraction",
    "ItemsExtraction",
    "extract_items",
    "extract_page",
    "string_value",
    "xpath_strings",
]

_STRING_VALUE = etree.XPath("string()")


def string_value(node: Any) -> str:
    """An element's XPath string value: all its text, descendants included."""
    return str(_STRING_VALUE(node))


@dataclass(frozen=True, slots=True)
class Extraction:
    """A page's fields and the selector version (``video@v1``) that produced them."""

    values: dict[str, Any]
    version: str
    fallback: bool
    missing: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.missing

    def raise_if_missing(self) -> None:
        """Raise :class:`ExtractionError` naming the missing required fields, if any."""
        if self.missing:
            raise ExtractionError(
                f"{self.version}: required fields missing: {', '.join(self.missing)}",
                missing=self.missing,
            )


@dataclass(frozen=True, slots=True)
class ItemsExtraction:
    """A list page's complete items; incomplete ones are dropped and counted."""

    items: list[dict[str, Any]]
    version: str
    fallback: bool
    missing_items: int = 0
    missing: tuple[str, ...] = ()  # required fields absent from the dropped items


def extract_page(html: str, versions: Sequence[SelectorSet], *, base_scheme: str,
                 base_url: str | None = None) -> Extraction:
    """Fields of one page, from the newest version whose required fields all match."""
    _check(versions, list_page=False)
    root = parsel.Selector(text=html).root
    convs = _Converters(base_scheme, base_url)
    first: Extraction | None = None
    for index, selector_set in enumerate(versions):
        values, missing = _fields(root, selector_set.fields, convs)
        result = Extraction(values, selector_set.label, index > 0, missing)
        if not missing:
            return result
        first = first or result
    assert first is not None
    return Extraction(first.values, first.version, False, first.missing)


def extract_items(html: str, versions: Sequence[SelectorSet], *, base_scheme: str,
                  base_url: str | None = None) -> ItemsExtraction:
    """Items of a list page, from the newest version that finds items and drops none.

    When every version drops some, the one with the most complete items wins (the newest
    on a tie); when none finds any, the newest version's empty result is returned.
    """
    _check(versions, list_page=True)
    root = parsel.Selector(text=html).root
    convs = _Converters(base_scheme, base_url)
    best: ItemsExtraction | None = None
    for index, selector_set in enumerate(versions):
        result = _items(root, selector_set, convs, fallback=index > 0)
        if result.items and not result.missing_items:
            return result
        if best is None or len(result.items) > len(best.items):
            best = result
    assert best is not None
    return best


def _check(versions: Sequence[SelectorSet], *, list_page: bool) -> None:
    if not versions:
        raise ValueError("no selector versions given")
    for selector_set in versions:
        if (selector_set.items is not None) != list_page:
            use = "extract_items" if selector_set.items is not None else "extract_page"
            raise ValueError(f"{selector_set.label} is read with {use}")


def _items(root: Any, selector_set: SelectorSet, convs: _Converters, *,
           fallback: bool) -> ItemsExtraction:
    items: list[dict[str, Any]] = []
    dropped = 0
    missing: dict[str, None] = {}
    for node in selector_set.items_compiled(root):
        values, absent = _fields(node, selector_set.fields, convs)
        if absent:
            dropped += 1
            missing.update(dict.fromkeys(absent))
        else:
            items.append(values)
    return ItemsExtraction(items, selector_set.label, fallback, dropped, tuple(missing))


def _fields(node: Any, fields: Mapping[str, FieldSpec],
            convs: _Converters) -> tuple[dict[str, Any], tuple[str, ...]]:
    values: dict[str, Any] = {}
    missing: list[str] = []
    found: dict[tuple[Any, ...], list[str]] = {}
    for name, spec in fields.items():
        texts = found.get(spec.key)
        if texts is None:
            texts = found[spec.key] = xpath_strings(spec.compiled(node, **spec.vars))
        value = _field(texts, spec, convs)
        if value is None or value == []:
            if spec.required:
                missing.append(name)
            value = spec.default
        values[name] = value
    return values, tuple(missing)


def _field(texts: list[str], spec: FieldSpec, convs: _Converters) -> Any:
    if spec.regex is not None:
        texts = [_group(m) for m in map(spec.regex.search, texts) if m]
    if spec.convert == "bool_present":
        return bool(texts)
    convert = convs[spec.convert]
    if spec.many:
        return [v for v in map(convert, texts) if v is not None]
    # One value is the first match; if it does not convert, the field is missing rather
    # than silently taken from a later node.
    return convert(texts[0]) if texts else None


def xpath_strings(result: Any) -> list[str]:
    """XPath results as strings: element -> its text (XPath string()), attribute -> value.
    The one reading of a field's result; selector repair checks candidates through it."""
    if isinstance(result, list):
        return [r if isinstance(r, str) else string_value(r) for r in result]
    if isinstance(result, bool):
        return ["true"] if result else []
    if isinstance(result, float):
        return [str(int(result)) if result.is_integer() else str(result)]
    return [result] if result else []


def _group(match: Any) -> str:
    return str(match.group(1) if match.re.groups else match.group(0))


class _Converters(dict[str, Converter]):
    """Converters bound to the page's scheme and URL, made on first use per call."""

    def __init__(self, scheme: str, base_url: str | None) -> None:
        super().__init__()
        self.scheme, self.base_url = scheme, base_url

    def __missing__(self, name: str) -> Converter:
        self[name] = fn = converter(name, scheme=self.scheme, base_url=self.base_url)
        return fn
