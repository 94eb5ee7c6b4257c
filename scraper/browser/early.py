"""Chromium launched early: while the rest of the program is still being imported.

Starting Chromium takes less time than importing the crawl's modules (aiohttp, pydantic
models, parsel...), and neither needs the other: a command starts the launch first,
imports the rest meanwhile, and hands the launched browser to the crawl. The
launch also opens the crawl's tabs and, given the first page the crawl will read, starts
loading it in the first tab (``Tab.preload``), so Chromium renders it while Python is
still importing. This module imports only what the launch needs.
"""

from __future__ import annotations

import asyncio
import contextlib

from ..errors import BrowserError
from .chromium import Browser
from .options import BrowserOptions
from .pool import Tab

__all__ = ["EarlyLaunch"]


class EarlyLaunch:
    """A ``Browser`` being launched in the background, with ``tabs`` tabs opened in it
    and ``first_url`` loading in the first one; ``ready`` waits for the launch."""

    def __init__(self, options: BrowserOptions, *, tabs: int = 0,
                 first_url: str | None = None) -> None:
        self.browser = Browser(options)
        self.tabs: list[Tab] = []
        self._launch = asyncio.ensure_future(self._start(tabs, first_url))

    async def _start(self, tabs: int, first_url: str | None) -> None:
        await self.browser.__aenter__()
        self.tabs = [Tab(self.browser) for _ in range(tabs)]
        if first_url is not None and self.tabs:
            self.tabs[0].preload(first_url)
        # Pages opened now are ready for the first videos. One that fails to open is no
        # error yet: its tab opens one at its first visit, as it would have anyway.
        with contextlib.suppress(BrowserError):
            await asyncio.gather(*(tab.open() for tab in self.tabs[1:]))

    async def ready(self) -> Browser:
        """The launched browser (the launch's error if it failed); ``close`` ends it."""
        await asyncio.shield(self._launch)
        return self.browser

    async def close(self) -> None:
        """Stop the launch or close the browser; once is enough, twice is harmless."""
        if not self._launch.done():
            self._launch.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await self._launch
        for tab in self.tabs:
            await tab.drop_preload()
            await tab.close()
        await self.browser.__aexit__(None, None, None)
