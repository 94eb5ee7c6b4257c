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

List pages relocate their item container first (:mod:`scraper.relocate_items`). Fields
that read the same nodes (``duration_text``/``duration_s``) try the XPath their twin was
repaired with first, and a twin with no known value of its own inherits it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from ..site.convert import Converter
from ..site.selector_files import FieldSpec, SelectorSet
from .fingerprint import (
    Fingerprint,
    element_cue,
    element_fingerprint,
    hint_fingerprint,
    locators,
    similarity,
    strong_cue,
    text_shape,
)
from .items import item_contexts, relocate_items
from .samples import (
    ABSENT,
    NOT_KNOWN,
    Between,
    Page,
    Repair,
    Run,
    Sample,
    Tally,
    agrees,
    expected,
    judge,
    value_of,
)

__all__ = ["Between", "Repair", "Sample", "check_fields", "relocate", "repaired_fields",
           "repaired_items"]

_NO_PRINTS: Mapping[str, Sequence[Fingerprint]] = MappingProxyType({})
_SEARCH_PAGES, _SEARCH_CONTEXTS, _MAX_MATCHES = 3, 3, 8
Mode = Literal["value", "print", "twin"]


@dataclass(frozen=True, slots=True)
class _Candidate:
    loc: str
    source: str
    regex: re.Pattern[str] | None
    structure: float
    prior: float
    cue: bool = False  # the element found carries the fingerprints' label or marker

    @property
    def xpath(self) -> str:
        return self.loc if self.source == "text" else f"{self.loc}/@{self.source[1:]}"


@dataclass(frozen=True, slots=True)
class _Target:
    spec: FieldSpec
    refs: Sequence[Fingerprint]
    mode: Mode  # how a page with no known value is judged: not at all, by likeness, found
    min_sim: float = 0.0


def check_fields(selector_set: SelectorSet, samples: Sequence[Sample], *,
                 scheme: str) -> dict[str, bool]:
    """Which fields (and ``items``) still give the known values on every sample."""
    run = Run(samples, scheme)
    result: dict[str, bool] = {}
    if selector_set.items is not None:
        result["items"] = item_contexts(run, selector_set.items)
    for name, spec in selector_set.fields.items():
        result[name] = _still_works(run, spec)[0]
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
            return repairs + [_unrepaired(spec, len(run.pages), "item container not found")
                              for spec in selector_set.fields.values()]
    chosen: dict[tuple[Any, ...], tuple[_Candidate, float]] = {}
    done: dict[str, Repair] = {}
    # Fields with known values first, so a twin without any can inherit their XPath.
    for spec in sorted(selector_set.fields.values(), key=lambda s: not _has_known(run, s)):
        done[spec.name] = _relocate_field(run, spec, fingerprints.get(spec.name, ()), chosen,
                                          min_confidence=min_confidence)
    return repairs + [done[name] for name in selector_set.fields]


def repaired_fields(selector_set: SelectorSet, repairs: Sequence[Repair]) -> dict[str, FieldSpec]:
    """Field specs for a new version: repaired fields rewritten, the others copied."""
    fixed = {r.field: r.new_xpath for r in repairs if r.status == "repaired"}
    regexes = {r.field: r.new_regex for r in repairs}
    fields: dict[str, FieldSpec] = {}
    for name, spec in selector_set.fields.items():
        xpath = fixed.get(name)
        fields[name] = spec if xpath is None else FieldSpec(
            name=name, xpath=xpath, convert=spec.convert, required=spec.required,
            default=spec.default, many=spec.many,
            regex=re.compile(pattern) if (pattern := regexes.get(name)) else None)
    return fields


def repaired_items(selector_set: SelectorSet, repairs: Sequence[Repair]) -> str | None:
    """The item container XPath for a new version (the old one unless it was repaired)."""
    for repair in repairs:
        if repair.field == "items" and repair.status == "repaired":
            return repair.new_xpath
    return selector_set.items


# --- verifying -------------------------------------------------------------------------


def _still_works(run: Run, spec: FieldSpec) -> tuple[bool, Tally]:
    tally, found = Tally(), False
    for page in run.pages:
        verdicts = []
        for ctx, known in page.contexts:
            raws = run.strings(spec.xpath, ctx, spec.vars)
            found = found or value_of(raws, spec.regex, spec.convert, spec.many,
                                       page.converter(spec))[0] not in (None, [])
            verdicts.append(judge(spec, spec.regex, raws, expected(spec, known), page))
        tally.add(verdicts, set())
    if tally.checked == 0:  # nothing known to compare with: it works if it finds anything
        return found and not tally.wrong, tally
    return not tally.wrong and tally.agree == tally.checked, tally


def _tally(run: Run, target: _Target, cand: _Candidate) -> Tally:
    tally = Tally()
    for page in run.pages:
        verdicts, seen = [], set()
        for ctx, known in page.contexts:
            pairs = run.read(cand.loc, cand.source, ctx)
            want = expected(target.spec, known)
            if want is NOT_KNOWN and target.mode != "value" and pairs:
                verdicts.append(_judge_unknown(target, cand, pairs, page))
                continue
            verdicts.append(judge(target.spec, cand.regex, [r for _, r in pairs], want, page))
            if want is not NOT_KNOWN:
                seen.add(repr(want))
        tally.add(verdicts, seen)
        if tally.wrong:
            break  # one wrong value rejects the candidate: stop paying for it
    return tally


def _judge_unknown(target: _Target, cand: _Candidate, pairs: list[tuple[Any, str]],
                   page: Page) -> str:
    """A page with no known value: the value must be unambiguous and, in a fingerprint
    search, read from an element like the fingerprints, carrying their cue."""
    spec = target.spec
    value, ambiguous = value_of([r for _, r in pairs], cand.regex, spec.convert, spec.many,
                                page.converter(spec))
    if value is None or value == []:
        return "unknown"
    if ambiguous or target.mode == "twin":
        return "wrong" if ambiguous else "agree"
    fp = element_fingerprint(pairs[0][0], cand.source, pairs[0][1])
    alike = similarity(fp, target.refs) >= target.min_sim
    return "agree" if alike and strong_cue(fp, target.refs) is not False else "wrong"


# --- searching -------------------------------------------------------------------------


def _regexes(spec: FieldSpec) -> tuple[re.Pattern[str] | None, ...]:
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


Match = tuple[Any, str, str, "re.Pattern[str] | None"]


def _value_matches(run: Run, spec: FieldSpec, page: Page, ctx: Any, want: Any) -> list[Match]:
    conv, could_be = page.converter(spec), _could_be(spec, want)
    found = []
    for el, source, raw in run.atoms(ctx):
        for regex in _regexes(spec):
            value = _convert_one(raw, regex, conv) if could_be(raw) or regex else None
            if value is not None and (agrees(value, want) or (spec.many and value in want)):
                found.append((el, source, raw, regex))
                break
    # A text matches on every ancestor that wraps nothing else: keep the innermost.
    outer = {a for el, source, _, _ in found if source == "text" for a in el.iterancestors()}
    return [m for m in found if not (m[1] == "text" and m[0] in outer)][:_MAX_MATCHES]


def _print_matches(run: Run, target: _Target, page: Page, ctx: Any) -> list[Match]:
    """The elements most like the fingerprints (and with their cue, if they have one)."""
    spec, refs = target.spec, target.refs
    shapes = {ref.text_shape for ref in refs if ref.text_shape}
    conv = page.converter(spec)
    scored: list[tuple[float, Match]] = []
    for el, source, raw in run.atoms(ctx):
        if not raw.strip() or (shapes and text_shape(raw) not in shapes) or \
                element_cue(el, source, refs) is False:
            continue
        for regex in _regexes(spec):
            if _convert_one(raw, regex, conv) is not None:
                sim = similarity(element_fingerprint(el, source, raw), refs)
                scored.append((sim, (el, source, raw, regex)))
                break
    best = max((sim for sim, _ in scored), default=0.0)
    return [m for sim, m in sorted(scored, key=lambda s: -s[0]) if sim >= best - 0.1][:3]


def _candidates(run: Run, target: _Target) -> tuple[list[_Candidate], float]:
    """Candidates from the found elements, best first, and their mean likeness."""
    found: dict[tuple[str, str, Any], _Candidate] = {}
    sims: list[float] = []
    for page, ctx, want in _search_contexts(run, target):
        matches = (_print_matches(run, target, page, ctx) if target.mode == "print"
                   else _value_matches(run, target.spec, page, ctx, want))
        for el, source, raw, regex in matches:
            sims.append(sim := similarity(fp := element_fingerprint(el, source, raw),
                                          target.refs))
            cue = strong_cue(fp, target.refs) is True
            # A text predicate is a label only where the value is not the text itself.
            for loc, structure in locators(el, ctx, relative=run.items,
                                           label=source != "text").items():
                cand = _Candidate(loc, source, regex, structure, 0.6 * structure + 0.4 * sim,
                                  cue)
                key = (loc, source, regex)
                if key not in found or found[key].prior < cand.prior:
                    found[key] = cand
    ranked = sorted(found.values(), key=lambda c: (-c.prior, len(c.xpath)))
    return ranked, (sum(sims) / len(sims) if sims else 0.0)


def _search_contexts(run: Run, target: _Target) -> Iterator[tuple[Page, Any, Any]]:
    """Where to look: contexts whose value is known (any, for a fingerprint search)."""
    pages = 0
    for page in run.pages:
        wants = [(ctx, expected(target.spec, known)) for ctx, known in page.contexts]
        usable = [(ctx, want) for ctx, want in wants
                  if target.mode == "print" or want not in (NOT_KNOWN, ABSENT)]
        for ctx, want in usable[:_SEARCH_CONTEXTS]:
            yield page, ctx, want if target.mode == "value" else None
        pages += bool(usable)
        if pages == _SEARCH_PAGES:
            return


# --- deciding --------------------------------------------------------------------------


def _relocate_field(run: Run, spec: FieldSpec, prints: Sequence[Fingerprint],
                    chosen: dict[tuple[Any, ...], tuple[_Candidate, float]], *,
                    min_confidence: float) -> Repair:
    works, old = _still_works(run, spec)
    if works:
        return Repair(spec.name, spec.xpath, "ok", None, None, 1.0, old.agree, len(run.pages),
                      "still gives the known values" if old.checked else
                      "still finds values (none known to check them against)")
    has_known = _has_known(run, spec)
    refs = tuple(prints) or (hint_fingerprint(spec),)
    if (inherited := _try_twin(run, spec, refs, has_known, chosen, min_confidence)) is not None:
        return inherited
    target = _Target(spec, refs, "value" if has_known else "print")
    ranked, evidence = _candidates(run, target)
    if not ranked:
        why = "known value not found on any sample" if has_known else \
            "no known value, and nothing on the samples resembles its fingerprint"
        return _unrepaired(spec, len(run.pages), why)
    if target.mode == "print":
        # Pages are judged by likeness to what was found here; a cue the fingerprints
        # share (every candidate carries it) is strong evidence in itself.
        target = _Target(spec, refs, "print", min_sim=0.9 * evidence)
        evidence = max(evidence, 0.85) if strong_cue(refs[0], refs) else evidence
    else:
        evidence = 1.0
    best, tally = _pick(run, target, ranked)
    if best is None or tally is None:
        return _unrepaired(spec, len(run.pages),
                           f"none of {len(ranked)} candidates agrees without a wrong value")
    return _decide(run, spec, best, tally, evidence, chosen, min_confidence)


def _try_twin(run: Run, spec: FieldSpec, refs: Sequence[Fingerprint], has_known: bool,
              chosen: dict[tuple[Any, ...], tuple[_Candidate, float]],
              min_confidence: float) -> Repair | None:
    """The XPath of an already repaired field that read the same nodes, if it fits."""
    if (twin := chosen.get(spec.key)) is None:
        return None
    cand, confidence = twin
    twins = [_Candidate(cand.loc, cand.source, regex, cand.structure, 2.0, cand.cue)
             for regex in _regexes(spec)]
    best, tally = _pick(run, _Target(spec, refs, "value" if has_known else "twin"), twins)
    if best is None or tally is None:
        return None
    return _decide(run, spec, best, tally, confidence, chosen, min_confidence)


def _has_known(run: Run, spec: FieldSpec) -> bool:
    return any(expected(spec, known) not in (NOT_KNOWN, ABSENT)
               for page in run.pages for _, known in page.contexts)


def _pick(run: Run, target: _Target,
          ranked: list[_Candidate]) -> tuple[_Candidate | None, Tally | None]:
    best: tuple[_Candidate, Tally] | None = None
    for cand in ranked:
        tally = _tally(run, target, cand)
        if tally.wrong or tally.agree == 0:
            continue
        if tally.agree == tally.checked:
            return cand, tally  # ranked by prior: the first that agrees everywhere wins
        if best is None or tally.agree > best[1].agree:
            best = cand, tally
    return best if best else (None, None)


def _decide(run: Run, spec: FieldSpec, cand: _Candidate, tally: Tally, evidence: float,
            chosen: dict[tuple[Any, ...], tuple[_Candidate, float]],
            min_confidence: float) -> Repair:
    confidence = tally.agree / tally.checked * (0.8 + 0.2 * cand.structure) * min(evidence, 1.0)
    if len(tally.seen) == 1 and not cand.cue:
        # Every page knew the same value: a constant element (a nav link "社会") would
        # pass too, so only a semantic cue can carry the repair.
        confidence *= 0.75
    confidence = round(confidence, 3)
    need = min(2, len(run.pages))
    if tally.agree < need or confidence < min_confidence:
        return Repair(spec.name, spec.xpath, "unrepaired", None, None, confidence, tally.agree,
                      tally.checked, f"best candidate {cand.xpath} agrees on {tally.agree}/"
                      f"{tally.checked} pages, confidence {confidence} (need {need} pages, "
                      f"{min_confidence})")
    chosen[spec.key] = (cand, confidence)
    regex = cand.regex.pattern if cand.regex is not None else None
    return Repair(spec.name, spec.xpath, "repaired", cand.xpath, regex, confidence,
                  tally.agree, tally.checked,
                  f"agrees on {tally.agree}/{tally.checked} pages, no wrong value")


def _unrepaired(spec: FieldSpec, pages: int, reason: str) -> Repair:
    return Repair(spec.name, spec.xpath, "unrepaired", None, None, 0.0, 0, pages, reason)
