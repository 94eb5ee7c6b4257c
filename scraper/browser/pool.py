"""A pool of reused tabs over ``chromium.Browser``, capturing the page's API replies.

A tab's page is reused for visit after visit (opening a new page per video is the
largest cost of rendering) and replaced after a bounded number of visits, when its
context or Chromium is retired, and when it crashed, hung past its deadline or lost its
browser (``PageLost``: the caller retries the visit, which opens a new page).
Images and web fonts are off in the renderer (``--blink-settings``) and the site's media
hosts resolve nowhere for the browser. The API replies a visit waits for, and the
document's status, are held and read by ``capture.ReplyCatcher`` (CDP Fetch for their
URLs only), not by watching every request. A tab drives its page with a handful of CDP
commands a visit (navigate, the held replies, a frame, the DOM); every CDP error stops
here as a ``BrowserError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import BrowserError, PageLost
from ..progress import Count
from .capture import Captured, ReplyCatcher, UrlMatcher
from .chromium import Browser, PageTarget
from .error_map import cdp_errors, first_line, within
from .frames import begin_frame
from .options import BrowserOptions

__all__ = [
    "Browser", "BrowserOptions", "Captured", "Tab", "TabPool", "UrlMatcher", "Visit", "first_line",
]

log = logging.getLogger(__name__)

# Past the page timeout a visit waits for, how long a page operation may take before
# the page counts as hung (CDP commands have no deadline of their own).
_DEADLINE_GRACE_S = 5.0
# A visit waiting for the site's API replies past _FRAMES_AFTER_S asks for a frame every
# _FRAME_EVERY_S, as a 10 fps screen would, in case the page's scripts wait for one
# (browser/frames.py); most replies come sooner, needing none.
_FRAMES_AFTER_S = 0.25
_FRAME_EVERY_S = 0.1
_HTTP_ERROR = "net::ERR_HTTP_RESPONSE_CODE_FAILURE"
# A visit with no replies to wait for reads the DOM once the document is parsed.
_PARSED = ("document.readyState !== 'loading' || new Promise(done => document"
           ".addEventListener('DOMContentLoaded', () => done(true), {once: true}))")


@dataclass(frozen=True, slots=True)
class Visit:
    """One navigation: the final URL, its HTTP status and the responses captured."""

    url: str
    status: int | None
    captured: Mapping[str, Captured] = field(default_factory=dict)


class Tab:
    """A page reused across visits, with the responses of its current visit captured."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser
        self._page: PageTarget | None = None
        self._gone = False  # the page crashed or was closed under us
        self._visits = 0
        self._catcher: ReplyCatcher | None = None
        self._cookies: dict[str, str] | None = None
        self._preload: tuple[str, asyncio.Task[Visit]] | None = None

    @property
    def _context(self) -> str | None:
        return self._page.context if self._page is not None else None

    def _lost(self) -> bool:
        return self._gone or self._browser.dead(self._context)

    async def _ensure_page(self) -> PageTarget:
        if self._page is not None and (self._visits >= self._browser.options.visits_per_page
                                       or self._gone or self._browser.retired(self._context)):
            await self.close()
        if self._page is None:
            page = await self._browser.open_page()
            self._page, self._gone, self._visits = page, False, 0
            self._catcher = ReplyCatcher(page.session, page.target_id)
            page.on_end(lambda how: self._on_end(page, how))
        return self._page

    def _on_end(self, page: PageTarget, how: str) -> None:
        if page is not self._page:
            return
        if how == "crash":
            log.warning("a page crashed; the visit is retried in a new one")
            self._browser.stats.note(Count.BROWSER_PAGE_CRASHES)
        # Wake whoever waits for this page's replies: they will not come.
        self._gone = True
        if self._catcher is not None:
            self._catcher.fail(PageLost("the page went away"))

    @contextlib.asynccontextmanager
    async def _guard(self, what: str, *, limit_s: float | None = None) -> AsyncIterator[None]:
        """Map CDP errors for one page operation with a hard deadline; a page that is
        lost (crashed, hung, its browser gone) is dropped for the next visit."""
        limit = (limit_s or self._browser.options.timeout_s) + _DEADLINE_GRACE_S
        try:
            async with within(limit, what):
                with cdp_errors(what, gone=self._lost):
                    yield
        except PageLost as exc:
            if isinstance(exc.__cause__, TimeoutError):
                self._browser.stats.note(Count.BROWSER_PAGE_TIMEOUTS)
            await self.close()
            raise

    async def open(self) -> None:
        """Open the tab's page now rather than at its first visit."""
        await self._ensure_page()

    def preload(self, url: str) -> None:
        """Start visiting ``url`` in the background; the tab's next ``visit`` of the same
        URL without captures takes this one over instead of loading the page again."""
        self._preload = (url, asyncio.ensure_future(self._visit(url)))

    async def drop_preload(self) -> None:
        """Forget a preloaded visit nobody took over; one still loading is cut short and
        its page closed."""
        if self._preload is None:
            return
        _, task = self._preload
        self._preload = None
        cut_short = task.cancel()
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: a failed preload is nobody's error
        if cut_short:
            await self.close()  # a navigation cut short leaves the page in no known state

    async def visit(
        self, url: str, *, capture: Mapping[str, UrlMatcher] | None = None,
        wait_s: float | None = None,
    ) -> Visit:
        """Navigate to ``url`` and wait for the responses named in ``capture``.

        A capture that does not arrive within ``wait_s`` is simply absent from the
        result: the caller decides whether that is an error. Raises ``PageLost`` when
        the page crashes, hangs or loses its browser on the way: visit again.
        """
        if self._preload is not None:
            early_url, task = self._preload
            if early_url == url and not capture:
                self._preload = None
                return await task
            await asyncio.wait([task])  # another page first: let the early one settle
            await self.drop_preload()
        return await self._visit(url, capture=capture, wait_s=wait_s)

    async def _visit(
        self, url: str, *, capture: Mapping[str, UrlMatcher] | None = None,
        wait_s: float | None = None,
    ) -> Visit:
        page = await self._ensure_page()
        catcher = self._catcher
        if catcher is None:
            raise BrowserError("the tab has no page open")
        self._visits += 1
        await self._browser.visited(self._context)
        timeout = wait_s if wait_s is not None else self._browser.options.timeout_s
        if self._browser.options.slow_mo_ms:
            await asyncio.sleep(self._browser.options.slow_mo_ms / 1000)
        try:
            async with self._guard(f"cannot load {url}", limit_s=timeout):
                results = await catcher.expect(capture or {})
                # Chromium answers once the new document committed (or the navigation
                # failed), so what is sent next reaches the new document.
                reply = await page.session.send("Page.navigate", {"url": url})
                if not capture and not reply.get("errorText"):
                    # With responses to wait for, those are the signal that the scripts
                    # ran; waiting for DOMContentLoaded as well only adds latency.
                    await page.session.send("Runtime.evaluate", {
                        "expression": _PARSED, "awaitPromise": True})
        except BrowserError:
            catcher.stop()
            raise
        failed = reply.get("errorText")
        document = catcher.document
        # An HTTP error with an empty body still commits a page with its status; any
        # other error means no new document: the DOM is still the previous visit's.
        if failed and not (document and failed == _HTTP_ERROR):
            catcher.stop()
            lost = self._lost() or "ERR_ABORTED" in failed
            if lost:
                await self.close()
            raise (PageLost if lost else BrowserError)(f"cannot load {url}: {failed} at {url}")
        status = document.status if document else None
        # An error page makes none of the API calls we would otherwise wait for.
        captured = await self._collect(results, 0 if status and status >= 400 else timeout)
        if self._gone:
            await self.close()
            raise PageLost(f"cannot load {url}: the page crashed or closed while loading")
        return Visit(url=document.url if document else url, status=status, captured=captured)

    async def _collect(
        self, results: Mapping[str, asyncio.Future[Captured]], limit_s: float
    ) -> dict[str, Captured]:
        if not results:
            return {}
        loop = asyncio.get_running_loop()
        deadline, pending = loop.time() + limit_s, set(results.values())
        step = _FRAMES_AFTER_S
        while pending:
            step = min(step, deadline - loop.time())
            if step <= 0:
                break
            _, pending = await asyncio.wait(pending, timeout=step)
            if pending:  # the reply may wait for a frame (browser/frames.py)
                await self._frame()
            step = _FRAME_EVERY_S
        if self._catcher is not None:
            self._catcher.stop()
        out: dict[str, Captured] = {}
        for name, fut in results.items():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                out[name] = fut.result()
            elif not fut.done():
                fut.cancel()
        return out

    async def _frame(self) -> None:
        """One frame's script work, when Chromium draws only on demand."""
        if self._page is None or not self._browser.options.frames_on_demand:
            return
        session = self._page.session
        async with self._guard("cannot run a frame"), self._browser.frame_turn:
            await begin_frame(session)

    async def html(self) -> str:
        """The rendered DOM as HTML (after a frame, for work that waits for one)."""
        await self._frame()
        return str(await self.evaluate("document.documentElement.outerHTML", "read the page"))

    async def cookies(self, *, fresh: bool = False) -> dict[str, str]:
        """Cookies of this tab's context by name, read once per context unless ``fresh``."""
        context = self._context
        jar = self._browser.cookie_jar(context) if context is not None else None
        if context is None or jar is None:
            return {}
        if self._cookies is None or fresh:
            async with self._guard("cannot read cookies"):
                reply = await jar.send("Storage.getCookies", {"browserContextId": context})
            self._cookies = {str(c["name"]): str(c["value"]) for c in reply.get("cookies", [])
                             if "name" in c and "value" in c}
        return dict(self._cookies)

    async def evaluate(self, expression: str, what: str = "run a script in the page") -> object:
        """The value of ``expression`` in the page (a promise is awaited), as JSON gives it."""
        page = self._page
        if page is None:
            raise BrowserError("the tab has no page open")
        async with self._guard(f"cannot {what}"):
            reply = await page.session.send("Runtime.evaluate", {
                "expression": expression, "awaitPromise": True, "returnByValue": True})
        thrown = reply.get("exceptionDetails")
        if thrown:
            text = thrown.get("exception", {}).get("description") or thrown.get("text", "")
            raise BrowserError(f"cannot {what}: {first_line(Exception(text))}")
        return reply.get("result", {}).get("value")

    async def close(self) -> None:
        """Close the page; the next visit opens a fresh one."""
        if self._catcher is not None:
            self._catcher.close()
        page, self._page, self._cookies = self._page, None, None
        self._catcher = None
        if page is not None:
            await self._browser.close_page(page, page.context)


class TabPool:
    """At most ``size`` tabs, handed out one visitor at a time; ``ready`` are tabs made
    beforehand (``early.EarlyLaunch``), handed out first, in their order."""

    def __init__(self, browser: Browser, size: int, *, ready: Iterable[Tab] = ()) -> None:
        self._browser = browser
        self._idle: asyncio.Queue[Tab] = asyncio.Queue()
        self._all: list[Tab] = []
        self._size = max(1, size)
        for tab in ready:
            self._all.append(tab)
            self._idle.put_nowait(tab)

    @contextlib.asynccontextmanager
    async def tab(self) -> AsyncIterator[Tab]:
        if self._idle.empty() and len(self._all) < self._size:
            tab = Tab(self._browser)
            self._all.append(tab)
        else:
            tab = await self._idle.get()
        try:
            yield tab
        except BaseException:
            # A failed or cancelled visit may leave the page mid-navigation: start afresh.
            await asyncio.shield(tab.close())
            raise
        finally:
            self._idle.put_nowait(tab)

    async def close(self) -> None:
        for tab in self._all:
            await tab.drop_preload()
            await tab.close()
