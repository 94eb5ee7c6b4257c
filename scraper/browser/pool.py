"""Playwright lifecycle: one Chromium for the run, a pool of reused tabs.

Tabs share one browser context (one cookie jar and cache, and with --process-per-site one
renderer). A tab's page is reused for visit after visit (opening a new page per video is
the largest cost of rendering) and replaced after a bounded number of visits; the context
is replaced after a bounded number of pages, so a long crawl does not accumulate memory.
Images and web fonts are off in the renderer (``--blink-settings``) and the site's media
hosts resolve nowhere for the browser: no interception route, which would send every
request through the Playwright driver (a third of Chromium's CPU per visit, measured).
Every Playwright error stops here as a ``BrowserError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self

from playwright.async_api import Browser as PWBrowser
from playwright.async_api import BrowserContext, Page, Playwright, Response, async_playwright
from playwright.async_api import Error as PlaywrightError

from ..config import driver_environment
from ..errors import BrowserError
from .options import BrowserOptions

__all__ = ["Browser", "BrowserOptions", "Captured", "Tab", "TabPool", "Visit", "first_line"]

log = logging.getLogger(__name__)

UrlMatcher = Callable[[str], bool]




@dataclass(frozen=True, slots=True)
class Captured:
    """A response the page's own scripts fetched while we watched."""

    url: str
    status: int
    body: str


@dataclass(frozen=True, slots=True)
class Visit:
    """One navigation: the final URL, its HTTP status and the responses captured."""

    url: str
    status: int | None
    captured: Mapping[str, Captured] = field(default_factory=dict)


class Browser:
    """One Chromium process for the whole run."""

    def __init__(self, options: BrowserOptions) -> None:
        self.options = options
        self._pw: Playwright | None = None
        self._browser: PWBrowser | None = None
        # Tabs share one context (one cookie jar, cache and renderer for the site) until
        # it has handed out ``pages_per_context`` pages; then new pages go to a fresh one
        # and the old one closes when its last page does.
        self._context: BrowserContext | None = None
        self._handed_out = 0
        self._open_pages: dict[BrowserContext, int] = {}
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        driver_environment()
        try:
            self._pw = await async_playwright().start()
            self._browser = await self._pw.chromium.launch(
                executable_path=self.options.executable,
                headless=self.options.headless,
                slow_mo=self.options.slow_mo_ms or None,
                args=self._launch_args(),
            )
        except PlaywrightError as exc:
            await self._shutdown()
            raise BrowserError(f"cannot start Chromium: {first_line(exc)}") from exc
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._shutdown()

    def _launch_args(self) -> list[str]:
        args = ["--no-sandbox", *self.options.args]
        # Media hosts resolve nowhere for the browser (the first matching rule wins), so
        # a player cannot stream segments the HTTP client downloads anyway. It costs
        # nothing per request, unlike an interception route.
        rules = [f"MAP {host} ~NOTFOUND" for host in self.options.blocked_hosts]
        rules += [rule.chromium_rule() for rule in self.options.resolve]
        if rules:
            args.append(f"--host-resolver-rules={', '.join(rules)}")
        return args

    async def _shutdown(self) -> None:
        with contextlib.suppress(PlaywrightError):
            if self._browser is not None:
                await self._browser.close()
        with contextlib.suppress(PlaywrightError):
            if self._pw is not None:
                await self._pw.stop()
        self._browser, self._pw = None, None

    async def new_context(self) -> BrowserContext:
        if self._browser is None:
            raise BrowserError("the browser is not running")
        try:
            context = await self._browser.new_context(user_agent=self.options.user_agent)
            context.set_default_timeout(self.options.timeout_s * 1000)
        except PlaywrightError as exc:
            raise BrowserError(f"cannot open a browser context: {first_line(exc)}") from exc
        return context

    def tab(self) -> Tab:
        return Tab(self)

    async def open_page(self) -> tuple[BrowserContext, Page]:
        """A new page in the shared context, rotating the context when it is used up."""
        async with self._lock:
            if self._context is None or self._handed_out >= self.options.pages_per_context:
                old, self._context = self._context, await self.new_context()
                self._handed_out = 0
                self._open_pages[self._context] = 0
                if old is not None and not self._open_pages.get(old):
                    await self._close_context(old)
            context = self._context
            self._handed_out += 1
            self._open_pages[context] += 1
        try:
            return context, await context.new_page()
        except PlaywrightError as exc:
            await self.close_page(context, None)
            raise BrowserError(f"cannot open a page: {first_line(exc)}") from exc

    async def close_page(self, context: BrowserContext, page: Page | None) -> None:
        """Close a page from ``open_page``; a retired context goes with its last page."""
        if page is not None:
            with contextlib.suppress(PlaywrightError):
                await page.close()
        async with self._lock:
            self._open_pages[context] = self._open_pages.get(context, 1) - 1
            if context is not self._context and self._open_pages[context] <= 0:
                await self._close_context(context)

    def retired(self, context: BrowserContext | None) -> bool:
        """Whether ``context`` was replaced: its tabs move on at their next visit, so the
        old context (and its renderer) does not outlive the rotation by long."""
        return context is not None and context is not self._context

    async def _close_context(self, context: BrowserContext) -> None:
        self._open_pages.pop(context, None)
        with contextlib.suppress(PlaywrightError):
            await context.close()


class Tab:
    """A page reused across visits, with the responses of its current visit captured."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._visits = 0
        self._wanted: dict[str, UrlMatcher] = {}
        self._results: dict[str, asyncio.Future[Captured]] = {}
        self._readers: set[asyncio.Task[None]] = set()
        self._cookies: dict[str, str] | None = None

    @property
    def page(self) -> Page:
        if self._page is None:
            raise BrowserError("the tab has no page open")
        return self._page

    async def _ensure_page(self) -> Page:
        if self._page is not None and (self._visits >= self._browser.options.visits_per_page
                                       or self._browser.retired(self._context)):
            await self.close()
        if self._page is None:
            self._context, self._page = await self._browser.open_page()
            self._page.on("response", self._on_response)
            self._visits = 0
        return self._page

    async def visit(
        self, url: str, *, capture: Mapping[str, UrlMatcher] | None = None,
        wait_s: float | None = None,
    ) -> Visit:
        """Navigate to ``url`` and wait for the responses named in ``capture``.

        A capture that does not arrive within ``wait_s`` is simply absent from the
        result: the caller decides whether that is an error.
        """
        page = await self._ensure_page()
        self._visits += 1
        loop = asyncio.get_running_loop()
        self._wanted = dict(capture or {})
        self._results = {name: loop.create_future() for name in self._wanted}
        timeout = wait_s if wait_s is not None else self._browser.options.timeout_s
        # With responses to wait for, those are the signal that the scripts ran; waiting
        # for DOMContentLoaded as well only adds latency.
        wait_until: Literal["commit", "domcontentloaded"] = (
            "commit" if self._wanted else "domcontentloaded")
        try:
            response = await page.goto(url, wait_until=wait_until, timeout=timeout * 1000)
        except PlaywrightError as exc:
            self._wanted = {}
            raise BrowserError(f"cannot load {url}: {first_line(exc)}") from exc
        status = response.status if response else None
        # An error page makes none of the API calls we would otherwise wait for.
        captured = await self._collect(0 if status and status >= 400 else timeout)
        return Visit(url=page.url, status=status, captured=captured)

    async def _collect(self, limit_s: float) -> dict[str, Captured]:
        if not self._results:
            return {}
        done, _ = await asyncio.wait(self._results.values(), timeout=limit_s)
        self._wanted = {}
        out: dict[str, Captured] = {}
        for name, fut in self._results.items():
            if fut in done and fut.exception() is None:
                out[name] = fut.result()
            elif not fut.done():
                fut.cancel()
        return out

    def _on_response(self, response: Response) -> None:
        for name, matches in self._wanted.items():
            fut = self._results.get(name)
            if fut is not None and not fut.done() and matches(response.url):
                task = asyncio.ensure_future(self._read(response, fut))
                self._readers.add(task)
                task.add_done_callback(self._readers.discard)
                return

    @staticmethod
    async def _read(response: Response, fut: asyncio.Future[Captured]) -> None:
        try:
            body = await response.text()
        except PlaywrightError as exc:
            if not fut.done():
                fut.set_exception(BrowserError(f"cannot read {response.url}: {first_line(exc)}"))
            return
        if not fut.done():
            fut.set_result(Captured(url=response.url, status=response.status, body=body))

    async def html(self) -> str:
        """The rendered DOM as HTML."""
        try:
            # page.content() costs several times more than serialising the element.
            html = await self.page.evaluate("document.documentElement.outerHTML")
        except PlaywrightError as exc:
            raise BrowserError(f"cannot read the page: {first_line(exc)}") from exc
        return str(html)

    async def cookies(self, *, fresh: bool = False) -> dict[str, str]:
        """Cookies of this tab's context by name, read once per context unless ``fresh``."""
        if self._context is None:
            return {}
        if self._cookies is None or fresh:
            try:
                jar = await self._context.cookies()
            except PlaywrightError as exc:
                raise BrowserError(f"cannot read cookies: {first_line(exc)}") from exc
            self._cookies = {c["name"]: c["value"] for c in jar if "name" in c and "value" in c}
        return dict(self._cookies)

    async def evaluate(self, expression: str) -> object:
        try:
            return await self.page.evaluate(expression)
        except PlaywrightError as exc:
            raise BrowserError(f"script failed in the page: {first_line(exc)}") from exc

    async def close(self) -> None:
        """Close the page; the next visit opens a fresh one."""
        for task in list(self._readers):
            task.cancel()
        context, page = self._context, self._page
        self._context, self._page, self._cookies = None, None, None
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
            tab = self._browser.tab()
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


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
