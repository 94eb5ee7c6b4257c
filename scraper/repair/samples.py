"""The sample pages of a relocation: parsed once, read exactly as the extractor reads them,
and judged against the values known for them.

A value is read as :mod:`scraper.extract` reads it (first match, regex, converter) and is
*ambiguous* when later matches disagree: a selector that happens to find the right value
first is still wrong. Verdicts per context (the page, or one item) are agree, wrong, miss
or unknown; :class:`Tally` sums them per page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import parsel
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from ..site.convert import Converter, converter
from ..site.extract import xpath_strings
from ..site.selector_files import FieldSpec, compile_xpath
from .fingerprint import read_source, searchable

__all__ = [
    "ABSENT",
    "NOT_KNOWN",
    "Between",
    "Page",
    "Repair",
    "Run",
    "Sample",
    "Tally",
    "agrees",
    "describe_miss",
    "expected",
    "judge",
    "page_label",
    "value_of",
]

_MAX_TEXT = 500
_ATTR_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")  # what an XPath can read as /@name


@dataclass(frozen=True, slots=True)
class Sample:
    """A live page and the values known for it, converted as the store holds them.

    A key that is missing is unknown; ``None`` (or the field's default) means the page has
    no such value. A list page's values are ``{"items": [{field: value}, …]}``, one dict per
    item on the page; items the page no longer shows are skipped, and nodes holding no
    known item (new items, ads) lower the item container's confidence.
    """

    html: str
    url: str
    known: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Between:
    """A known number that may have moved since it was stored: views and comments only
    grow, so a count stored as 22000 can be given as ``Between(22000, 44000)``."""

    low: float
    high: float

    def holds(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and \
            self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class Repair:
    """What happened to one field (``items`` for a list page's container XPath).

    ``gone``: an optional field whose element is on none of the samples any more; a new
    version leaves it out."""

    field: str
    old_xpath: str
    status: Literal["ok", "repaired", "unrepaired", "gone"]
    new_xpath: str | None
    new_regex: str | None
    confidence: float
    pages_agreeing: int
    pages_checked: int
    reason: str
    disagreements: tuple[str, ...] = ()  # what the pages that did not agree gave


@dataclass(slots=True)
class Page:
    """One parsed sample and the (node, known values) pairs its fields are read from."""

    root: Any
    url: str
    known: Mapping[str, Any]
    scheme: str
    contexts: list[tuple[Any, Mapping[str, Any]]] = field(default_factory=list)
    _convs: dict[str, Converter] = field(default_factory=dict)
    anchor_cache: list[list[Any] | None] | None = None  # filled by relocate_items.anchors

    def converter(self, spec: FieldSpec) -> Converter:
        conv = self._convs.get(spec.convert)
        if conv is None:
            conv = self._convs[spec.convert] = converter(
                spec.convert, scheme=self.scheme, base_url=self.url)
        return conv

    @property
    def items(self) -> list[Mapping[str, Any]] | None:
        items = self.known.get("items")
        return list(items) if isinstance(items, Sequence) and items else None


class Run:
    """The samples of one relocation, parsed once, with their compiled XPaths."""

    def __init__(self, samples: Sequence[Sample], scheme: str) -> None:
        # type="html": parsel would read a body that looks like JSON as JSON.
        self.pages = [Page(parsel.Selector(text=s.html, type="html").root, s.url, s.known,
                           scheme) for s in samples]
        for page in self.pages:
            page.contexts = [(page.root, page.known)]
        self.items = False
        # Per run, not global: lxml XPath objects must not be shared across threads.
        self._compiled: dict[str, Any] = {}
        self._atoms: dict[Any, list[tuple[Any, str, str]]] = {}

    def compiled(self, xpath: str) -> Any:
        found = self._compiled.get(xpath)
        if found is None:
            try:
                found = compile_xpath(xpath)
            except etree.XPathError:  # a candidate lxml cannot read never matches
                found = _never
            self._compiled[xpath] = found
        return found

    def atoms(self, ctx: Any) -> list[tuple[Any, str, str]]:
        """Every (element, source, raw string) under ``ctx`` that a field might read:
        short string values (a field is never the text of a whole section) and attributes."""
        found = self._atoms.get(ctx)
        if found is None:
            texts = _short_strings(ctx)
            found = self._atoms[ctx] = []
            for el in ctx.iter():
                if searchable(el):
                    if (text := texts.get(el)) and text.strip():
                        found.append((el, "text", text))
                    found += [(el, "@" + str(k), str(v)) for k, v in el.attrib.items()
                              if _ATTR_NAME.match(str(k))]
        return found

    def strings(self, xpath: str, ctx: Any, variables: Mapping[str, Any]) -> list[str]:
        """What the extractor reads: elements as their string value, attributes as text."""
        return xpath_strings(self.compiled(xpath)(ctx, **variables))

    def read(self, loc: str, source: str, ctx: Any) -> list[tuple[Any, str]]:
        """``(element, raw)`` for each element ``loc`` selects that has ``source``."""
        return [(el, raw) for el in self.compiled(loc)(ctx)
                if isinstance(el, etree._Element) and (raw := read_source(el, source)) is not None]


def _never(ctx: Any, **variables: Any) -> list[Any]:
    return []


def _short_strings(ctx: Any) -> dict[Any, str]:
    """XPath string values up to ``_MAX_TEXT`` characters, built bottom-up in one pass
    (``string()`` on every element would re-read each subtree once per ancestor)."""
    texts: dict[Any, str] = {}
    for el in reversed(list(ctx.iter())):  # descendants come before their ancestors
        if not isinstance(el.tag, str):
            continue
        parts = [el.text or ""]
        for child in el:
            if isinstance(child.tag, str):  # comments add only their tail, like string()
                if (part := texts.get(child)) is None:
                    break
                parts.append(part)
            parts.append(child.tail or "")
        else:
            if len(text := "".join(parts)) <= _MAX_TEXT:
                texts[el] = text
    return texts


def value_of(raws: list[str], regex: re.Pattern[str] | None, convert: str, many: bool,
             conv: Converter) -> tuple[Any, bool]:
    """The field's value as the extractor would give it, and whether later matches
    disagree with it (an ambiguous selector)."""
    if regex is not None:
        raws = [str(m.group(1) if m.re.groups else m.group(0))
                for m in map(regex.search, raws) if m]
    if convert == "bool_present":
        return bool(raws), False
    values = [conv(r) for r in raws]
    if many:
        return [v for v in values if v is not None], False
    distinct = {repr(v) for v in values if v is not None}
    return (values[0] if values else None), len(distinct) > 1


# --- judging --------------------------------------------------------------------------

NOT_KNOWN, ABSENT = object(), object()


def expected(spec: FieldSpec, known: Mapping[str, Any]) -> Any:
    """The value ``known`` holds for the field, ``NOT_KNOWN``, or ``ABSENT`` (the page has
    none: ``None`` or the field's default was stored)."""
    if spec.name not in known:
        return NOT_KNOWN
    value = known[spec.name]
    if value is None or (not spec.required and value == spec.default):
        return ABSENT
    return value


def agrees(value: Any, want: Any) -> bool:
    return want.holds(value) if isinstance(want, Between) else bool(value == want)


def judge(spec: FieldSpec, regex: re.Pattern[str] | None, raws: list[str], want: Any,
          page: Page) -> str:
    """One context's verdict, with the extractor's semantics: agree, wrong, miss, unknown.
    Later matches that disagree with the first make the value ambiguous, hence wrong."""
    if want is NOT_KNOWN:
        return "unknown"
    value, ambiguous = value_of(raws, regex, spec.convert, spec.many, page.converter(spec))
    if want is ABSENT:
        return "agree" if value in (None, [], spec.default) else "wrong"
    if ambiguous:
        return "wrong"
    if value is None or value == []:
        return "miss"
    return "agree" if agrees(value, want) else "wrong"


@dataclass(slots=True)
class Tally:
    """Verdicts summed over pages: a page agrees when none of its contexts is wrong or
    missing; one wrong value anywhere marks the whole candidate wrong."""

    agree: int = 0
    checked: int = 0
    wrong: bool = False
    seen: frozenset[str] = frozenset()  # distinct known values met: one alone proves little
    multi: bool = False  # some context selected several elements (the value among others)
    missed: list[Page] = field(default_factory=list)  # checked pages that did not agree
    notes: list[str] = field(default_factory=list)  # what each of them gave

    def add(self, verdicts: list[str], seen: set[str], *, page: Page | None = None,
            note: str = "") -> None:
        if "wrong" in verdicts:
            self.wrong = True
        elif verdicts and set(verdicts) != {"unknown"}:
            self.checked += 1
            self.agree += "miss" not in verdicts
            self.seen = self.seen | seen
            if "miss" in verdicts and page is not None:
                self.missed.append(page)
                self.notes.append(note)


def page_label(url: str) -> str:
    """A sampled page as the report names it: the last part of its URL."""
    return url.rstrip("/").rsplit("/", 1)[-1] or url


def describe_miss(value: Any, want: Any) -> str:
    """What a page gave instead of its known value, for the report."""
    known = f"{want.low:g}–{want.high:g}" if isinstance(want, Between) else repr(want)
    gave = "nothing" if value is None or value == [] else repr(value)
    return f"gave {gave}, known {known}"
