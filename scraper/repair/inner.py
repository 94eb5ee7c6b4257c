"""Values inside words: a known value found within a longer text or attribute.

A redesign may wrap a value in words ("累计播放 2.2万 次", "378条") or bury it in a longer
attribute (``data-params='{"page": 3, "href": "//…"}'``, ``data-track="views=22000"``).
:func:`inner_regexes` finds the spans of a string that could be the value (by the shape
its converter reads: a number, a duration, a link, or the known text itself), converts
them, and for each that equals the known value writes a regex that captures it between
the words directly around it. Such a regex is only a proposal: it carries the words of
the page it was found on, so it reads another page only where the same words surround
the value, and the caller accepts it only when every sample agrees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from ..site.convert import Converter

__all__ = ["MAX_INNER", "inner_regexes"]

MAX_INNER = 300  # longer strings are sections or scripts, not a value with its label
_SEPARATOR = "\\s\\d,，;；|·、"  # where the words around a value end: data or punctuation
_WORD_BEFORE = re.compile(f"[^{_SEPARATOR}]+$")
_WORD_AFTER = re.compile(f"^[^{_SEPARATOR}]+")
# What each converter's value looks like inside a longer string.
_SHAPES: dict[str, str] = {
    "int": r"\d+",
    "count": r"\d[\d,]*(?:\.\d+)?\s*[万亿千wWkK]?",
    "duration": r"\d{1,2}(?::\d{2}){1,2}",
    "url": r"""(?:(?:https?:)?//|/)[^\s"'<>]+""",
}
# A number inside a longer token (an id, a time, a file name) is not a value of its own.
_APART = r"(?<![A-Za-z0-9_.:/#%-])({})(?![A-Za-z0-9_.:/%-])"
_URL_END = re.compile(r"[^\s\"'<>(){}\[\],;]+")


def inner_regexes(raw: str, want: Any, convert: str, conv: Converter,
                  agrees: Callable[[Any, Any], bool]) -> list[re.Pattern[str]]:
    """Regexes capturing ``want`` out of ``raw`` between the words around it (none when
    ``raw`` is the value alone, is too long, or the value has no words beside it)."""
    text = " ".join(raw.split())
    if not text or len(text) > MAX_INNER:
        return []
    found: dict[str, re.Pattern[str]] = {}
    for start, end in _spans(text, want, convert):
        if (start, end) == (0, len(text)) or not agrees(conv(text[start:end]), want):
            continue
        if (pattern := _pattern(text, start, end, convert)) is not None:
            found.setdefault(pattern, re.compile(pattern))
    return list(found.values())


def _spans(text: str, want: Any, convert: str) -> Iterator[tuple[int, int]]:
    """Where in ``text`` the value could sit."""
    if convert in ("int", "count", "duration"):
        for match in re.finditer(_APART.format(_SHAPES[convert]), text):
            yield match.start(), match.end()
    elif convert == "url":
        # A link starts after a quote, a space or an "=", not inside another link.
        for match in re.finditer(r"(?<![\w.:/%-])(?:(?:https?:)?//|/)", text):
            tail = _URL_END.match(text, match.end())
            if tail is not None:
                yield match.start(), tail.end()
    elif isinstance(want, str) and (value := " ".join(want.split())):
        start = text.find(value)
        while start >= 0:
            yield start, start + len(value)
            start = text.find(value, start + 1)


def _before(text: str) -> str:
    """The word right before a value; past it, the key a punctuation-only word follows
    (``"href": "`` rather than a bare quote)."""
    text = text.rstrip()
    if (word := _WORD_BEFORE.search(text)) is None:
        return ""
    if any(c.isalnum() for c in word[0]):
        return word[0]
    rest = text[:word.start()]
    key = _WORD_BEFORE.search(rest.rstrip())
    return text[key.start():] if key is not None and rest != rest.rstrip() else word[0]


def _after(text: str) -> str:
    text = text.lstrip()
    word = _WORD_AFTER.match(text)
    return word[0] if word else ""


def _literal(words: str) -> str:
    return r"\s*".join(re.escape(part) for part in words.split())


def _pattern(text: str, start: int, end: int, convert: str) -> str | None:
    """A regex for the value at ``text[start:end]`` and the words around it, or ``None``
    when it has no words on either side (nothing would tell it from other values)."""
    before, after = _before(text[:start]), _after(text[end:])
    if not before and not after:
        return None
    shape = _SHAPES.get(convert)
    if shape is None:  # free text: only the words (or the string's ends) delimit it
        if (not before and text[:start].strip()) or (not after and text[end:].strip()):
            return None
        shape = ".+?"
    # A side without words is anchored where the string ends there; a shaped value
    # delimits itself after a separator or a number.
    left = _literal(before) + r"\s*" if before else ("" if text[:start].strip() else r"^\s*")
    right = r"\s*" + _literal(after) if after else ("" if text[end:].strip() else r"\s*$")
    if convert == "url" and after:
        shape = r"""[^\s"'<>]+?"""
    return f"{left}({shape}){right}"
