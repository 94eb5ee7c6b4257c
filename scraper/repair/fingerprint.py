"""How an element is described: a fingerprint to compare, and XPath steps to find it again.

A :class:`Fingerprint` records what survives most redesigns of the element a field was read
from (after Scrapling's element fingerprints): its tag, its stable attributes, the shape of
its value ("digits+万", "mm:ss"), its ancestors and neighbours, where the value sat (text or
an attribute) and a constant label ("下一页"). Fingerprints are saved after successful runs
and guide :mod:`scraper.relocate` when a selector breaks.

:func:`locators` turns an element into candidate XPaths, stable anchors first (ids, classes,
``data-*`` and other stable attributes, labels), never positions; each comes with a
structure score in (0, 1] that says how much a layout change is likely to spare it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import parsel
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from ..site.extract import string_value
from ..site.selector_files import FieldSpec, compile_xpath

__all__ = [
    "Fingerprint",
    "attr_name_ok",
    "element_cue",
    "element_fingerprint",
    "fingerprint_field",
    "from_json",
    "hint_fingerprint",
    "label_like",
    "locators",
    "similarity",
    "split_source",
    "strong_cue",
    "text_shape",
    "to_json",
]

_SOURCE = re.compile(r"^(?:(?P<loc>.+?)/)?@(?P<attr>[A-Za-z_][\w:.-]*)$")
# Attributes whose value names a role or a state rather than carrying data (the current
# page is often marked only by aria-current or disabled); href/src/alt/style change with
# the data or the theme and would make brittle anchors.
_STABLE_ATTRS = frozenset({"title", "rel", "role", "aria-label", "itemprop", "name", "type",
                           "aria-current", "aria-selected", "disabled"})
# Class tokens and ids minted by build tools (css-1x2y3z, sc-aBcD, _3kd92) or holding
# numbers (module ids, counters) change from one deploy or page to the next.
_GENERATED = re.compile(r"\d{3,}|^(?:css|sc|jsx|svelte|emotion)-|^_|[A-Z].*\d|\d.*[A-Z]")
# Attribute names an XPath can spell (no "@click", ":href", "v-on:x") and that a build
# did not mint (Vue's data-v-7ba5bd90).
_ATTR_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")
_GENERATED_ATTR = re.compile(r"^data-v-|-(?=[a-f]*\d)[0-9a-f]{6,}$")
_MARKER = re.compile(r"(?:^|[-_])(?:current|active|selected|cur|on)$")
_SHAPES = (
    ("url", re.compile(r"^(?:[a-z]+:)?//\S+$|^/[^\s/]\S*$")),
    ("h:mm:ss", re.compile(r"^\d{1,2}:\d{2}:\d{2}$")),
    ("mm:ss", re.compile(r"^\d{1,3}:\d{2}$")),
    ("digits", re.compile(r"^[\d,]+$")),
    ("digits+unit", re.compile(r"^\d+(?:\.\d+)?\s*[万亿千wWkK]\+?次?$")),
    ("cjk", re.compile(r"^[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef\s\d·、，。！？：“”《》]+$")),
    ("latin", re.compile(r"^[A-Za-z][A-Za-z\s'-]*$")),
)
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What an element a field was read from looked like (see the module docstring)."""

    tag: str
    attrs: Mapping[str, str] = field(hash=False)
    text_shape: str
    path: tuple[str, ...]
    siblings: tuple[str, str]
    source: str  # "text" or "@<attribute>"
    label: str = ""


def to_json(fp: Fingerprint) -> dict[str, Any]:
    """The fingerprint as a plain dict (JSON and BSON safe)."""
    return {"tag": fp.tag, "attrs": dict(fp.attrs), "text_shape": fp.text_shape,
            "path": list(fp.path), "siblings": list(fp.siblings), "source": fp.source,
            "label": fp.label}


def from_json(doc: Mapping[str, Any]) -> Fingerprint:
    """A fingerprint from :func:`to_json`'s dict; raises ``ValueError`` if malformed."""
    try:
        prev, nxt = (str(s) for s in doc["siblings"])
        return Fingerprint(
            tag=str(doc["tag"]), attrs={str(k): str(v) for k, v in doc["attrs"].items()},
            text_shape=str(doc["text_shape"]), path=tuple(str(p) for p in doc["path"]),
            siblings=(prev, nxt), source=str(doc["source"]), label=str(doc.get("label", "")))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"not a fingerprint: {doc!r}") from exc


@functools.lru_cache(maxsize=8192)
def text_shape(raw: str) -> str:
    """The shape of a value: "url", "mm:ss", "digits", "digits+unit", "cjk", … or "mixed"."""
    text = raw.strip()
    if not text:
        return ""
    return next((name for name, pattern in _SHAPES if pattern.match(text)), "mixed")


def label_like(value: str) -> bool:
    """A short constant-looking text ("下一页", "播放", "next"), not data or an id."""
    text = value.strip()
    return 0 < len(text) <= 12 and not _GENERATED.search(text) and text_shape(text) in {
        "cjk", "latin", "mixed"} and "/" not in text


def attr_name_ok(name: str) -> bool:
    """An attribute name usable in an XPath and not minted by a build."""
    return bool(_ATTR_NAME.match(name)) and not _GENERATED_ATTR.search(name)


def stable_classes(el: Any) -> list[str]:
    return [c for c in (el.get("class") or "").split()
            if not _GENERATED.search(c) and not set(c) & {'"', "'", "\\"}]


def _stable_id(el: Any) -> str:
    ident = (el.get("id") or "").strip()
    return ident if ident and not _GENERATED.search(ident) and literal(ident) == f'"{ident}"' \
        and " " not in ident else ""


def describe(el: Any) -> str:
    """``tag#id.class.class`` with the stable parts only; "" for no element."""
    if el is None or not isinstance(el.tag, str):
        return ""
    ident = _stable_id(el)
    return el.tag + (f"#{ident}" if ident else "") + "".join(
        f".{c}" for c in sorted(stable_classes(el)))


def _marker(el: Any) -> bool:
    """A current/active state on the element or its parent (the pager's current page)."""
    parent = el.getparent()
    return any(_MARKER.search(c) for node in (el, parent) if node is not None
               for c in (node.get("class") or "").split()) or el.get("aria-current") is not None


def _attrs(el: Any) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if ident := _stable_id(el):
        attrs["id"] = ident
    if classes := stable_classes(el):
        attrs["class"] = " ".join(sorted(classes))
    for name, value in el.attrib.items():
        if (name.startswith("data-") or name in _STABLE_ATTRS) and attr_name_ok(name):
            attrs[name] = value.strip() if label_like(value) else ""
    if _marker(el):
        attrs["state"] = "current"
    return attrs


def _label(el: Any, source: str) -> str:
    """A constant text beside the value: the element's text when the value is an attribute,
    else its title."""
    text = " ".join(string_value(el).split()) if source != "text" else (
        el.get("title") or el.get("aria-label") or "")
    return text.strip() if label_like(text) else ""


def element_fingerprint(el: Any, source: str, raw: str) -> Fingerprint:
    """The fingerprint of ``el`` whose value ``raw`` was read from ``source``."""
    ancestors = [describe(a) for a, _ in zip(el.iterancestors(), range(3), strict=False)]
    return Fingerprint(
        tag=el.tag, attrs=_attrs(el), text_shape=text_shape(raw), path=tuple(ancestors),
        siblings=(describe(_element_sibling(el, -1)), describe(_element_sibling(el, 1))),
        source=source, label=_label(el, source))


def _element_sibling(el: Any, step: int) -> Any:
    node = el.getprevious() if step < 0 else el.getnext()
    while node is not None and not isinstance(node.tag, str):
        node = node.getprevious() if step < 0 else node.getnext()
    return node


def split_source(xpath: str) -> tuple[str, str]:
    """``(element xpath, source)``: ``a/@href`` -> ``("a", "@href")``, ``@id`` ->
    ``(".", "@id")``, ``a/text()`` or ``a`` -> ``("a", "text")``."""
    xpath = xpath.strip()
    if match := _SOURCE.match(xpath):
        return match["loc"] or ".", "@" + match["attr"]
    return (xpath[:-7], "text") if xpath.endswith("/text()") else (xpath, "text")


def read_source(el: Any, source: str) -> str | None:
    """The raw string a field reads from ``el``: its string value or one attribute."""
    if source == "text":
        return string_value(el)
    value = el.get(source[1:])
    return None if value is None else str(value)


def fingerprint_field(html: str, spec: FieldSpec, *, items_xpath: str | None) -> list[Fingerprint]:
    """Fingerprints of the elements ``spec`` reads on a page where it works (one per item on
    a list page, duplicates dropped); call after a successful extraction and store them."""
    root = parsel.Selector(text=html, type="html").root
    contexts = compile_xpath(items_xpath)(root) if items_xpath else [root]
    loc, source = split_source(spec.xpath)
    compiled = compile_xpath(loc)
    prints: list[Fingerprint] = []
    for ctx in contexts:
        for el in compiled(ctx, **spec.vars):
            raw = read_source(el, source) if isinstance(el, etree._Element) else None
            if raw and raw.strip():
                fp = element_fingerprint(el, source, raw)
                if fp not in prints:
                    prints.append(fp)
                break  # the extractor reads the first match only
    return prints


_STEP_SPLIT = re.compile(r"/(?![^\[]*\])")
_STEP_TAG = re.compile(r"^(?:[\w-]+::)?([\w*-]+)")
_CLASS_LIT = re.compile(r"has-class\(\s*[\"']([^\"']+)[\"']")
_ATTR_EQ = re.compile(r"@([\w:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_TEXT_EQ = re.compile(r"(?:normalize-space|text)\(\)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def _step_tag(step: str) -> str:
    match = _STEP_TAG.match(step)
    return match[1] if match else "*"


def hint_fingerprint(spec: FieldSpec) -> Fingerprint:
    """A rough fingerprint read from the field's own XPath, for when none was stored: the
    last step's tag, classes, attributes and labels, the earlier steps as its path."""
    loc, source = split_source(spec.xpath)
    for name, value in spec.vars.items():
        loc = re.sub(rf"\${re.escape(name)}\b", literal(str(value)) or '""', loc)
    steps = [s for s in _STEP_SPLIT.split(loc) if s and s != "."]
    last = steps[-1] if steps else "*"
    tag = _step_tag(last)
    attrs: dict[str, str] = {}
    if classes := _CLASS_LIT.findall(last):
        attrs["class"] = " ".join(sorted(classes))
        if any(_MARKER.search(c) for c in classes):
            attrs["state"] = "current"
    labels = [a or b for a, b in _TEXT_EQ.findall(last)]
    for name, dq, sq in _ATTR_EQ.findall(last):
        value = dq or sq
        attrs[name] = value if label_like(value) else ""
        if name in ("title", "aria-label") and label_like(value):
            labels.append(value)
    path = tuple(_step_tag(s) + "".join(f".{c}" for c in _CLASS_LIT.findall(s))
                 for s in reversed(steps[:-1]))
    return Fingerprint(tag=tag, attrs=attrs, text_shape="", path=path, siblings=("", ""),
                       source=source, label=labels[0] if labels else "")


# --- comparing fingerprints ------------------------------------------------------------


def _tokens(fp: Fingerprint) -> set[str]:
    out = {f"{k}={v}" for k, v in fp.attrs.items() if k != "class"} | set(fp.attrs)
    return out | {f"class={c}" for c in fp.attrs.get("class", "").split()}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _path_tokens(parts: Sequence[str]) -> set[str]:
    return {t for part in parts for t in re.split(r"(?=[.#])", part) if t}


def _pair(fp: Fingerprint, ref: Fingerprint) -> float:
    # Weights: what a redesign keeps (value shape, tag, where the value sits, labels)
    # counts as much as what it renames (classes, ancestors), so neither alone decides.
    source = 1.0 if fp.source == ref.source else (
        0.5 if fp.source[0] == ref.source[0] == "@" else 0.0)
    parts = [(1.5, float(fp.tag == ref.tag)), (1.5, source),
             (2.0, _jaccard(_tokens(fp), _tokens(ref))),
             (1.5, _jaccard(_path_tokens(fp.path), _path_tokens(ref.path))),
             (0.5, _jaccard(_path_tokens(fp.siblings), _path_tokens(ref.siblings)))]
    if ref.text_shape:
        parts.append((1.5, float(fp.text_shape == ref.text_shape)))
    if ref.label:
        parts.append((2.0, float(fp.label == ref.label)))
    return sum(w * s for w, s in parts) / sum(w for w, _ in parts)


def similarity(fp: Fingerprint, refs: Sequence[Fingerprint]) -> float:
    """How much ``fp`` resembles the closest of ``refs``, in [0, 1]."""
    return max((_pair(fp, ref) for ref in refs), default=0.0)


def _cue(refs: Sequence[Fingerprint]) -> tuple[str, frozenset[str]] | None:
    labels = frozenset(ref.label for ref in refs)
    if len(labels) == 1 and "" not in labels:
        return "label", labels
    if refs and all(ref.attrs.get("state") for ref in refs):
        return "state", frozenset()
    return None


def strong_cue(fp: Fingerprint, refs: Sequence[Fingerprint]) -> bool | None:
    """Whether ``fp`` carries the refs' semantic cue (their one constant label, or a
    current-page marker); ``None`` when the refs have no such cue."""
    cue = _cue(refs)
    if cue is None:
        return None
    if cue[0] == "label":
        return fp.label in cue[1] or fp.attrs.get("title") in cue[1]
    return bool(fp.attrs.get("state"))


def element_cue(el: Any, source: str, refs: Sequence[Fingerprint]) -> bool | None:
    """:func:`strong_cue` of ``el`` without building its whole fingerprint (a fast filter)."""
    cue = _cue(refs)
    if cue is None:
        return None
    if cue[0] == "label":
        return _label(el, source) in cue[1] or (el.get("title") or "").strip() in cue[1]
    return _marker(el)


# --- XPath steps -----------------------------------------------------------------------


def literal(value: str) -> str | None:
    """``value`` as an XPath 1.0 string literal, or ``None`` if it holds both quotes."""
    if '"' not in value:
        return f'"{value}"'
    return f"'{value}'" if "'" not in value else None


def _predicates(el: Any, *, presence: bool, label: bool) -> list[tuple[str, float]]:
    preds: list[tuple[str, float]] = []
    if ident := _stable_id(el):
        preds.append((f'[@id="{ident}"]', 1.0))
    preds += [(f'[has-class("{c}")]', 1.0) for c in stable_classes(el)]
    for name, value in sorted(el.attrib.items()):
        if not (name.startswith("data-") or name in _STABLE_ATTRS) or not attr_name_ok(name):
            continue
        if label_like(value) and (lit := literal(value.strip())):
            preds.append((f"[@{name}={lit}]", 1.0))
        elif presence:
            preds.append((f"[@{name}]", 0.93))
    text = " ".join(string_value(el).split())
    if label and label_like(text) and (lit := literal(text)):
        preds.append((f"[normalize-space()={lit}]", 0.97))
    return preds


def locators(el: Any, ctx: Any, *, relative: bool, label: bool = False) -> dict[str, float]:
    """Candidate XPaths selecting ``el`` from ``ctx`` (the document, or an item for
    ``relative``), each with its structure score; ``label`` allows text predicates."""
    if el is ctx:  # an item may carry a value itself (li[data-vid]); a document may not
        return {".": 1.0} if relative else {}
    pre, tag = (".//" if relative else "//"), el.tag
    own = _predicates(el, presence=True, label=label)
    out: dict[str, float] = {}

    def add(xpath: str, score: float) -> None:
        out[xpath] = max(score, out.get(xpath, 0.0))

    for pred, score in own:
        add(f"{pre}{tag}{pred}", score)
        add(f"{pre}*{pred}", score - 0.02)  # survives a tag change
    for depth, anc in enumerate(_ancestors(el, ctx)):
        for pred, score in _predicates(anc, presence=False, label=False)[:3]:
            axis = "/" if depth == 0 else "//"
            add(f"{pre}{anc.tag}{pred}{axis}{tag}", 0.95 * score)
            add(f"{pre}*{pred}{axis}{tag}", 0.93 * score)
            for own_pred, own_score in own[:2]:
                add(f"{pre}{anc.tag}{pred}//{tag}{own_pred}", min(score, own_score))
    if (prev := _element_sibling(el, -1)) is not None:
        for pred, _ in _predicates(prev, presence=False, label=True)[:3]:
            # "the next <tag> after this marker": adjacency, not a position in the layout.
            add(f"{pre}{prev.tag}{pred}/following-sibling::{tag}[1]", 0.88)
    add(f"{pre}{tag}", 0.85)
    return out


def _ancestors(el: Any, ctx: Any) -> list[Any]:
    found: list[Any] = []
    for anc in el.iterancestors():
        if anc is ctx or anc.tag in ("body", "html") or len(found) == 3:
            break
        found.append(anc)
    return found


def searchable(el: Any) -> bool:
    """Elements whose text or attributes may hold a field's value."""
    return isinstance(el.tag, str) and el.tag not in _SKIP_TAGS
