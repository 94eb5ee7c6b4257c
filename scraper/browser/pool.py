"""A pool of reused tabs over ``chromium.Browser``, capturing the page's API replies.

A tab's page is reused for visit after visit (opening a new page per video is the
largest cost of rendering) and replaced after a bounded number of visits, when its
context or Chromium is retired, and when it crashed, hung past its deadline or lost its
browser (``PageLost``: the caller retries the visit, which opens a new page).
Images and web fonts are off in the renderer (``--blink-settings``) and the site's media
hosts resolve nowhere for the browser: no interception route, which would send every
request through the Playwright driver (a third of Chromium's CPU per visit, measured).
The API replies a visit waits for are held and read by ``capture.ReplyCatcher`` (CDP
Fetch for their URLs only), not by a response event for every request.
Every Playwright error stops here as a ``BrowserError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from playwright.async_api import BrowserContext, CDPSession, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from ..errors import BrowserError, PageLost
from ..progress import Count
from .capture import Captured, ReplyCatcher, UrlMatcher
from .chromium import Browser
from .error_map import first_line, playwright_errors, within
from .frames import begin_frame
from .options import BrowserOptions

__all__ = [
    "Browser", "BrowserOptions", "Captured", "Tab", "TabPool", "UrlMatcher", "Visit", "first_line",
]

log = logging.getLogger(__name__)

# Past Playwright's own timeout, how long a page operation may take before the page
# counts as hung anyway (the driver's timeout did not fire, or the call has none).
_DEADLINE_GRACE_S = 5.0
# A visit waiting for the site's API replies past _FRAMES_AFTER_S asks for a frame every
# _FRAME_EVERY_S, as a 10 fps screen would, in case the page's scripts wait for one
# (browser/frames.py); most replies come sooner, needing none.
_FRAMES_AFTER_S = 0.25
_FRAME_EVERY_S = 0.1


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
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._gone = False  # the page crashed or was closed under us
        self._visits = 0
        self._session: CDPSession | None = None  # ours, beside Playwright's own
        self._catcher: ReplyCatcher | None = None
        self._cookies: dict[str, str] | None = None

    @property
    def page(self) -> Page:
        if self._page is None:
            raise BrowserError("the tab has no page open")
        return self._page

    def _lost(self) -> bool:
        return self._gone or self._browser.dead(self._context)

    async def _ensure_page(self) -> Page:
        if self._page is not None and (self._visits >= self._browser.options.visits_per_page
                                       or self._browser.retired(self._context)):
            await self.close()
        if self._page is None:
            self._context, page = await self._browser.open_page()
            self._page, self._gone, self._visits = page, False, 0
            page.on("crash", self._on_crash)
            page.on("close", self._on_close)
            context = self._context
            try:
                async with self._guard("cannot open a CDP session on the page"):
                    self._session = await context.new_cdp_session(page)
            except BrowserError:
                await self.close()
                raise
            self._catcher = ReplyCatcher(self._session)
        return self._page

    def _on_crash(self, page: Page) -> None:
        if page is self._page:
            log.warning("a page crashed at %s; the visit is retried in a new one", page.url)
            self._browser.stats.note(Count.BROWSER_PAGE_CRASHES)
            self._page_gone()

    def _on_close(self, page: Page) -> None:
        if page is self._page:
            self._page_gone()

    def _page_gone(self) -> None:
        """Wake whoever waits for this page's replies: they will not come."""
        self._gone = True
        if self._catcher is not None:
            self._catcher.fail(PageLost("the page went away"))

    @contextlib.asynccontextmanager
    async def _guard(self, what: str, *, limit_s: float | None = None) -> AsyncIterator[None]:
        """Map Playwright's errors for one page operation with a hard deadline; a page
        that is lost (crashed, hung, its browser gone) is dropped for the next visit."""
        limit = (limit_s or self._browser.options.timeout_s) + _DEADLINE_GRACE_S
        try:
            async with within(limit, what):
                with playwright_errors(what, gone=self._lost):
                    yield
        except PageLost as exc:
            if isinstance(exc.__cause__, TimeoutError | PlaywrightTimeout):
                self._browser.stats.note(Count.BROWSER_PAGE_TIMEOUTS)
            await self.close()
            raise

    async def visit(
        self, url: str, *, capture: Mapping[str, UrlMatcher] | None = None,
        wait_s: float | None = None,
    ) -> Visit:
        """Navigate to ``url`` and wait for the responses named in ``capture``.

        A capture that does not arrive within ``wait_s`` is simply absent from the
        result: the caller decides whether that is an error. Raises ``PageLost`` when
        the page crashes, hangs or loses its browser on the way: visit again.
        """
        page = await self._ensure_page()
        catcher = self._catcher
        if catcher is None:
            raise BrowserError("the tab has no page open")
        self._visits += 1
        await self._browser.visited(self._context)
        timeout = wait_s if wait_s is not None else self._browser.options.timeout_s
        # With responses to wait for, those are the signal that the scripts ran; waiting
        # for DOMContentLoaded as well only adds latency.
        wait_until: Literal["commit", "domcontentloaded"] = (
            "commit" if capture else "domcontentloaded")
        try:
            async with self._guard(f"cannot load {url}", limit_s=timeout):
                results = await catcher.expect(capture or {})
                response = await page.goto(url, wait_until=wait_until, timeout=timeout * 1000)
        except BrowserError:
            catcher.stop()
            raise
        status = response.status if response else None
        # An error page makes none of the API calls we would otherwise wait for.
        captured = await self._collect(results, 0 if status and status >= 400 else timeout)
        if self._gone:
            await self.close()
            raise PageLost(f"cannot load {url}: the page crashed or closed while loading")
        return Visit(url=page.url, status=status, captured=captured)

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
        if self._session is None or not self._browser.options.frames_on_demand:
            return
        session = self._session
        async with self._guard("cannot run a frame"), self._browser.frame_turn:
            await begin_frame(session)

    async def html(self) -> str:
        """The rendered DOM as HTML (after a frame, for work that waits for one)."""
        page = self.page
        await self._frame()
        async with self._guard("cannot read the page"):
            # page.content() costs several times more than serialising the element.
            html = await page.evaluate("document.documentElement.outerHTML")
        return str(html)

    async def cookies(self, *, fresh: bool = False) -> dict[str, str]:
        """Cookies of this tab's context by name, read once per context unless ``fresh``."""
        if self._context is None:
            return {}
        if self._cookies is None or fresh:
            context = self._context
            async with self._guard("cannot read cookies"):
                jar = await context.cookies()
            self._cookies = {c["name"]: c["value"] for c in jar if "name" in c and "value" in c}
        return dict(self._cookies)

    async def evaluate(self, expression: str) -> object:
        page = self.page
        async with self._guard("script failed in the page"):
            return await page.evaluate(expression)

    async def close(self) -> None:
        """Close the page; the next visit opens a fresh one."""
        if self._catcher is not None:
            self._catcher.close()
        context, page = self._context, self._page
        self._context, self._page, self._cookies = None, None, None
        self._session, self._catcher = None, None
        if context is not None:
            await self._browser.close_page(context, page)


class TabPool:
    """At most ``size`` tabs, handed out one visitor at a time."""

    def __init__(self, browser: Browser, size: int) -> None:
        self._browser = browser
        self._idle: asyncio.Queue[Tab] = asyncio.Queue()
        self._all: list[Tab] = []
        self._size = max(1, size)

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
            await tab.close()
