"""What one crawling process holds: the store, the HTTP client, Chromium and its tabs.

``scrape run``, ``scrape monitor`` and ``scrape worker`` all open one ``Resources``; each
job they serve gets its own ``VideoContext`` (site, category, limits) over it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..api.tokens import SignJar
from ..browser.early import EarlyLaunch
from ..browser.options import browser_options
from ..browser.pool import Browser, TabPool
from ..config import Settings
from ..models import RunRecord
from ..net.client import HttpClient
from ..progress import Stats
from ..repair.evidence import Keeper
from ..site.load import Site, load_site
from ..store.base import Store
from ..store.target import open_store
from .context import VideoContext
from .media import prepare_media_dir

__all__ = ["Resources", "open_resources"]


@dataclass(slots=True)
class Resources:
    """What one process holds for crawling; each job gets a ``VideoContext`` over it."""

    settings: Settings
    store: Store
    http: HttpClient
    tabs: TabPool
    stats: Stats
    downloads: asyncio.Semaphore
    signs: SignJar = field(default_factory=SignJar)
    contexts: dict[str, VideoContext] = field(default_factory=dict)

    def context(
        self, run: RunRecord, settings: Settings, *, site: Site | None = None,
        media_dir: Path | None = None,
    ) -> VideoContext:
        """The job's ``VideoContext``, made on first use; ``site`` and ``media_dir``, when
        the caller already loaded and checked them, are not read or probed again."""
        ctx = self.contexts.get(run.run_id)
        if ctx is None or ctx.settings != settings:
            if settings.no_media:
                media_dir = None
            elif media_dir is None:
                media_dir = prepare_media_dir(settings.media_dir)
            site = site or load_site(settings)
            ctx = self.contexts[run.run_id] = VideoContext(
                settings=settings, site=site, store=self.store, http=self.http,
                tabs=self.tabs, stats=self.stats, run=run, media_dir=media_dir,
                signs=self.signs, evidence=Keeper(self.store, site.profile.selector_set),
                downloads=self.downloads)
        return ctx


@asynccontextmanager
async def open_resources(
    settings: Settings, *, blocked_hosts: Iterable[str], store: Store | None = None,
    stats: Stats | None = None, early: EarlyLaunch | None = None,
) -> AsyncIterator[Resources]:
    """Open the store, the HTTP client and Chromium for one process.

    ``blocked_hosts`` are the media hosts of every site the process may serve (the
    browser never loads them); ``store`` replaces ``settings.store`` with a store built
    (not opened) by the caller; ``early`` is a Chromium the caller started launching
    (``early_launch``), closed with the rest.
    """
    stats = stats if stats is not None else Stats()
    async with AsyncExitStack() as stack:
        if early is not None:
            stack.push_async_callback(early.close)
        opened = await stack.enter_async_context(store or open_store(settings.store))
        http = await stack.enter_async_context(
            HttpClient(resolve=settings.resolve, timeout_s=settings.request_timeout_s,
                       user_agent=settings.user_agent))
        if early is not None:
            browser = await early.ready()
            browser.stats = stats
        else:
            options = browser_options(settings, blocked_hosts=blocked_hosts)
            browser = await stack.enter_async_context(Browser(options, stats=stats))
        tabs = TabPool(browser, settings.concurrency,
                       ready=early.tabs[:settings.concurrency] if early is not None else ())
        stack.push_async_callback(tabs.close)
        yield Resources(settings=settings, store=opened, http=http, tabs=tabs,
                        stats=stats,
                        downloads=asyncio.Semaphore(settings.download_concurrency))
