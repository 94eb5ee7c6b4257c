"""Selector repair: find again the elements that broken fields used to read.

Pure and synchronous, no I/O: the caller loads sample pages, the values already known for
them (from the store, or from an older version that still matched) and the fingerprints
saved after earlier runs, and writes the repaired fields as a new selector version.

For each broken field (learning from autoscraper and Scrapling):

1. **search** – on a few samples, every element whose text or attribute, after the field's
   regex and converter, equals the known value or holds it inside words (a regex then
   captures it); with no known value, the elements most like the field's fingerprints
   that also carry its cue ("下一页", a current-page marker) (:mod:`.candidates`);
2. **describe** – each found element as candidate XPaths, stable anchors first
   (:func:`.fingerprint.locators`), the body before the head, then by structure and
   fingerprint likeness;
3. **verify** – a candidate is rejected as soon as it gives one wrong or ambiguous value
   on any sample; the first that agrees everywhere wins (one reading the value's element
   alone beats one reading it among others), else the pages that did not agree are
   searched for more candidates, else the best that agrees most wins;
4. **decide** – repaired only with confidence >= ``min_confidence`` and agreement on two
   pages (all, if fewer were sampled), and on every page for a regex written around a
   value's words: a wrong value is worse than a missing one. An optional field found on
   no sample at all is ``gone``.

List pages relocate their item container first (:mod:`.items`). Fields that read the
same nodes (``duration_text``/``duration_s``) try the XPath their twin was repaired with
first, and a twin with no known value of its own inherits it (and a regex written around
the value's words).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..site.selector_files import FieldSpec, SelectorSet
from .candidates import Candidate, Target, candidates, field_regexes
from .fingerprint import Fingerprint, element_fingerprint, hint_fingerprint, similarity, strong_cue
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
    describe_miss,
    expected,
    judge,
    page_label,
    value_of,
)

__all__ = ["Between", "Repair", "Sample", "check_fields", "relocate", "repaired_fields",
           "repaired_items"]

_NO_PRINTS: Mapping[str, Sequence[Fingerprint]] = MappingProxyType({})
_LOOKAHEAD = 30  # candidates tried past one that reads the value among other elements


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
    chosen: dict[tuple[Any, ...], tuple[Candidate, float]] = {}
    done: dict[str, Repair] = {}
    # Fields with known values first, so a twin without any can inherit their XPath.
    for spec in sorted(selector_set.fields.values(), key=lambda s: not _has_known(run, s)):
        done[spec.name] = _relocate_field(run, spec, fingerprints.get(spec.name, ()), chosen,
                                          min_confidence=min_confidence)
    return repairs + [done[name] for name in selector_set.fields]


def repaired_fields(selector_set: SelectorSet, repairs: Sequence[Repair]) -> dict[str, FieldSpec]:
    """Field specs for a new version: repaired fields rewritten, gone ones left out, the
    others copied."""
    fixed = {r.field: r.new_xpath for r in repairs if r.status == "repaired"}
    regexes = {r.field: r.new_regex for r in repairs}
    gone = {r.field for r in repairs if r.status == "gone"}
    fields: dict[str, FieldSpec] = {}
    for name, spec in selector_set.fields.items():
        if name in gone:
            continue
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


def _tally(run: Run, target: Target, cand: Candidate) -> Tally:
    tally = Tally()
    for page in run.pages:
        verdicts, seen, note = [], set(), ""
        for ctx, known in page.contexts:
            pairs = run.read(cand.loc, cand.source, ctx)
            tally.multi = tally.multi or len(pairs) > 1
            want = expected(target.spec, known)
            if want is NOT_KNOWN and target.mode != "value" and pairs:
                verdicts.append(_judge_unknown(target, cand, pairs, page))
                continue
            raws = [r for _, r in pairs]
            verdicts.append(verdict := judge(target.spec, cand.regex, raws, want, page))
            if want is not NOT_KNOWN:
                seen.add(repr(want))
            if verdict == "miss" and not note:
                note = _miss_note(target.spec, cand, raws, want, page, ctx)
        tally.add(verdicts, seen, page=page, note=note)
        if tally.wrong:
            break  # one wrong value rejects the candidate: stop paying for it
    return tally


def _miss_note(spec: FieldSpec, cand: Candidate, raws: list[str], want: Any, page: Page,
               ctx: Any) -> str:
    value = value_of(raws, cand.regex, spec.convert, spec.many, page.converter(spec))[0]
    where = page_label(page.url)
    if ctx is not page.root:
        where += f" item {[c for c, _ in page.contexts].index(ctx) + 1}"
    return f"{where}: {describe_miss(value, want)}"


def _judge_unknown(target: Target, cand: Candidate, pairs: list[tuple[Any, str]],
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


# --- deciding --------------------------------------------------------------------------


def _relocate_field(run: Run, spec: FieldSpec, prints: Sequence[Fingerprint],
                    chosen: dict[tuple[Any, ...], tuple[Candidate, float]], *,
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
    target = Target(spec, refs, "value" if has_known else "print")
    ranked, evidence = candidates(run, target)
    if not ranked:
        return _nowhere(spec, len(run.pages), has_known)
    if target.mode == "print":
        # Pages are judged by likeness to what was found here; a cue the fingerprints
        # share (every candidate carries it) is strong evidence in itself.
        target = Target(spec, refs, "print", min_sim=0.9 * evidence)
        evidence = max(evidence, 0.85) if strong_cue(refs[0], refs) else evidence
    else:
        evidence = 1.0
    best, tally = _pick(run, target, ranked)
    if tally is not None and tally.agree < tally.checked:
        best, tally = _search_missed(run, target, ranked, best, tally)
    if best is None or tally is None:
        return _unrepaired(spec, len(run.pages),
                           f"none of {len(ranked)} candidates agrees without a wrong value")
    return _decide(run, spec, best, tally, evidence, chosen, min_confidence)


def _nowhere(spec: FieldSpec, pages: int, has_known: bool) -> Repair:
    """Nothing on any sample holds the value or looks like the element: an optional field
    the redesign removed is gone (left out of the new version), a required one broken."""
    why = "known value not found on any sample" if has_known else \
        "no known value, and nothing on the samples resembles its fingerprint"
    if spec.required:
        return _unrepaired(spec, pages, why)
    return Repair(spec.name, spec.xpath, "gone", None, None, 0.0, 0, pages,
                  f"optional, and its element is on no sample: {why}")


def _search_missed(run: Run, target: Target, ranked: list[Candidate], best: Candidate | None,
                   tally: Tally) -> tuple[Candidate | None, Tally | None]:
    """The best candidate missed some pages: what those pages hold the value in may read
    every page (the first pages searched can share a second copy the others lack)."""
    tried = {(c.loc, c.source, c.regex) for c in ranked}
    more, _ = candidates(run, target, tally.missed)
    fresh = [c for c in more if (c.loc, c.source, c.regex) not in tried]
    found, found_tally = _pick(run, target, fresh)
    if found is not None and found_tally is not None and found_tally.agree > tally.agree:
        return found, found_tally
    return best, tally


def _try_twin(run: Run, spec: FieldSpec, refs: Sequence[Fingerprint], has_known: bool,
              chosen: dict[tuple[Any, ...], tuple[Candidate, float]],
              min_confidence: float) -> Repair | None:
    """The XPath of an already repaired field that read the same nodes, if it fits (with
    the regex written around the value's words, which the twin's raw text needs too)."""
    if (twin := chosen.get(spec.key)) is None:
        return None
    cand, confidence = twin
    regexes = (cand.regex,) if cand.inner else field_regexes(spec)
    twins = [Candidate(cand.loc, cand.source, regex, cand.structure, 2.0, cand.cue,
                       cand.inner, cand.in_head) for regex in regexes]
    best, tally = _pick(run, Target(spec, refs, "value" if has_known else "twin"), twins)
    if best is None or tally is None:
        return None
    return _decide(run, spec, best, tally, confidence, chosen, min_confidence)


def _has_known(run: Run, spec: FieldSpec) -> bool:
    return any(expected(spec, known) not in (NOT_KNOWN, ABSENT)
               for page in run.pages for _, known in page.contexts)


def _pick(run: Run, target: Target,
          ranked: list[Candidate]) -> tuple[Candidate | None, Tally | None]:
    """The first candidate that agrees everywhere (ranked best first), preferring one that
    selects the value's element alone; else the one that agrees on most pages."""
    best: tuple[Candidate, Tally] | None = None
    full: tuple[Candidate, Tally, int] | None = None
    for index, cand in enumerate(ranked):
        if full is not None and index > full[2] + _LOOKAHEAD:
            break
        tally = _tally(run, target, cand)
        if tally.wrong or tally.agree == 0:
            continue
        if tally.agree == tally.checked:
            if not tally.multi or target.spec.many:
                return cand, tally
            full = full or (cand, tally, index)
        elif best is None or tally.agree > best[1].agree:
            best = cand, tally
    if full is not None:
        return full[0], full[1]
    return best if best else (None, None)


def _decide(run: Run, spec: FieldSpec, cand: Candidate, tally: Tally, evidence: float,
            chosen: dict[tuple[Any, ...], tuple[Candidate, float]],
            min_confidence: float) -> Repair:
    confidence = tally.agree / tally.checked * (0.8 + 0.2 * cand.structure) * min(evidence, 1.0)
    if len(tally.seen) == 1 and not cand.cue:
        # Every page knew the same value: a constant element (a nav link "社会") would
        # pass too, so only a semantic cue can carry the repair.
        confidence *= 0.75
    confidence = round(confidence, 3)
    need = min(2, len(run.pages))
    notes = tuple(tally.notes)
    if cand.inner and tally.agree < tally.checked:
        return Repair(spec.name, spec.xpath, "unrepaired", None, None, confidence, tally.agree,
                      tally.checked, f"best candidate {cand.xpath} with regex "
                      f"{cand.regex.pattern if cand.regex else ''}: the words around the "
                      f"value differ between pages", notes)
    if tally.agree < need or confidence < min_confidence:
        return Repair(spec.name, spec.xpath, "unrepaired", None, None, confidence, tally.agree,
                      tally.checked, f"best candidate {cand.xpath} agrees on {tally.agree}/"
                      f"{tally.checked} pages, confidence {confidence} (need {need} pages, "
                      f"{min_confidence})", notes)
    chosen[spec.key] = (cand, confidence)
    regex = cand.regex.pattern if cand.regex is not None else None
    return Repair(spec.name, spec.xpath, "repaired", cand.xpath, regex, confidence,
                  tally.agree, tally.checked,
                  f"agrees on {tally.agree}/{tally.checked} pages, no wrong value", notes)


def _unrepaired(spec: FieldSpec, pages: int, reason: str) -> Repair:
    return Repair(spec.name, spec.xpath, "unrepaired", None, None, 0.0, 0, pages, reason)
