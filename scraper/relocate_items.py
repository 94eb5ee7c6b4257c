"""What :mod:`scraper.relocate` stands on: samples parsed once, values read exactly as the
extractor reads them, and a list page's item container found again.

An item container XPath is right on a page when every node it selects holds the values of
exactly one known item and every known item is held by one node: no card is split, merged,
missed or added (an ad card with the same class is an extra, hence wrong). Items are
recognised by *anchors*, the elements whose text or attribute equals a string value that
only one known item has (its title, URL, id); nothing here depends on the old selectors.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Literal, Protocol

import parsel
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from .convert import Converter, converter
from .fingerprint import STRING_VALUE, locators, read_source, searchable
from .selector_files import compile_xpath

__all__ = ["Page", "Repair", "Run", "Sample", "item_contexts", "relocate_items", "value_of"]


@dataclass(frozen=True, slots=True)
class Sample:
    """A live page and the values known for it, converted as the store holds them.

    A key that is missing is unknown; ``None`` (or the field's default) means the page has
    no such value. A list page's values are ``{"items": [{field: value}, …]}``, one dict per
    item on the page, all of them.
    """

    html: str
    url: str
    known: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Repair:
    """What happened to one field (``items`` for a list page's container XPath)."""

    field: str
    old_xpath: str
    status: Literal["ok", "repaired", "unrepaired"]
    new_xpath: str | None
    new_regex: str | None
    confidence: float
    pages_agreeing: int
    pages_checked: int
    reason: str


class _HasConvert(Protocol):
    @property
    def convert(self) -> str: ...


@dataclass(slots=True)
class Page:
    """One parsed sample and the (node, known values) pairs its fields are read from."""

    root: Any
    url: str
    known: Mapping[str, Any]
    scheme: str
    contexts: list[tuple[Any, Mapping[str, Any]]] = field(default_factory=list)
    _convs: dict[str, Converter] = field(default_factory=dict)
    _anchors: list[list[Any]] | None = None

    def converter(self, spec: _HasConvert) -> Converter:
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
        self.pages = [Page(parsel.Selector(text=s.html).root, s.url, s.known, scheme)
                      for s in samples]
        for page in self.pages:
            page.contexts = [(page.root, page.known)]
        self.items = False
        self._compiled: dict[str, Any] = {}  # per run: lxml XPath objects are not shared
                                             # across threads

    def compiled(self, xpath: str) -> Any:
        found = self._compiled.get(xpath)
        if found is None:
            found = self._compiled[xpath] = compile_xpath(xpath)
        return found

    def strings(self, xpath: str, ctx: Any, variables: Mapping[str, Any]) -> list[str]:
        """What the extractor reads: elements as their string value, attributes as text."""
        result = self.compiled(xpath)(ctx, **variables)
        if isinstance(result, list):
            return [r if isinstance(r, str) else str(STRING_VALUE(r)) for r in result]
        if isinstance(result, bool):
            return ["true"] if result else []
        if isinstance(result, float):
            return [str(int(result)) if result.is_integer() else str(result)]
        return [result] if result else []

    def read(self, loc: str, source: str, ctx: Any) -> list[tuple[Any, str]]:
        """``(element, raw)`` for each element ``loc`` selects that has ``source``."""
        return [(el, raw) for el in self.compiled(loc)(ctx)
                if isinstance(el, etree._Element) and (raw := read_source(el, source)) is not None]


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


# --- anchors and alignment -------------------------------------------------------------


def _index(page: Page) -> dict[str, list[Any]]:
    """Elements by the strings they show or carry (texts stripped, links made absolute)."""
    url = converter("url", scheme=page.scheme, base_url=page.url)
    index: dict[str, list[Any]] = {}
    for el in page.root.iter():
        if not searchable(el):
            continue
        text = read_source(el, "text") or ""
        keys = {text.strip(), " ".join(text.split())} if len(text) <= 300 else set()
        for value in el.attrib.values():
            keys |= {value.strip(), str(url(value) or "")}
        for key in keys - {""}:
            index.setdefault(key, []).append(el)
    return index


def anchors(page: Page) -> list[list[Any]]:
    """Per known item, the elements showing a string value no other item has."""
    if page._anchors is None:
        items = page.items or []
        strings = [{v for v in item.values() if isinstance(v, str) and v} for item in items]
        counts = Counter(v for values in strings for v in values)
        index = _index(page) if items else {}
        page._anchors = [list(dict.fromkeys(el for v in sorted(values) if counts[v] == 1
                                            for el in index.get(v, ())))
                         for values in strings]
    return page._anchors


def _align(containers: list[Any], item_anchors: list[list[Any]]) -> list[tuple[Any, int]] | None:
    """Pair containers with known items one to one, or ``None`` if they do not match."""
    index = {el: i for i, el in enumerate(containers)}
    claims: list[set[int]] = [set() for _ in containers]
    placed: list[set[int]] = [set() for _ in item_anchors]
    for k, nodes in enumerate(item_anchors):
        for node in nodes:
            hit = next((index[a] for a in chain((node,), node.iterancestors()) if a in index),
                       None)
            if hit is not None:  # anchors outside every container (a banner) do not count
                claims[hit].add(k)
                placed[k].add(hit)
    if any(len(s) > 1 for s in chain(claims, placed)):
        return None
    unplaced = [k for k, s in enumerate(placed) if not s]
    free = [c for c, s in zip(containers, claims, strict=True) if not s]
    if len(free) != len(unplaced) or any(item_anchors[k] for k in unplaced):
        return None
    pairs = [(c, next(iter(s))) for c, s in zip(containers, claims, strict=True) if s]
    return pairs + list(zip(free, unplaced, strict=True))  # anchorless items, in page order


def item_contexts(run: Run, xpath: str) -> bool:
    """Point every page's contexts at the items ``xpath`` selects; whether they all align."""
    run.items, ok = True, True
    for page in run.pages:
        containers = list(run.compiled(xpath)(page.root))
        items = page.items
        if items is None:
            page.contexts = [(c, {}) for c in containers]
            continue
        pairs = _align(containers, anchors(page)) if containers else None
        ok = ok and pairs is not None
        page.contexts = [(c, items[k]) for c, k in pairs or ()]
    return ok


# --- relocating the container ----------------------------------------------------------


def _container_nodes(item_anchors: list[list[Any]]) -> list[tuple[Any, bool]]:
    """For the first items: the elements holding all of one item's anchors and none of
    another's (the card and its wrappers), flagged True for the innermost."""
    counts: dict[Any, Counter[int]] = {}
    for k, nodes in enumerate(item_anchors):
        for node in nodes:
            for el in chain((node,), node.iterancestors()):
                counts.setdefault(el, Counter())[k] += 1
    found: list[tuple[Any, bool]] = []
    for k in range(min(3, len(item_anchors))):
        own = [(el, c[k]) for el, c in counts.items() if set(c) == {k}]
        if not own:
            continue
        top = max(n for _, n in own)
        wrappers = sorted((el for el, n in own if n == top),
                          key=lambda el: sum(1 for _ in el.iterancestors()))
        found += [(el, el is wrappers[-1]) for el in wrappers]
    return found


def _container_candidates(run: Run) -> list[tuple[str, float]]:
    scored: dict[str, float] = {}
    for page in [p for p in run.pages if p.items and any(anchors(p))][:2]:
        for el, innermost in _container_nodes(anchors(page)):
            for xpath, structure in locators(el, page.root, relative=False).items():
                # The innermost card element mirrors how item fields were written.
                prior = structure + (0.05 if innermost else 0.0)
                scored[xpath] = max(prior, scored.get(xpath, 0.0))
    return sorted(scored.items(), key=lambda kv: (-kv[1], len(kv[0])))


def relocate_items(run: Run, old: str, *, min_confidence: float) -> tuple[Repair, str | None]:
    """The item container's :class:`Repair` and the XPath to read items with (or None)."""
    pages = [p for p in run.pages if p.items]
    if item_contexts(run, old):
        return Repair("items", old, "ok", None, None, 1.0, len(pages), len(pages),
                      "still selects one node per known item"), old
    need = min(2, len(run.pages))
    for xpath, prior in _container_candidates(run):
        if all(_align(list(run.compiled(xpath)(p.root)), anchors(p)) for p in pages):
            confidence = round(0.8 + 0.2 * min(prior, 1.0), 3)
            if len(pages) < need or confidence < min_confidence:
                break
            item_contexts(run, xpath)
            return Repair("items", old, "repaired", xpath, None, confidence, len(pages),
                          len(pages), f"one node per known item on {len(pages)} pages"), xpath
    return Repair("items", old, "unrepaired", None, None, 0.0, 0, len(pages),
                  "no repeated element holds exactly one known item each"), None
