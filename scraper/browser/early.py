"""Chromium launched early: while the rest of the program is still being imported.

Starting the Playwright driver and Chromium takes about as long as importing the crawl's
modules (aiohttp, pydantic models, parsel...), and neither needs the other: a command
starts the launch first, imports the rest meanwhile, and hands the launched browser to
the crawl. This module imports only what the launch needs.
"""

from __future__ import annotations

import asyncio
import contextlib

from .chromium import Browser
from .options import BrowserOptions

__all__ = ["EarlyLaunch"]


class EarlyLaunch:
    """A ``Browser`` being launched in the background; ``ready`` waits for it."""

    def __init__(self, options: BrowserOptions) -> None:
        self.browser = Browser(options)
        self._launch = asyncio.ensure_future(self.browser.__aenter__())

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
        await self.browser.__aexit__(None, None, None)
