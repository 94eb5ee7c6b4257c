"""Selector repair: find again the elements that broken fields used to read.

Pure and synchronous, no I/O: the caller loads sample pages, the values already known for
them (from the store, or from an older version that still matched) and the fingerprints
saved after earlier runs, and writes the repaired fields as a new selector version.

For each broken field (learning from autoscraper and Scrapling):

1. **search** – on a few samples, every element whose text or attribute, after the field's
   regex and converter, equals the known value; with no known value, the elements most
   like the field's fingerprints that also carry its cue ("下一页", a current-page marker);
2. **describe** – each found element as candidate XPaths, stable anchors first
   (:func:`scraper.fingerprint.locators`), ranked by structure and fingerprint likeness;
3. **verify** – a candidate is rejected as soon as it gives one wrong or ambiguous value
   on any sample; the first that agrees everywhere wins, else the best that agrees most;
4. **decide** – repaired only with confidence >= ``min_confidence`` and agreement on two
   pages (all, if fewer were sampled): a wrong value is worse than a missing one.

List pages relocate their item container first: the repeated element holding exactly one
known item's values each, with none left over (:mod:`scraper.relocate_items`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .fingerprint import (
    Fingerprint,
    element_fingerprint,
    hint_fingerprint,
    locators,
    read_source,
    searchable,
    similarity,
    split_source,
    strong_cue,
    text_shape,
)
from .relocate_items import (
    Page,
    Repair,
    Run,
    Sample,
    item_contexts,
    relocate_items,
    value_of,
)
from .selector_files import FieldSpec, SelectorSet

__all__ = ["Repair", "Sample", "check_fields", "relocate", "repaired_fields", "repaired_items"]

_NO_PRINTS: Mapping[str, Sequence[Fingerprint]] = MappingProxyType({})
_NOT_KNOWN, _ABSENT = object(), object()
_SEARCH_PAGES, _SEARCH_CONTEXTS, _MAX_MATCHES = 3, 3, 8


@dataclass(frozen=True, slots=True)
class _Candidate:
    loc: str
    source: str
    regex: re.Pattern[str] | None
    structure: float
    prior: float

    @property
    def xpath(self) -> str:
        return self.loc if self.source == "text" else f"{self.loc}/@{self.source[1:]}"


@dataclass(slots=True)
class _Tally:
    agree: int = 0
    checked: int = 0
    wrong: bool = False
    seen: frozenset[str] = frozenset()  # distinct known values met: one alone proves little


@dataclass(frozen=True, slots=True)
class _Target:
    spec: FieldSpec
    refs: Sequence[Fingerprint]
    by_print: bool  # no known value: judge unknown pages by likeness to the fingerprints
    min_sim: float = 0.0


def check_fields(selector_set: SelectorSet, samples: Sequence[Sample], *,
                 scheme: str) -> dict[str, bool]:
    """Which fields (and ``items``) still give the known values on every sample."""
    run = Run(samples, scheme)
    result: dict[str, bool] = {}
    if selector_set.items is not None:
        result["items"] = item_contexts(run, selector_set.items)
    for name, spec in selector_set.fields.items():
        result[name] = _still_works(run, spec)
    return result


def relocate(selector_set: SelectorSet, samples: Sequence[Sample], *, scheme: str,
             fingerprints: Mapping[str, Sequence[Fingerprint]] = _NO_PRINTS,
             min_confidence: float = 0.8) -> list[Repair]:
    """One :class:`Repair` per field (``items`` first on a list page), in file order."""
    run = Run(samples, scheme)
    repairs: list[Repair] = []
    if selector_set.items is not None:
        repair, xpath = relocate_items(run, selector_set.items, min_confidence=min_confidence)
        repairs.append(repair)
        if xpath is None:
            return repairs + [_unrepaired(spec, 0, "item container not found")
                              for spec in selector_set.fields.values()]
    chosen: dict[tuple[Any, ...], _Candidate] = {}
    for spec in selector_set.fields.values():
        repairs.append(_relocate_field(run, spec, fingerprints.get(spec.name, ()), chosen,
                                       min_confidence=min_confidence))
    return repairs


def repaired_fields(selector_set: SelectorSet, repairs: Sequence[Repair]) -> dict[str, FieldSpec]:
    """Field specs for a new version: repaired fields rewritten, the others copied."""
    fixed = {r.field: r for r in repairs if r.status == "repaired" and r.new_xpath}
    fields: dict[str, FieldSpec] = {}
    for name, spec in selector_set.fields.items():
        repair = fixed.get(name)
        if repair is None or repair.new_xpath is None:
            fields[name] = spec
            continue
        fields[name] = FieldSpec(
            name=name, xpath=repair.new_xpath, convert=spec.convert, required=spec.required,
            default=spec.default, many=spec.many,
            regex=re.compile(repair.new_regex) if repair.new_regex else None)
    return fields


def repaired_items(selector_set: SelectorSet, repairs: Sequence[Repair]) -> str | None:
    """The item container XPath for a new version (the old one unless it was repaired)."""
    for repair in repairs:
        if repair.field == "items" and repair.status == "repaired":
            return repair.new_xpath
    return selector_set.items


# --- judging values ------------------------------------------------------------------


def _expected(spec: FieldSpec, known: Mapping[str, Any]) -> Any:
    if spec.name not in known:
        return _NOT_KNOWN
    value = known[spec.name]
    if value is None or (not spec.required and value == spec.default):
        return _ABSENT
    return value


def _judge(spec: FieldSpec, regex: re.Pattern[str] | None, raws: list[str], expected: Any,
           page: Page) -> str:
    """One context's verdict: agree, wrong, miss or unknown (the extractor's semantics)."""
    if expected is _NOT_KNOWN:
        return "unknown"
    value, ambiguous = value_of(raws, regex, spec.convert, spec.many, page.converter(spec))
    if expected is _ABSENT:
        return "agree" if value in (None, [], spec.default) else "wrong"
    if ambiguous:
        return "wrong"
    if value is None or value == []:
        return "miss"
    return "agree" if value == expected else "wrong"


def _add(tally: _Tally, verdicts: list[str], seen: set[str]) -> None:
    if "wrong" in verdicts:
        tally.wrong = True
    elif verdicts and set(verdicts) != {"unknown"}:
        tally.checked += 1
        tally.agree += "miss" not in verdicts
        tally.seen = tally.seen | seen


def _still_works(run: Run, spec: FieldSpec) -> bool:
    tally, found = _Tally(), False
    for page in run.pages:
        verdicts = []
        for ctx, known in page.contexts:
            raws = run.strings(spec.xpath, ctx, spec.vars)
            found = found or value_of(raws, spec.regex, spec.convert, spec.many,
                                       page.converter(spec))[0] not in (None, [])
            verdicts.append(_judge(spec, spec.regex, raws, _expected(spec, known), page))
        _add(tally, verdicts, set())
    if tally.checked == 0:  # nothing known to compare with: it works if it finds anything
        return found and not tally.wrong
    return not tally.wrong and tally.agree == tally.checked


def _tally(run: Run, target: _Target, cand: _Candidate) -> _Tally:
    tally = _Tally()
    for page in run.pages:
        verdicts, seen = [], set()
        for ctx, known in page.contexts:
            pairs = run.read(cand.loc, cand.source, ctx)
            expected = _expected(target.spec, known)
            if expected is _NOT_KNOWN and target.by_print and pairs:
                verdicts.append(_judge_print(target, cand, pairs, page))
                continue
            verdicts.append(_judge(target.spec, cand.regex, [raw for _, raw in pairs],
                                   expected, page))
            seen.add(repr(expected))
        _add(tally, verdicts, seen)
        if tally.wrong:
            break  # one wrong value rejects the candidate: stop paying for it
    return tally


def _judge_print(target: _Target, cand: _Candidate, pairs: list[tuple[Any, str]],
                 page: Page) -> str:
    spec = target.spec
    value, ambiguous = value_of([r for _, r in pairs], cand.regex, spec.convert, spec.many,
                                page.converter(spec))
    if value is None or value == []:
        return "unknown"
    fp = element_fingerprint(pairs[0][0], cand.source, pairs[0][1])
    alike = similarity(fp, target.refs) >= target.min_sim
    return "agree" if not ambiguous and alike and strong_cue(fp, target.refs) is not False \
        else "wrong"


# --- searching -------------------------------------------------------------------------


def _atoms(ctx: Any) -> Iterator[tuple[Any, str, str]]:
    """Every (element, source, raw string) under ``ctx`` a field might read."""
    for el in ctx.iter():
        if not searchable(el):
            continue
        text = read_source(el, "text")
        if text and len(text) <= 500:
            yield el, "text", text
        for name, value in el.attrib.items():
            yield el, "@" + str(name), str(value)


def _regexes(spec: FieldSpec) -> tuple[re.Pattern[str] | None, ...]:
    return (None,) if spec.regex is None else (spec.regex, None)


def _value_matches(run: Run, spec: FieldSpec, page: Page, ctx: Any,
                   expected: Any) -> list[tuple[Any, str, str, re.Pattern[str] | None]]:
    conv = page.converter(spec)
    found = []
    for el, source, raw in _atoms(ctx):
        for regex in _regexes(spec):
            value = value_of([raw], regex, spec.convert, False, conv)[0]
            if value is not None and (value == expected or (spec.many and value in expected)):
                found.append((el, source, raw, regex))
                break
    # A text matches on every ancestor that wraps nothing else: keep the innermost.
    outer = {a for el, source, _, _ in found if source == "text" for a in el.iterancestors()}
    return [m for m in found if not (m[1] == "text" and m[0] in outer)][:_MAX_MATCHES]


def _print_matches(run: Run, target: _Target, page: Page,
                   ctx: Any) -> list[tuple[Any, str, str, re.Pattern[str] | None, float]]:
    spec, refs = target.spec, target.refs
    shapes = {ref.text_shape for ref in refs if ref.text_shape}
    conv = page.converter(spec)
    scored = []
    for el, source, raw in _atoms(ctx):
        if (shapes and text_shape(raw) not in shapes) or not raw.strip():
            continue
        for regex in _regexes(spec):
            if value_of([raw], regex, spec.convert, False, conv)[0] is None:
                continue
            fp = element_fingerprint(el, source, raw)
            if strong_cue(fp, refs) is not False:
                scored.append((el, source, raw, regex, similarity(fp, refs)))
            break
    best = max((s[4] for s in scored), default=0.0)
    return sorted((s for s in scored if s[4] >= best - 0.1), key=lambda s: -s[4])[:3]


def _candidates(run: Run, target: _Target, chosen: Mapping[tuple[Any, ...], _Candidate],
                relative: bool) -> tuple[list[_Candidate], float]:
    spec, found = target.spec, {}
    sims: list[float] = []
    if (twin := chosen.get(spec.key)) is not None:  # the field read the same nodes as one
        for regex in _regexes(spec):                # already repaired: try its XPath first
            found[(twin.loc, twin.source, regex)] = _Candidate(
                twin.loc, twin.source, regex, twin.structure, 2.0)
    for page, ctx, expected in _search_contexts(run, target):
        if target.by_print:
            matches = _print_matches(run, target, page, ctx)
            sims += [m[4] for m in matches]
        else:
            matches = [(*m, -1.0) for m in _value_matches(run, spec, page, ctx, expected)]
        for el, source, raw, regex, sim in matches:
            if sim < 0:
                sim = similarity(element_fingerprint(el, source, raw), target.refs)
            for loc, structure in locators(el, ctx, relative=relative,
                                           label=target.by_print).items():
                key = (loc, source, regex)
                prior = 0.6 * structure + 0.4 * sim
                if key not in found or found[key].prior < prior:
                    found[key] = _Candidate(loc, source, regex, structure, prior)
    ranked = sorted(found.values(), key=lambda c: (-c.prior, len(c.xpath)))
    return ranked, (sum(sims) / len(sims) if sims else 1.0)


def _search_contexts(run: Run, target: _Target) -> Iterator[tuple[Page, Any, Any]]:
    """Where to look: contexts whose value is known (any, for a fingerprint search)."""
    pages = 0
    for page in run.pages:
        usable = []
        for ctx, known in page.contexts:
            expected = _expected(target.spec, known)
            if target.by_print or expected not in (_NOT_KNOWN, _ABSENT):
                usable.append((ctx, expected))
        for ctx, expected in usable[:_SEARCH_CONTEXTS]:
            yield page, ctx, expected
        pages += bool(usable)
        if pages == _SEARCH_PAGES:
            return


# --- deciding --------------------------------------------------------------------------


def _relocate_field(run: Run, spec: FieldSpec, prints: Sequence[Fingerprint],
                    chosen: dict[tuple[Any, ...], _Candidate], *,
                    min_confidence: float) -> Repair:
    old = _tally(run, _Target(spec, (), False), _old_candidate(spec))
    if _still_works(run, spec):
        return Repair(spec.name, spec.xpath, "ok", None, None, 1.0, old.agree,
                      len(run.pages), "still gives the known values")
    has_known = any(_expected(spec, known) not in (_NOT_KNOWN, _ABSENT)
                    for page in run.pages for _, known in page.contexts)
    refs = tuple(prints) or (hint_fingerprint(spec),)
    target = _Target(spec, refs, not has_known)
    ranked, evidence = _candidates(run, target, chosen, relative=run.items)
    if not ranked:
        why = "known value not found on any sample" if has_known else \
            "no known value, and nothing on the samples resembles its fingerprint"
        return _unrepaired(spec, len(run.pages), why)
    if target.by_print:
        target = _Target(spec, refs, True, min_sim=0.9 * evidence)
        evidence = max(evidence, 0.85) if strong_cue(refs[0], refs) else evidence
    best, tally = _pick(run, target, ranked)
    if best is None or tally is None:
        return _unrepaired(spec, len(run.pages),
                           f"none of {len(ranked)} candidates agrees without a wrong value")
    return _decide(run, spec, best, tally, evidence, chosen, min_confidence=min_confidence)


def _pick(run: Run, target: _Target,
          ranked: list[_Candidate]) -> tuple[_Candidate | None, _Tally | None]:
    best: tuple[_Candidate, _Tally] | None = None
    for cand in ranked:
        tally = _tally(run, target, cand)
        if tally.wrong or tally.agree == 0:
            continue
        if tally.agree == tally.checked:
            return cand, tally  # ranked by prior: the first that agrees everywhere wins
        if best is None or tally.agree > best[1].agree:
            best = cand, tally
    return best if best else (None, None)


def _decide(run: Run, spec: FieldSpec, cand: _Candidate, tally: _Tally, evidence: float,
            chosen: dict[tuple[Any, ...], _Candidate], *, min_confidence: float) -> Repair:
    confidence = tally.agree / tally.checked * (0.8 + 0.2 * cand.structure) * min(evidence, 1.0)
    if len(tally.seen) == 1 and tally.agree > 1:
        confidence *= 0.8  # every page knew the same value: a constant element would pass
    confidence = round(confidence, 3)
    need = min(2, len(run.pages))
    args = (spec.name, spec.xpath)
    if tally.agree < need or confidence < min_confidence:
        return Repair(*args, "unrepaired", None, None, confidence, tally.agree, tally.checked,
                      f"best candidate {cand.xpath} agrees on {tally.agree}/{tally.checked} "
                      f"pages, confidence {confidence} (need {need} pages, {min_confidence})")
    chosen[spec.key] = cand
    regex = cand.regex.pattern if cand.regex is not None else None
    return Repair(*args, "repaired", cand.xpath, regex, confidence, tally.agree, tally.checked,
                  f"agrees on {tally.agree}/{tally.checked} pages, no wrong value")


def _old_candidate(spec: FieldSpec) -> _Candidate:
    loc, source = split_source(spec.xpath)
    return _Candidate(loc, source, spec.regex, 1.0, 1.0)


def _unrepaired(spec: FieldSpec, pages: int, reason: str) -> Repair:
    return Repair(spec.name, spec.xpath, "unrepaired", None, None, 0.0, 0, pages, reason)
