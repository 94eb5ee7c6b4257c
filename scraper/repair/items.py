"""A list page's items: recognised by their known values, and their container found again.

An item container XPath is right on a page when every known item the page shows is held
by exactly one node it selects and no node holds two: no card is split, merged or missed.
Nodes holding no known item are *extras* (items newer than the store's list, or an ad card
sharing the cards' class); of the candidates, the one with the fewest extras wins. Items
are recognised by *anchors*, the elements whose text or attribute equals a string value
only one known item has (its title, URL, id); nothing here depends on the old selectors.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from typing import Any

from ..site.convert import converter
from .fingerprint import locators, text_shape
from .samples import Page, Repair, Run

__all__ = ["anchors", "item_contexts", "relocate_items"]

_MAX_EXTRA = 0.2  # unknown nodes a still-working item XPath may select, per known item
_LINK = re.compile(r"^(?:https?:|/)\S*$")


def _index(run: Run, page: Page, wanted: set[str]) -> dict[str, list[Any]]:
    """The elements showing or carrying one of ``wanted`` (stripped, links absolute)."""
    url = converter("url", scheme=page.scheme, base_url=page.url)
    index: dict[str, list[Any]] = {}
    for el, source, raw in run.atoms(page.root):
        keys = {raw.strip(), " ".join(raw.split())}
        if source != "text" and _LINK.match(raw.strip()):  # urljoin is costly: links only
            keys.add(str(url(raw) or ""))
        for key in keys & wanted:
            index.setdefault(key, []).append(el)
    return index


def _distinctive(value: Any) -> bool:
    """Titles, links and ids; not counts or durations, which cards share by chance."""
    return isinstance(value, str) and len(value) >= 4 and text_shape(value) not in {
        "digits", "digits+unit", "mm:ss", "h:mm:ss"}


def anchors(run: Run, page: Page) -> list[list[Any] | None]:
    """Per known item, the elements showing a string value no other item has: ``[]`` for
    an item with no such value, ``None`` for one whose values are nowhere on the page
    (lists move on: the store may know items the live page no longer shows)."""
    if page.anchor_cache is None:
        items = page.items or []
        strings = [{v for v in item.values() if _distinctive(v)} for item in items]
        counts = Counter(v for values in strings for v in values)
        index = _index(run, page, {v for v, n in counts.items() if n == 1}) if items else {}
        page.anchor_cache = []
        for values in strings:
            unique = sorted(v for v in values if counts[v] == 1)
            nodes = list(dict.fromkeys(el for v in unique for el in index.get(v, ())))
            page.anchor_cache.append(nodes if nodes or not unique else None)
    return page.anchor_cache


@dataclass(frozen=True, slots=True)
class _Alignment:
    pairs: list[tuple[Any, int]]  # (container, index of its known item)
    extras: int  # containers holding no known item: new items, or an ad card


def _align(containers: list[Any], item_anchors: list[list[Any] | None]) -> _Alignment | None:
    """Pair containers with the known items on the page, one to one, or ``None`` when a
    container holds two items, an item spreads over two containers or is not held."""
    index = {el: i for i, el in enumerate(containers)}
    claims: list[set[int]] = [set() for _ in containers]
    placed: list[set[int]] = [set() for _ in item_anchors]
    for k, nodes in enumerate(item_anchors):
        for node in nodes or ():
            hit = next((index[a] for a in chain((node,), node.iterancestors()) if a in index),
                       None)
            if hit is not None:  # anchors outside every container (a banner) do not count
                claims[hit].add(k)
                placed[k].add(hit)
    if any(len(s) > 1 for s in chain(claims, placed)) or any(
            nodes and not placed[k] for k, nodes in enumerate(item_anchors)):
        return None
    pairs = [(c, next(iter(s))) for c, s in zip(containers, claims, strict=True) if s]
    if not pairs:
        return None
    free = [c for c, s in zip(containers, claims, strict=True) if not s]
    anchorless = [k for k, nodes in enumerate(item_anchors) if nodes == []]
    if anchorless and len(anchorless) == len(free):  # nothing else to go by: page order
        return _Alignment(pairs + list(zip(free, anchorless, strict=True)), 0)
    return _Alignment(pairs, len(free))


def _aligned(run: Run, xpath: str, page: Page) -> _Alignment | None:
    containers = list(run.compiled(xpath)(page.root))
    return _align(containers, anchors(run, page)) if containers else None


def item_contexts(run: Run, xpath: str) -> bool:
    """Point every page's contexts at the items ``xpath`` selects; whether every page's
    known items are each held by one of them (a few unknown extras allowed)."""
    run.items, ok = True, True
    for page in run.pages:
        items = page.items
        if items is None:
            page.contexts = [(c, {}) for c in run.compiled(xpath)(page.root)]
            continue
        found = _aligned(run, xpath, page)
        ok = ok and found is not None and found.extras <= _MAX_EXTRA * len(items)
        page.contexts = [(c, items[k]) for c, k in (found.pairs if found else ())]
    # With no known item anywhere, it works if it selects anything at all.
    return ok and any(page.contexts for page in run.pages)


# --- relocating the container ----------------------------------------------------------


def _container_nodes(item_anchors: list[list[Any] | None]) -> list[tuple[Any, bool]]:
    """For the first items: the elements holding all of one item's anchors and none of
    another's (the card and its wrappers), flagged True for the innermost."""
    counts: dict[Any, Counter[int]] = {}
    for k, nodes in enumerate(item_anchors):
        for node in nodes or ():
            for el in chain((node,), node.iterancestors()):
                counts.setdefault(el, Counter())[k] += 1
    found: list[tuple[Any, bool]] = []
    for k in [k for k, nodes in enumerate(item_anchors) if nodes][:3]:
        own = [(el, c[k]) for el, c in counts.items() if set(c) == {k}]
        top = max(n for _, n in own)
        wrappers = sorted((el for el, n in own if n == top),
                          key=lambda el: sum(1 for _ in el.iterancestors()))
        found += [(el, el is wrappers[-1]) for el in wrappers]
    return found


def _container_candidates(run: Run) -> list[tuple[str, float]]:
    scored: dict[str, float] = {}
    for page in [p for p in run.pages if p.items and any(anchors(run, p))][:2]:
        for el, innermost in _container_nodes(anchors(run, page)):
            for xpath, structure in locators(el, page.root, relative=False).items():
                # The innermost card element mirrors how item fields were written.
                prior = structure + (0.05 if innermost else 0.0)
                scored[xpath] = max(prior, scored.get(xpath, 0.0))
    return sorted(scored.items(), key=lambda kv: (-kv[1], len(kv[0])))


def _extras(run: Run, xpath: str, pages: list[Page]) -> tuple[int, int] | None:
    """(extra containers, containers) over ``pages``, or ``None`` if one does not align."""
    extras = total = 0
    for page in pages:
        found = _aligned(run, xpath, page)
        if found is None:
            return None
        extras, total = extras + found.extras, total + len(found.pairs) + found.extras
    return extras, total


def relocate_items(run: Run, old: str, *, min_confidence: float) -> tuple[Repair, str | None]:
    """The item container's :class:`Repair` and the XPath to read items with (or None).

    Of the candidates that hold every known item, the one with the fewest extra nodes
    wins (an ad card shares the cards' class; the cards' own class leaves it out)."""
    pages = [p for p in run.pages if p.items]
    if item_contexts(run, old):
        return Repair("items", old, "ok", None, None, 1.0, len(pages), len(pages),
                      "still selects one node per known item"), old
    best: tuple[float, str, int] | None = None
    for xpath, prior in _container_candidates(run):
        if (counts := _extras(run, xpath, pages)) is None:
            continue
        confidence = round((0.8 + 0.2 * min(prior, 1.0)) * (1 - counts[0] / counts[1]), 3)
        if best is None or confidence > best[0]:
            best = confidence, xpath, counts[0]
        if counts[0] == 0:
            break  # ranked by prior: nothing later can do better
    if best is None or len(pages) < min(2, len(run.pages)) or best[0] < min_confidence:
        why = "no repeated element holds exactly one known item each" if best is None else \
            f"best candidate {best[1]}: confidence {best[0]} (need {min_confidence})"
        return Repair("items", old, "unrepaired", None, None, best[0] if best else 0.0, 0,
                      len(pages), why), None
    item_contexts(run, best[1])
    return Repair("items", old, "repaired", best[1], None, best[0], len(pages), len(pages),
                  f"one node per known item on {len(pages)} pages, {best[2]} extra"), best[1]
