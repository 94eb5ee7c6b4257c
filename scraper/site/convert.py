"""Value converters: the text a page shows turned into the value we store.

Pure functions, no I/O. Every ``parse_*`` returns ``None`` for text it cannot read, never
raises: a value that does not parse is a *missing* value to the extractor, which decides
whether that matters (required field) or not (default).

Selector files name a converter per field; :func:`converter` returns the callable for a
name, bound to the scheme (and page URL) that relative links are resolved against.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from urllib.parse import urljoin, urlsplit

__all__ = [
    "CONVERTER_NAMES",
    "Converter",
    "absolutize",
    "converter",
    "count_step",
    "parse_count",
    "parse_duration",
    "parse_int",
    "parse_strip",
    "parse_text",
    "parse_url",
]

Converter = Callable[[str], object]

# Youku writes big counts with a Chinese unit ("2.2万", "3.5亿"); some places add "+" or "次".
_COUNT = re.compile(r"^(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[万亿千wWkK]?)\s*\+?\s*次?$")
_UNITS = {"": 1, "千": 1_000, "k": 1_000, "K": 1_000, "万": 10_000, "w": 10_000,
          "W": 10_000, "亿": 100_000_000}
_INT = re.compile(r"^[+-]?\d+$")
# Links that do not lead to a page: the subscribe button's "javascript:void(0);" etc.
_NOT_A_LINK = ("javascript:", "about:", "#", "data:")


def parse_text(value: str) -> str | None:
    """The text without surrounding whitespace; empty text is no value."""
    return value.strip() or None


def parse_strip(value: str) -> str | None:
    """The text with surrounding whitespace removed and inner runs collapsed to one space."""
    return " ".join(value.split()) or None


def parse_int(value: str) -> int | None:
    """A plain integer ("7", " 12 "); anything else is no value."""
    value = value.strip()
    return int(value) if _INT.match(value) else None


def parse_count(value: str) -> int | None:
    """A displayed count: "378", "1,322", "2.2万" (22000), "104万", "3.5亿"."""
    match = _count_match(value)
    if not match:
        return None
    try:
        number = Decimal(match["num"]) * _UNITS[match["unit"]]
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        return None
    return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _count_match(value: str) -> re.Match[str] | None:
    return _COUNT.match("".join(value.split()).replace(",", "").replace("，", ""))


def count_step(value: str) -> int | None:
    """The resolution of a displayed count: how far apart two values it can show lie.

    "1,322" -> 1, "4.1万" -> 1,000, "104万" -> 10,000, "1.2亿" -> 10,000,000; ``None`` for
    text that is no count. A count the site shows unchanged may have grown by less than this.
    """
    match = _count_match(value)
    if not match:
        return None
    scale: int = 10 ** len(match["num"].partition(".")[2])  # decimals shown
    return max(1, _UNITS[match["unit"]] // scale)


def parse_duration(value: str) -> int | None:
    """Seconds from "00:41", "12:05" or "1:02:03"; minutes and seconds must be below 60."""
    parts = value.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    numbers = [int(p) for p in parts]
    if any(n >= 60 for n in numbers[1:]):
        return None
    seconds = 0
    for number in numbers:
        seconds = seconds * 60 + number
    return seconds


def absolutize(url: str, scheme: str, *, base: str | None = None) -> str:
    """Give a link a scheme: "//host/p" -> "{scheme}://host/p"; "/p" is joined to ``base``.

    Absolute URLs are returned unchanged, and so are relative ones when no ``base`` is given.
    """
    url = url.strip()
    if url.startswith("//"):
        return f"{scheme}:{url}"
    if base and not urlsplit(url).scheme:
        return urljoin(base, url)
    return url


def parse_url(value: str, *, scheme: str, base: str | None = None) -> str | None:
    """A link made absolute; empty, "#" and "javascript:" links are no value."""
    value = value.strip()
    if not value or value.lower().startswith(_NOT_A_LINK):
        return None
    return absolutize(value, scheme, base=base)


def _present(value: str) -> bool:
    return True


_PLAIN: dict[str, Converter] = {
    "text": parse_text,
    "strip": parse_strip,
    "int": parse_int,
    "count": parse_count,
    "duration": parse_duration,
    # The extractor decides presence from the match itself; on a string it is always True.
    "bool_present": _present,
}
CONVERTER_NAMES: frozenset[str] = frozenset({*_PLAIN, "url"})


def converter(name: str, *, scheme: str, base_url: str | None = None) -> Converter:
    """The converter called ``name``; ``url`` resolves links against ``scheme``/``base_url``.

    Raises ``KeyError`` for an unknown name (selector files are validated against
    :data:`CONVERTER_NAMES` when loaded, so the crawl never meets one).
    """
    if name == "url":
        return partial(parse_url, scheme=scheme, base=base_url)
    return _PLAIN[name]
