"""Playwright lifecycle: one Chromium for the run, a pool of reused tabs.

Each tab is one page in its own browser context. A tab is reused for visit after visit
(opening a new page per video is the largest cost of rendering) and its context is
recycled after a bounded number of visits so a long crawl does not accumulate memory.
Images are off at the renderer (``--blink-settings=imagesEnabled=false``) and fonts and
media are aborted by a glob route, which Playwright matches in the browser without a
round trip to Python. Every Playwright error stops here as a ``BrowserError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from playwright.async_api import Browser as PWBrowser
from playwright.async_api import BrowserContext, Page, Playwright, Response, async_playwright
from playwright.async_api import Error as PlaywrightError

from .config import ResolveRule
from .errors import BrowserError

__all__ = ["Browser", "BrowserOptions", "Captured", "Inspection", "Tab", "TabPool", "Visit"]

log = logging.getLogger(__name__)

_BLOCKED_GLOB = "**/*.{woff,woff2,ttf,otf,eot,mp4,m4s,flv,webm,m3u8,ts,mp3}"

UrlMatcher = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class BrowserOptions:
    """How to launch Chromium; built from Settings by the caller."""

    executable: str | None
    args: tuple[str, ...]
    resolve: tuple[ResolveRule, ...] = ()
    headless: bool = True
    slow_mo_ms: int = 0
    user_agent: str | None = None
    visits_per_context: int = 200
    timeout_s: float = 20.0


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

    async def __aenter__(self) -> Self:
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
            raise BrowserError(f"cannot start Chromium: {_first_line(exc)}") from exc
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._shutdown()

    def _launch_args(self) -> list[str]:
        args = ["--no-sandbox", *self.options.args]
        if self.options.resolve:
            rules = ", ".join(rule.chromium_rule() for rule in self.options.resolve)
            args.append(f"--host-resolver-rules={rules}")
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
            await context.route(_BLOCKED_GLOB, lambda route: route.abort())
        except PlaywrightError as exc:
            raise BrowserError(f"cannot open a browser context: {_first_line(exc)}") from exc
        return context

    def tab(self) -> Tab:
        return Tab(self)

    @contextlib.asynccontextmanager
    async def inspect(self, url: str, *, trace: Path) -> AsyncIterator[Inspection]:
        """Open ``url`` in a fresh traced context, for ``scrape debug``."""
        context = await self.new_context()
        try:
            await context.tracing.start(screenshots=True, snapshots=True)
            page = await context.new_page()
            await page.goto(url, wait_until="domcontentloaded")
            with contextlib.suppress(PlaywrightError):  # a page that never idles is fine
                await page.wait_for_load_state("networkidle", timeout=5000)
            yield Inspection(page)
            await context.tracing.stop(path=str(trace))
        except PlaywrightError as exc:
            raise BrowserError(f"cannot inspect {url}: {_first_line(exc)}") from exc
        finally:
            with contextlib.suppress(PlaywrightError):
                await context.close()


# Draws a labelled box over every node an XPath selects (attributes and text nodes
# are shown by their element). Plain XPath 1.0 only: has-class() is spelled out first.
_OVERLAY_JS = """([label, xpath, itemsXpath, color]) => {
  const roots = [];
  if (itemsXpath) {
    const r = document.evaluate(itemsXpath, document, null, 7, null);
    for (let i = 0; i < r.snapshotLength; i++) roots.push(r.snapshotItem(i));
  } else { roots.push(document); }
  let count = 0;
  for (const root of roots) {
    const r = document.evaluate(xpath, root, null, 7, null);
    for (let i = 0; i < r.snapshotLength; i++) {
      let node = r.snapshotItem(i);
      if (node.nodeType === 2) node = node.ownerElement;
      else if (node.nodeType !== 1) node = node.parentElement;
      if (!node) continue;
      const box = node.getBoundingClientRect();
      const div = document.createElement("div");
      div.className = "scraper-overlay";
      div.setAttribute("data-scraper-label", label);
      div.style.cssText = `position:absolute;left:${box.left + scrollX}px;` +
        `top:${box.top + scrollY}px;width:${Math.max(box.width, 4)}px;` +
        `height:${Math.max(box.height, 4)}px;outline:2px solid ${color};` +
        "z-index:2147483647;pointer-events:none;";
      const tag = document.createElement("span");
      tag.textContent = label;
      tag.style.cssText = `position:absolute;top:-14px;left:0;font:11px monospace;` +
        `background:${color};color:#fff;padding:0 2px;white-space:nowrap;`;
      div.appendChild(tag);
      document.body.appendChild(div);
      count++;
    }
  }
  return count;
}"""


class Inspection:
    """One page under ``scrape debug``: overlays, a screenshot, the Inspector."""

    def __init__(self, page: Page) -> None:
        self._page = page

    async def html(self) -> str:
        try:
            return str(await self._page.evaluate("document.documentElement.outerHTML"))
        except PlaywrightError as exc:
            raise BrowserError(f"cannot read the page: {_first_line(exc)}") from exc

    async def outline(self, label: str, xpath: str, *, items: str | None, color: str) -> int:
        """Outline what ``xpath`` selects (inside each ``items`` node); returns how many."""
        try:
            return int(await self._page.evaluate(_OVERLAY_JS, [label, xpath, items, color]))
        except PlaywrightError as exc:
            raise BrowserError(f"cannot outline {label}: {_first_line(exc)}") from exc

    async def labels(self) -> list[str]:
        """The overlay labels now in the page (what a test checks)."""
        script = ("Array.from(document.querySelectorAll('.scraper-overlay'))"
                  ".map(e => e.getAttribute('data-scraper-label'))")
        try:
            return [str(v) for v in await self._page.evaluate(script)]
        except PlaywrightError as exc:
            raise BrowserError(f"cannot read overlays: {_first_line(exc)}") from exc

    async def screenshot(self, path: Path) -> None:
        try:
            await self._page.screenshot(path=str(path), full_page=True)
        except PlaywrightError as exc:
            raise BrowserError(f"cannot take a screenshot: {_first_line(exc)}") from exc

    async def pause(self) -> None:
        """Open the Playwright Inspector and wait until the user resumes."""
        try:
            await self._page.pause()
        except PlaywrightError as exc:
            raise BrowserError(f"the Inspector failed: {_first_line(exc)}") from exc


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
        if self._page is not None and self._visits >= self._browser.options.visits_per_context:
            await self.close()
        if self._page is None:
            self._context = await self._browser.new_context()
            try:
                self._page = await self._context.new_page()
            except PlaywrightError as exc:
                raise BrowserError(f"cannot open a page: {_first_line(exc)}") from exc
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
            raise BrowserError(f"cannot load {url}: {_first_line(exc)}") from exc
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
                fut.set_exception(BrowserError(f"cannot read {response.url}: {_first_line(exc)}"))
            return
        if not fut.done():
            fut.set_result(Captured(url=response.url, status=response.status, body=body))

    async def html(self) -> str:
        """The rendered DOM as HTML."""
        try:
            # page.content() costs several times more than serialising the element.
            html = await self.page.evaluate("document.documentElement.outerHTML")
        except PlaywrightError as exc:
            raise BrowserError(f"cannot read the page: {_first_line(exc)}") from exc
        return str(html)

    async def cookies(self, *, fresh: bool = False) -> dict[str, str]:
        """Cookies of this tab's context by name, read once per context unless ``fresh``."""
        if self._context is None:
            return {}
        if self._cookies is None or fresh:
            try:
                jar = await self._context.cookies()
            except PlaywrightError as exc:
                raise BrowserError(f"cannot read cookies: {_first_line(exc)}") from exc
            self._cookies = {c["name"]: c["value"] for c in jar if "name" in c and "value" in c}
        return dict(self._cookies)

    async def evaluate(self, expression: str) -> object:
        try:
            return await self.page.evaluate(expression)
        except PlaywrightError as exc:
            raise BrowserError(f"script failed in the page: {_first_line(exc)}") from exc

    async def close(self) -> None:
        """Close the page and its context; the next visit opens fresh ones."""
        for task in list(self._readers):
            task.cancel()
        context, self._context, self._page = self._context, None, None
        self._cookies = None
        if context is not None:
            with contextlib.suppress(PlaywrightError):
                await context.close()


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
