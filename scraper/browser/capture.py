"""The API replies a page's own scripts fetch, read while the browser holds them, and
the status of the page's own document.

Each page's session has Fetch interception for the URL globs of the replies wanted, and
for documents: only requests matching a pattern pause, at the response stage; a reply's
body is read while it is held, a document's status and URL are noted, then each goes on
to the page unchanged. Watching every request's events instead (Network domain, or
Playwright's ``response`` event) costs every request of every visit: measured on 600
video visits over 4 tabs (bench/visits.py --mode fetch against --mode events, A/B/A/B),
about 10 % more wall time then.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import BrowserError
from .cdp import CdpError, Session, fail_quietly
from .error_map import first_line

__all__ = ["Captured", "Document", "ReplyCatcher", "UrlMatcher"]


class UrlMatcher(Protocol):
    """Which reply to capture: ``url_glob`` (CDP's ``*`` and ``?`` wildcards, backslash
    escapes) picks the requests the browser holds for us, the call decides among them."""

    @property
    def url_glob(self) -> str: ...

    def __call__(self, url: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Captured:
    """A response the page's own scripts fetched while we watched."""

    url: str
    status: int
    body: str


# How long a held reply's body may take to read, or its release to be answered.
_HOLD_S = 30.0
# Every document the page loads pauses once at the response stage: its status and URL.
_DOCUMENTS = {"urlPattern": "*", "resourceType": "Document", "requestStage": "Response"}


@dataclass(frozen=True, slots=True)
class Document:
    """The page's own document as it arrived: the final URL (after redirects), status."""

    url: str
    status: int


class ReplyCatcher:
    """Fetch interception on one page: the replies one visit waits for, as futures."""

    def __init__(self, session: Session, main_frame: str) -> None:
        """A catcher on the page of ``session`` (whose main frame is ``main_frame``);
        nothing is held until ``expect``."""
        self._session = session
        self._main_frame = main_frame
        self.document: Document | None = None  # the current visit's
        self._globs: frozenset[str] | None = None
        self._wanted: dict[str, UrlMatcher] = {}
        self._results: dict[str, asyncio.Future[Captured]] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        session.on("Fetch.requestPaused", self._on_paused)

    async def expect(self, wanted: Mapping[str, UrlMatcher]) -> dict[str, asyncio.Future[Captured]]:
        """Watch for ``wanted`` from now on (the previous visit's wishes are dropped).

        Interception grows to the union of every glob asked for on this page: a request
        held for an older glob is simply let go, which costs less than a CDP call per
        visit to narrow the patterns again.
        """
        for future in self._results.values():
            future.cancel()
        self.document = None
        globs = (self._globs or frozenset()) | {matcher.url_glob for matcher in wanted.values()}
        if globs != self._globs:
            patterns = [{"urlPattern": glob, "requestStage": "Response"} for glob in sorted(globs)]
            await self._session.send("Fetch.enable", {"patterns": [_DOCUMENTS, *patterns]})
            self._globs = globs
        loop = asyncio.get_running_loop()
        self._wanted = dict(wanted)
        self._results = {name: loop.create_future() for name in wanted}
        return self._results

    def stop(self) -> None:
        """The visit is over: replies arriving now are let go untouched."""
        self._wanted = {}

    def fail(self, exc: BrowserError) -> None:
        """Wake whoever waits: the replies will not come (the page went away)."""
        for future in self._results.values():
            fail_quietly(future, exc)

    def close(self) -> None:
        self.stop()
        for task in list(self._handlers):
            task.cancel()

    def _on_paused(self, event: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self._release(event))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    def _claim(self, url: str) -> asyncio.Future[Captured] | None:
        for name, matches in self._wanted.items():
            future = self._results.get(name)
            if future is not None and not future.done() and matches(url):
                return future
        return None

    async def _release(self, event: dict[str, Any]) -> None:
        """Read a held reply if a visit wants it, then let it go on to the page."""
        request_id, url = event["requestId"], event["request"]["url"]
        status = event.get("responseStatusCode")
        if event.get("resourceType") == "Document":
            # A redirect's hop is not the document; the hop after it will be.
            if (event.get("frameId") == self._main_frame and isinstance(status, int)
                    and not 300 <= status < 400):
                self.document = Document(url, status)
            future = None
        else:
            future = self._claim(url)
        try:
            # A redirect or a failed request has no body to read.
            if future is not None and isinstance(status, int) and not 300 <= status < 400:
                async with asyncio.timeout(_HOLD_S):
                    await self._read(request_id, url, status, future)
        except TimeoutError:
            if future is not None:
                fail_quietly(future, BrowserError(
                    f"cannot read {url}: no answer within {_HOLD_S:g}s"))
        finally:
            with contextlib.suppress(CdpError, TimeoutError):  # the page closed while held
                async with asyncio.timeout(_HOLD_S):
                    await self._session.send(
                        "Fetch.continueRequest", {"requestId": request_id})

    async def _read(self, request_id: str, url: str, status: int,
                    future: asyncio.Future[Captured]) -> None:
        try:
            reply = await self._session.send("Fetch.getResponseBody", {"requestId": request_id})
        except CdpError as exc:
            fail_quietly(future, BrowserError(f"cannot read {url}: {first_line(exc)}"))
            return
        raw = reply.get("body", "")
        body = (base64.b64decode(raw).decode("utf-8", errors="replace")
                if reply.get("base64Encoded") else raw)
        if not future.done():
            future.set_result(Captured(url=url, status=status, body=body))
