"""Cookies and signed tokens, read from what the site's own scripts do in the browser.

The player computes ``ckey`` and calls the play-info API itself; the comment script
computes ``sign`` and loads comment page 1. We recognise those requests by host, path
and the video they name, and read the comment ``sign``/``time`` from the request URL
so later comment pages reuse a token the site itself made. Nothing here knows a key.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "ApiMatcher",
    "CommentSign",
    "SignJar",
    "api_matcher",
    "comment_sign_from_url",
    "numeric_id",
    "vid_forms",
]

# The comment API accepts a sign for 300 s around its `time`; renew well before that.
SIGN_MAX_AGE_S = 200.0


def numeric_id(vid: str) -> int | None:
    """``XMzU2…`` -> the numeric id (the site encodes ``base64(str(id * 4))``)."""
    raw = vid.removesuffix("==").removeprefix("X")
    try:
        text = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode()
        value = int(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return value // 4 if value % 4 == 0 else None


def vid_forms(vid: str) -> frozenset[str]:
    """Every way an API request may name this video."""
    forms = {vid, vid.removesuffix("==") + "==", vid.removesuffix("==")}
    number = numeric_id(vid)
    if number is not None:
        forms.add(str(number))
    return frozenset(forms)


@dataclass(frozen=True, slots=True)
class ApiMatcher:
    """Requests to ``host`` + ``path`` whose query names the video (in one of
    ``vid_params``) and carries every ``extra`` value; the browser holds only URLs that
    match ``url_glob`` for it to decide on."""

    host: str
    path: str
    forms: frozenset[str]
    vid_params: tuple[str, ...]
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def url_glob(self) -> str:
        """Any scheme and port, this host and path, any query (CDP's wildcards)."""
        return f"*//{_glob_escape(self.host)}*{_glob_escape(self.path)}*"

    def __call__(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.hostname != self.host or parts.path != self.path:
            return False
        query = parse_qs(parts.query)
        if not any(v in self.forms for name in self.vid_params for v in query.get(name, ())):
            return False
        return all(query.get(k, [None])[0] == v for k, v in self.extra)


def api_matcher(
    host: str, path: str, *, vid: str, vid_params: tuple[str, ...],
    extra: dict[str, str] | None = None,
) -> ApiMatcher:
    """A predicate for URLs of ``host``+``path`` whose query names ``vid``."""
    return ApiMatcher(host=host, path=path, forms=vid_forms(vid), vid_params=vid_params,
                      extra=tuple(sorted((extra or {}).items())))


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?\\" else c for c in text)


@dataclass(frozen=True, slots=True)
class CommentSign:
    sign: str
    time: str
    captured_at: float

    def fresh(self, now: float | None = None) -> bool:
        return (now if now is not None else time.monotonic()) - self.captured_at < SIGN_MAX_AGE_S


def comment_sign_from_url(url: str) -> CommentSign | None:
    """Read ``sign`` and ``time`` from a comment request the page made."""
    query = parse_qs(urlsplit(url).query)
    sign, stamp = query.get("sign", [""])[0], query.get("time", [""])[0]
    if not sign or not stamp:
        return None
    return CommentSign(sign=sign, time=stamp, captured_at=time.monotonic())


class SignJar:
    """The newest comment sign seen in any tab, shared by every comment fetch."""

    def __init__(self) -> None:
        self._latest: CommentSign | None = None

    def offer(self, sign: CommentSign | None) -> None:
        if sign is not None and (self._latest is None or
                                 sign.captured_at >= self._latest.captured_at):
            self._latest = sign

    def current(self) -> CommentSign | None:
        """The newest sign if still fresh, else None (the caller renders a page)."""
        latest = self._latest
        return latest if latest is not None and latest.fresh() else None

    def discard(self, sign: CommentSign) -> None:
        """Forget a sign the API refused, so the next fetch gets a new one."""
        if self._latest is sign:
            self._latest = None
