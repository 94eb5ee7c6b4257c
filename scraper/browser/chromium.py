"""Chromium's lifecycle for a run: launched once, relaunched when it dies, retired when
it grows too large, and the browser contexts that hand out pages.

Pages share one context (one cookie jar and cache, and with --process-per-site one
renderer) until it has handed out ``pages_per_context`` pages; then new pages go to a
fresh one and the old one closes with its last page. Chromium itself is treated the
same way, like crawlee's browser pool: a Chromium that died (``disconnected``) is
replaced at the next page opened (a bounded number of times per run), and one past its
memory limit or visit budget is retired: tabs move to a fresh Chromium at their next
visit and the old one closes with its last page, so no visit in flight is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable
from types import TracebackType
from typing import Self

from playwright.async_api import Browser as PWBrowser
from playwright.async_api import BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from ..config import driver_environment
from ..errors import BrowserError, BrowserKeepsDying
from ..progress import Count, Stats
from .error_map import playwright_errors
from .frames import FRAME_FLAGS
from .memory import tree_pss_mb
from .options import BrowserOptions

__all__ = ["MEMORY_CHECK_EVERY", "Browser"]

log = logging.getLogger(__name__)

MEMORY_CHECK_EVERY = 10  # visits between two reads of Chromium's PSS (a /proc walk)
_CLOSE_S = 10.0  # closing a dead browser's pages must not hang the run


class _Chromium:
    """One launched Chromium process and what it has served."""

    def __init__(self, browser: PWBrowser, marker: str) -> None:
        self.browser = browser
        self.marker = marker
        self.lost = False
        self.retired = False
        self.visits = 0
        self.contexts: set[BrowserContext] = set()
        browser.on("disconnected", self._on_disconnected)

    def _on_disconnected(self, _: PWBrowser) -> None:
        if not self.retired:
            self.lost = True


class Browser:
    """Chromium for the whole run, however many processes that takes."""

    def __init__(self, options: BrowserOptions, *, stats: Stats | None = None) -> None:
        self.options = options
        self.stats = stats if stats is not None else Stats()
        self._pw: Playwright | None = None
        self._chromium: _Chromium | None = None
        self._context: BrowserContext | None = None
        self._handed_out = 0
        self._open_pages: dict[BrowserContext, int] = {}
        self._owner: dict[BrowserContext, _Chromium] = {}
        self._deaths = 0
        self._lock = asyncio.Lock()
        # One on-demand frame at a time over all tabs: concurrent ones crash Chromium's
        # compositor (SIGTRAP: bench/visits.py --frames concurrent).
        self.frame_turn = asyncio.Lock()

    async def __aenter__(self) -> Self:
        driver_environment()
        try:
            with playwright_errors("cannot start Chromium"):
                self._pw = await async_playwright().start()
            self._chromium = await self._launch()
        except BaseException:
            await self._shutdown()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._shutdown()

    @property
    def marker(self) -> str | None:
        """The switch that tells the current Chromium's processes apart (tests use it)."""
        return self._chromium.marker if self._chromium else None

    async def _launch(self) -> _Chromium:
        if self._pw is None:
            raise BrowserError("the browser is not running")
        marker = f"--scraper-browser={uuid.uuid4().hex}"
        with playwright_errors("cannot start Chromium"):
            launched = await self._pw.chromium.launch(
                executable_path=self.options.executable, headless=self.options.headless,
                slow_mo=self.options.slow_mo_ms or None, args=self._launch_args(marker))
        return _Chromium(launched, marker)

    def _launch_args(self, marker: str) -> list[str]:
        frames = FRAME_FLAGS if self.options.frames_on_demand else ()
        args = ["--no-sandbox", *self.options.args, *frames, marker]
        # Media hosts resolve nowhere for the browser (the first matching rule wins), so
        # a player cannot stream segments the HTTP client downloads anyway. It costs
        # nothing per request, unlike an interception route.
        rules = [f"MAP {host} ~NOTFOUND" for host in self.options.blocked_hosts]
        rules += [rule.chromium_rule() for rule in self.options.resolve]
        if rules:
            args.append(f"--host-resolver-rules={', '.join(rules)}")
        return args

    async def _shutdown(self) -> None:
        chromiums = {*self._owner.values(), *filter(None, [self._chromium])}
        for chromium in chromiums:
            await _quietly(chromium.browser.close())
        if self._pw is not None:
            await _quietly(self._pw.stop())
        self._chromium, self._pw = None, None
        self._owner.clear()
        self._open_pages.clear()

    async def new_context(self) -> BrowserContext:
        """A fresh context of the current Chromium (``scrape debug`` traces one)."""
        async with self._lock:
            chromium = await self._current()
        return await self._new_context(chromium)

    async def _new_context(self, chromium: _Chromium) -> BrowserContext:
        with playwright_errors("cannot open a browser context", gone=lambda: chromium.lost):
            context = await chromium.browser.new_context(user_agent=self.options.user_agent)
            context.set_default_timeout(self.options.timeout_s * 1000)
        return context

    # --- the current Chromium: relaunched when lost, retired when too large -----------

    async def _current(self) -> _Chromium:
        """The Chromium new pages go to; replaces a lost or retired one first."""
        current = self._chromium
        if current is not None and not current.lost and not current.retired:
            return current
        if current is None or current.lost:
            self._deaths += 1
            if self._deaths > self.options.max_relaunches:
                raise BrowserKeepsDying(
                    f"Chromium died {self._deaths} times in this run; giving up (allowed: "
                    f"{self.options.max_relaunches} relaunches, --browser-relaunches)")
            log.warning("Chromium died; relaunching it (%d of %d)", self._deaths,
                        self.options.max_relaunches)
            self.stats.note(Count.BROWSER_RELAUNCHES)
        self._chromium, self._context = await self._launch(), None
        if current is not None:
            for context in [c for c in current.contexts if not self._open_pages.get(c)]:
                await self._close_context(context)
            await self._close_if_unused(current)
        return self._chromium

    async def visited(self, context: BrowserContext | None) -> None:
        """Count a visit; retire the Chromium that served it when it is due for it."""
        chromium = self._owner.get(context) if context is not None else None
        if chromium is None or chromium.retired or chromium.lost:
            return
        chromium.visits += 1
        limit, budget = self.options.memory_limit_mb, self.options.recycle_after_visits
        if budget is not None and chromium.visits >= budget:
            self._retire(chromium, f"after {chromium.visits} visits")
        elif limit is not None and chromium.visits % MEMORY_CHECK_EVERY == 0:
            pss = await asyncio.to_thread(tree_pss_mb, chromium.marker)
            if pss > limit:
                self._retire(chromium, f"at {pss:.0f} MB PSS (limit {limit:g} MB)")

    def _retire(self, chromium: _Chromium, why: str) -> None:
        log.info("retiring Chromium %s: its tabs move to a fresh one", why)
        chromium.retired = True
        self.stats.note(Count.BROWSER_RECYCLES)

    # --- pages ------------------------------------------------------------------------

    async def open_page(self) -> tuple[BrowserContext, Page]:
        """A new page in the shared context, rotating the context when it is used up."""
        async with self._lock:
            chromium = await self._current()
            if self._context is None or self._handed_out >= self.options.pages_per_context:
                old, self._context = self._context, await self._new_context(chromium)
                self._handed_out = 0
                self._open_pages[self._context] = 0
                self._owner[self._context] = chromium
                chromium.contexts.add(self._context)
                if old is not None and not self._open_pages.get(old):
                    await self._close_context(old)
            context = self._context
            self._handed_out += 1
            self._open_pages[context] += 1
        try:
            with playwright_errors("cannot open a page", gone=lambda: chromium.lost):
                return context, await context.new_page()
        except BrowserError:
            await self.close_page(context, None)
            raise

    async def close_page(self, context: BrowserContext, page: Page | None) -> None:
        """Close a page from ``open_page``; a retired context goes with its last page."""
        if page is not None:
            await _quietly(page.close())
        async with self._lock:
            self._open_pages[context] = self._open_pages.get(context, 1) - 1
            if context is not self._context and self._open_pages[context] <= 0:
                await self._close_context(context)

    def retired(self, context: BrowserContext | None) -> bool:
        """Whether ``context`` was replaced (or its Chromium retired or lost): its tabs
        move on at their next visit, so the old one does not outlive it by long."""
        if context is None:
            return False
        owner = self._owner.get(context)
        return context is not self._context or owner is None or owner.retired or owner.lost

    def dead(self, context: BrowserContext | None) -> bool:
        """Whether the Chromium of ``context`` died."""
        owner = self._owner.get(context) if context is not None else None
        return owner is not None and owner.lost

    async def _close_context(self, context: BrowserContext) -> None:
        self._open_pages.pop(context, None)
        owner = self._owner.pop(context, None)
        await _quietly(context.close())
        if owner is not None:
            owner.contexts.discard(context)
            await self._close_if_unused(owner)

    async def _close_if_unused(self, chromium: _Chromium) -> None:
        if chromium is not self._chromium and not chromium.contexts:
            await _quietly(chromium.browser.close())


async def _quietly(closing: Awaitable[object]) -> None:
    """Await a clean-up call; a dead browser's errors and hangs do not matter here."""
    with contextlib.suppress(PlaywrightError, TimeoutError):
        async with asyncio.timeout(_CLOSE_S):
            await closing
