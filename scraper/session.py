"""What one crawling process holds: the store, the HTTP client, Chromium and its tabs.

``scrape run``, ``scrape monitor`` and ``scrape worker`` all open one ``Session``; each
job they serve gets its own ``VideoContext`` (site, category, limits) over it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .browser import Browser, BrowserOptions, TabPool
from .config import Settings
from .errors import ConfigError, StoreError
from .evidence import Keeper
from .models import RunRecord
from .net import HttpClient
from .progress import Stats
from .site import load_site
from .site_profile import load_profile
from .store import Store, open_store
from .tokens import SignJar
from .video import VideoContext

__all__ = ["Session", "browser_options", "open_session", "prepare_media_dir"]


def browser_options(settings: Settings) -> BrowserOptions:
    profile = load_profile(settings.site, selectors_dir=settings.selectors_dir)
    return BrowserOptions(
        executable=settings.chromium, args=settings.chromium_args, resolve=settings.resolve,
        blocked_hosts=profile.media_hosts,
        headless=not settings.headed, slow_mo_ms=settings.slow_mo_ms,
        user_agent=settings.user_agent, visits_per_page=settings.visits_per_page,
        pages_per_context=settings.pages_per_context,
        timeout_s=settings.page_timeout_s,
    )


def prepare_media_dir(path: Path) -> Path:
    """Create the media directory and prove it is writable before any work starts."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"media directory {path} is not writable: {exc.strerror}") from exc
    return path.resolve()


@dataclass(slots=True)
class Session:
    """What one process holds for crawling; each job gets a ``VideoContext`` over it."""

    settings: Settings
    store: Store
    http: HttpClient
    tabs: TabPool
    stats: Stats
    downloads: asyncio.Semaphore
    signs: SignJar = field(default_factory=SignJar)
    contexts: dict[str, VideoContext] = field(default_factory=dict)

    def context(self, run: RunRecord, settings: Settings) -> VideoContext:
        """The job's ``VideoContext``, made on first use."""
        ctx = self.contexts.get(run.run_id)
        if ctx is None or ctx.settings != settings:
            media = None if settings.no_media else prepare_media_dir(settings.media_dir)
            site = load_site(settings)
            ctx = self.contexts[run.run_id] = VideoContext(
                settings=settings, site=site, store=self.store, http=self.http,
                tabs=self.tabs, stats=self.stats, run=run, media_dir=media, signs=self.signs,
                evidence=Keeper(self.store, site.profile.selector_set),
                downloads=self.downloads)
        return ctx


@asynccontextmanager
async def open_session(
    settings: Settings, *, store: Store | None = None, stats: Stats | None = None
) -> AsyncIterator[Session]:
    """Open the store, the HTTP client and Chromium for one process.

    ``store`` replaces ``settings.store`` with a store built (not opened) by the caller.
    """
    async with AsyncExitStack() as stack:
        opened = await _enter_store(stack, store or open_store(settings.store))
        http = await stack.enter_async_context(
            HttpClient(resolve=settings.resolve, timeout_s=settings.request_timeout_s,
                       user_agent=settings.user_agent))
        browser = await stack.enter_async_context(Browser(browser_options(settings)))
        tabs = TabPool(browser, settings.concurrency)
        stack.push_async_callback(tabs.close)
        yield Session(settings=settings, store=opened, http=http, tabs=tabs,
                      stats=stats if stats is not None else Stats(),
                      downloads=asyncio.Semaphore(settings.download_concurrency))


async def _enter_store(stack: AsyncExitStack, store: Store) -> Store:
    """Open the store; a busy directory store's refusal says what to do instead."""
    try:
        return await stack.enter_async_context(store)
    except StoreError as exc:
        if isinstance(exc.__cause__, BlockingIOError):
            raise StoreError(f"{exc}; a directory store takes one process (one worker) at a "
                             "time: share a MongoDB store instead, --store mongodb://…") from exc
        raise
