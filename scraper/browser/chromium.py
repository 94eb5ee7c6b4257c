"""Chromium's lifecycle for a run: launched once, relaunched when it dies, retired when
it grows too large, and the browser contexts that hand out pages.

Pages share one context (one cookie jar and cache, and with --process-per-site one
renderer) until it has handed out ``pages_per_context`` pages; then new pages go to a
fresh one and the old one closes with its last page. Chromium itself is treated the
same way, like crawlee's browser pool: a Chromium that died (its pipe closed) is
replaced at the next page opened (a bounded number of times per run), and one past its
memory limit or visit budget is retired: tabs move to a fresh Chromium at their next
visit and the old one closes with its last page, so no visit in flight is lost.

Chromium is driven over its DevTools pipe (``cdp.py``), not through Playwright: the
Playwright driver, a Node.js process between Python and Chromium, follows every network
request and lifecycle event of every page and injects its helper scripts into each new
document: 300 video visits over 4 tabs took 23.6-23.7 CPU s through it and 14.2-15.9 s
over the pipe, at 355 instead of 270 MB peak PSS (bench/visits.py --via playwright
against bench/visits.py). ``scrape debug`` and chart exports, one page each, keep
Playwright.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from ..errors import BrowserError, BrowserKeepsDying, PageLost
from ..progress import Count, Stats
from .cdp import CdpError, Session
from .error_map import cdp_errors
from .frames import is_headless_shell
from .launch import ChromiumProcess, spawn
from .memory import tree_pss_mb
from .options import BrowserOptions, launch_args

__all__ = ["MEMORY_CHECK_EVERY", "Browser", "PageTarget"]

log = logging.getLogger(__name__)

MEMORY_CHECK_EVERY = 10  # visits between two reads of Chromium's PSS (a /proc walk)
_CLOSE_S = 10.0  # closing a dead browser's pages must not hang the run
# The viewport Playwright gives a page by default, kept so pages lay out as before; a
# headed Chromium sizes only a new window.
_VIEWPORT = {"width": 1280, "height": 720, "newWindow": True}


class PageTarget:
    """One tab of Chromium: its target, the flat session that drives it, and whether it
    crashed or was closed (``on_end`` is told which, once)."""

    def __init__(self, target_id: str, session: Session, context: str) -> None:
        self.target_id = target_id
        self.session = session
        self.context = context
        self.ended: str | None = None  # "crash" or "close"
        self._on_end: list[Callable[[str], None]] = []

    def on_end(self, callback: Callable[[str], None]) -> None:
        self._on_end.append(callback)

    def end(self, how: str) -> None:
        if self.ended is None:
            self.ended = how
            if self.session.id is not None:  # Chromium may never answer these now
                why = "the page crashed" if how == "crash" else "the page was closed"
                self.session.connection.fail_session(self.session.id, why)
            for callback in self._on_end:
                callback(how)


class _Chromium:
    """One launched Chromium process and what it has served."""

    def __init__(self, process: ChromiumProcess, marker: str) -> None:
        self.process = process
        self.root = process.connection.session()
        self.marker = marker
        self.lost = False
        self.retired = False
        self.visits = 0
        self.contexts: set[str] = set()
        self.pages: dict[str, PageTarget] = {}  # by session id
        connection = process.connection
        connection.on_close(self._on_closed)
        connection.on(None, "Target.detachedFromTarget", self._on_detached)

    def _on_closed(self, _: str) -> None:
        if not self.retired:
            self.lost = True
        for page in self.pages.values():
            page.end("close")

    def _on_detached(self, event: dict[str, Any]) -> None:
        page = self.pages.pop(str(event.get("sessionId")), None)
        if page is not None:
            page.end("close")  # fails the commands still waiting on its session
            self.process.connection.forget(page.session.id or "")

    async def close(self) -> None:
        with contextlib.suppress(CdpError):
            await self.process.close()


class Browser:
    """Chromium for the whole run, however many processes that takes."""

    def __init__(self, options: BrowserOptions, *, stats: Stats | None = None) -> None:
        self.options = options
        self.stats = stats if stats is not None else Stats()
        self._chromium: _Chromium | None = None
        self._context: str | None = None
        self._handed_out = 0
        self._open_pages: dict[str, int] = {}
        self._owner: dict[str, _Chromium] = {}
        self._deaths = 0
        self._started = False
        self._lock = asyncio.Lock()
        # One on-demand frame at a time over all tabs: concurrent ones crash Chromium's
        # compositor (SIGTRAP: bench/visits.py --frames concurrent).
        self.frame_turn = asyncio.Lock()

    async def __aenter__(self) -> Self:
        self._started = True
        try:
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
        if not self._started:
            raise BrowserError("the browser is not running")
        executable = self.options.executable
        if executable is None:
            raise BrowserError("no Chromium found: install chromium-headless-shell or "
                               "chromium, or name one with --chromium / SCRAPER_CHROMIUM")
        marker = f"--scraper-browser={uuid.uuid4().hex}"
        args = launch_args(self.options, marker)
        if self.options.headless:
            args += ["--headless", "--hide-scrollbars"]
        if self.options.user_agent:
            args.append(f"--user-agent={self.options.user_agent}")
        process = await spawn(executable, args)
        return _Chromium(process, marker)

    async def _shutdown(self) -> None:
        self._started = False
        chromiums = {*self._owner.values(), *filter(None, [self._chromium])}
        for chromium in chromiums:
            await chromium.close()
        self._chromium = None
        self._owner.clear()
        self._open_pages.clear()

    async def _new_context(self, chromium: _Chromium) -> str:
        with cdp_errors("cannot open a browser context", gone=lambda: chromium.lost):
            reply = await chromium.root.send("Target.createBrowserContext")
        return str(reply["browserContextId"])

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
        try:
            launched = await self._launch()
        except BrowserError as exc:
            if current is None:
                raise
            # Counted as a death at the next page, so relaunches that keep failing give
            # up like a Chromium that keeps dying.
            current.lost = True
            raise PageLost(f"cannot relaunch Chromium: {exc}") from exc
        self._chromium, self._context = launched, None
        if current is not None:
            for context in [c for c in current.contexts if not self._open_pages.get(c)]:
                await self._close_context(context)
            await self._close_if_unused(current)
        return self._chromium

    async def visited(self, context: str | None) -> None:
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

    async def open_page(self) -> PageTarget:
        """A new page in the shared context, rotating the context when it is used up."""
        async with self._lock:
            chromium = await self._current()
            if self._context is None or self._handed_out >= self.options.pages_per_context:
                async with self._answering(chromium, "cannot open a browser context"):
                    fresh = await self._new_context(chromium)
                old, self._context = self._context, fresh
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
            async with self._answering(chromium, "cannot open a page"):
                with cdp_errors("cannot open a page", gone=lambda: chromium.lost):
                    return await self._new_page(chromium, context)
        except BaseException:
            await asyncio.shield(self.close_page(None, context))
            raise

    @contextlib.asynccontextmanager
    async def _answering(self, chromium: _Chromium, what: str) -> AsyncIterator[None]:
        """A deadline on a browser-level command: a Chromium that stops answering
        counts as dead (relaunched at the next page), not as a hang of every tab."""
        limit = self.options.timeout_s
        try:
            async with asyncio.timeout(limit):
                yield
        except TimeoutError as exc:
            chromium.lost = True
            raise PageLost(f"{what}: Chromium did not answer within {limit:g}s") from exc

    async def _new_page(self, chromium: _Chromium, context: str) -> PageTarget:
        root = chromium.root
        created = await root.send("Target.createTarget", {
            "url": "about:blank", "browserContextId": context, **_VIEWPORT})
        target_id = str(created["targetId"])
        attached = await root.send("Target.attachToTarget", {
            "targetId": target_id, "flatten": True})
        session = chromium.process.connection.session(str(attached["sessionId"]))
        page = PageTarget(target_id, session, context)
        chromium.pages[str(session.id)] = page
        session.on("Inspector.targetCrashed", lambda _: page.end("crash"))
        # No Page domain where it can be helped: its events are not needed
        # (``Page.navigate`` answers once the navigation committed), and with it enabled
        # the renderer's peak PSS was 20-25 MB higher (bench/visits.py, 400 visits, three
        # times each). The headless shell dismisses a page's alert() and confirm() by
        # itself; the full Chromium waits for somebody to, so there the Page domain
        # reports them and they are dismissed, as Playwright did.
        await session.send("Inspector.enable")
        if not is_headless_shell(self.options.executable):
            session.on("Page.javascriptDialogOpening", lambda _: _dismiss(session))
            await session.send("Page.enable")
        return page

    async def close_page(self, page: PageTarget | None, context: str) -> None:
        """Close a page from ``open_page``; a retired context goes with its last page."""
        owner = self._owner.get(context)
        if page is not None and owner is not None and page.ended != "close":
            await _quietly(owner.root.send("Target.closeTarget", {"targetId": page.target_id}))
        async with self._lock:
            self._open_pages[context] = self._open_pages.get(context, 1) - 1
            if context != self._context and self._open_pages[context] <= 0:
                await self._close_context(context)

    def retired(self, context: str | None) -> bool:
        """Whether ``context`` was replaced (or its Chromium retired or lost): its tabs
        move on at their next visit, so the old one does not outlive it by long."""
        if context is None:
            return False
        owner = self._owner.get(context)
        return context != self._context or owner is None or owner.retired or owner.lost

    def dead(self, context: str | None) -> bool:
        """Whether the Chromium of ``context`` died."""
        owner = self._owner.get(context) if context is not None else None
        return owner is not None and owner.lost

    def cookie_jar(self, context: str) -> Session | None:
        """The session that reads ``context``'s cookies (its Chromium's own)."""
        owner = self._owner.get(context)
        return owner.root if owner is not None else None

    async def _close_context(self, context: str) -> None:
        self._open_pages.pop(context, None)
        owner = self._owner.pop(context, None)
        if owner is not None:
            if not owner.lost:
                await _quietly(owner.root.send(
                    "Target.disposeBrowserContext", {"browserContextId": context}))
            owner.contexts.discard(context)
            await self._close_if_unused(owner)

    async def _close_if_unused(self, chromium: _Chromium) -> None:
        if chromium is not self._chromium and not chromium.contexts:
            await chromium.close()


def _dismiss(session: Session) -> None:
    """Dismiss the dialog a page opened (a closed page's error does not matter)."""
    task = asyncio.ensure_future(
        _quietly(session.send("Page.handleJavaScriptDialog", {"accept": False})))
    _DISMISSING.add(task)
    task.add_done_callback(_DISMISSING.discard)


_DISMISSING: set[asyncio.Future[None]] = set()


async def _quietly(closing: Awaitable[object]) -> None:
    """Await a clean-up call; a dead browser's errors and hangs do not matter here."""
    with contextlib.suppress(CdpError, TimeoutError):
        async with asyncio.timeout(_CLOSE_S):
            await closing
