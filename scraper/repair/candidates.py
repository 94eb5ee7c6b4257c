"""Searching the samples for a broken field's element and describing it as candidate XPaths.

With known values, every element whose text or attribute (after the field's regex and
converter) equals the value is a match; so is one whose text or attribute holds the value
inside words (:mod:`.inner`), with a regex that captures it. With no known value, the
elements most like the field's fingerprints that also carry its cue are. Each match becomes
candidate XPaths (:func:`.fingerprint.locators`), ranked: the page body before the head (a
``<meta>`` repeating a title is a copy, not the field), then by structure and likeness to
the fingerprints (the field's old tag, ancestors and neighbours).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..site.convert import Converter
from ..site.selector_files import FieldSpec
from .fingerprint import (
    Fingerprint,
    element_cue,
    element_fingerprint,
    locators,
    similarity,
    strong_cue,
    text_shape,
)
from .inner import MAX_INNER, inner_regexes
from .samples import ABSENT, NOT_KNOWN, Page, Run, agrees, expected

__all__ = ["Candidate", "Mode", "Target", "candidates", "field_regexes"]

_SEARCH_PAGES, _SEARCH_CONTEXTS, _MAX_MATCHES = 3, 3, 8
Mode = Literal["value", "print", "twin"]


@dataclass(frozen=True, slots=True)
class Candidate:
    loc: str
    source: str
    regex: re.Pattern[str] | None
    structure: float
    prior: float
    cue: bool = False  # the element found carries the fingerprints' label or marker
    inner: bool = False  # the regex was written around the value's words on one page
    in_head: bool = False  # found in the document head (a <meta> copy), not the body

    @property
    def xpath(self) -> str:
        return self.loc if self.source == "text" else f"{self.loc}/@{self.source[1:]}"

    @property
    def rank(self) -> tuple[bool, float, int]:
        return self.in_head, -self.prior, len(self.xpath)


@dataclass(frozen=True, slots=True)
class Target:
    spec: FieldSpec
    refs: Sequence[Fingerprint]
    mode: Mode  # how a page with no known value is judged: not at all, by likeness, found
    min_sim: float = 0.0


def field_regexes(spec: FieldSpec) -> tuple[re.Pattern[str] | None, ...]:
    """The regexes a candidate of ``spec`` is tried with: the field's own, then none."""
    return (None,) if spec.regex is None else (spec.regex, None)


def _convert_one(raw: str, regex: re.Pattern[str] | None, conv: Converter) -> Any:
    if regex is not None:
        match = regex.search(raw)
        if match is None:
            return None
        raw = match.group(1) if match.re.groups else match.group(0)
    return conv(raw)


def _could_be(spec: FieldSpec, want: Any) -> Callable[[str], bool]:
    """A cheap necessary test on a raw string, run before the (costly) converter."""
    if spec.many:
        return lambda raw: True
    if spec.convert == "url" and isinstance(want, str):
        # An absolute link ends with whatever relative form the page wrote it in.
        return lambda raw: bool(tail := raw.strip().lstrip("./")) and want.endswith(tail)
    if spec.convert in ("int", "count", "duration"):
        return lambda raw: len(raw) <= 32
    return lambda raw: True


Match = tuple[Any, str, str, "re.Pattern[str] | None", bool]


def _value_matches(run: Run, spec: FieldSpec, page: Page, ctx: Any, want: Any) -> list[Match]:
    conv, could_be = page.converter(spec), _could_be(spec, want)
    found: list[Match] = []
    for el, source, raw in run.atoms(ctx):
        for regex in field_regexes(spec):
            value = _convert_one(raw, regex, conv) if could_be(raw) or regex else None
            if value is not None and (agrees(value, want) or (spec.many and value in want)):
                found.append((el, source, raw, regex, False))
                break
        else:
            if not spec.many and len(raw) <= MAX_INNER:
                found += [(el, source, raw, inner, True) for inner in
                          inner_regexes(raw, want, spec.convert, conv, agrees)]
    # A text matches on every ancestor that wraps nothing else: keep the innermost.
    outer = {a for el, source, *_ in found if source == "text" for a in el.iterancestors()}
    kept = [m for m in found if not (m[1] == "text" and m[0] in outer)]
    # The value alone in an element beats the value among words.
    return sorted(kept, key=lambda m: m[4])[:_MAX_MATCHES]


def _print_matches(run: Run, target: Target, page: Page, ctx: Any) -> list[Match]:
    """The elements most like the fingerprints (and with their cue, if they have one)."""
    spec, refs = target.spec, target.refs
    shapes = {ref.text_shape for ref in refs if ref.text_shape}
    conv = page.converter(spec)
    scored: list[tuple[float, Match]] = []
    for el, source, raw in run.atoms(ctx):
        if not raw.strip() or (shapes and text_shape(raw) not in shapes) or \
                element_cue(el, source, refs) is False:
            continue
        for regex in field_regexes(spec):
            if _convert_one(raw, regex, conv) is not None:
                sim = similarity(element_fingerprint(el, source, raw), refs)
                scored.append((sim, (el, source, raw, regex, False)))
                break
    best = max((sim for sim, _ in scored), default=0.0)
    return [m for sim, m in sorted(scored, key=lambda s: -s[0]) if sim >= best - 0.1][:3]


def candidates(run: Run, target: Target,
               pages: Sequence[Page] | None = None) -> tuple[list[Candidate], float]:
    """Candidates from the elements found (on ``pages``, else the first pages with known
    values), best first, and their mean likeness to the fingerprints."""
    found: dict[tuple[str, str, Any], Candidate] = {}
    sims: list[float] = []
    for page, ctx, want in _search_contexts(run, target, pages):
        matches = (_print_matches(run, target, page, ctx) if target.mode == "print"
                   else _value_matches(run, target.spec, page, ctx, want))
        for el, source, raw, regex, inner in matches:
            sims.append(sim := similarity(fp := element_fingerprint(el, source, raw),
                                          target.refs))
            cue = strong_cue(fp, target.refs) is True
            in_head = any(a.tag == "head" for a in el.iterancestors())
            # A text predicate is a label only where the value is not the text itself.
            for loc, structure in locators(el, ctx, relative=run.items,
                                           label=source != "text").items():
                cand = Candidate(loc, source, regex, structure, 0.6 * structure + 0.4 * sim,
                                 cue, inner, in_head)
                key = (loc, source, regex)
                if key not in found or found[key].prior < cand.prior:
                    found[key] = cand
    ranked = sorted(found.values(), key=lambda c: c.rank)
    return ranked, (sum(sims) / len(sims) if sims else 0.0)


def _search_contexts(run: Run, target: Target,
                     only: Sequence[Page] | None) -> Iterator[tuple[Page, Any, Any]]:
    """Where to look: contexts whose value is known (any, for a fingerprint search)."""
    pages = 0
    for page in run.pages if only is None else only:
        wants = [(ctx, expected(target.spec, known)) for ctx, known in page.contexts]
        usable = [(ctx, want) for ctx, want in wants
                  if target.mode == "print" or want not in (NOT_KNOWN, ABSENT)]
        for ctx, want in usable[:_SEARCH_CONTEXTS]:
            yield page, ctx, want if target.mode == "value" else None
        pages += bool(usable)
        if pages == _SEARCH_PAGES:
            return
