"""When a navigation's document is the page's: committed, and parsed.

``Page.navigate`` answers with the navigation's loader id, possibly before the renderer
has swapped documents, so a command sent right after it could still reach the previous
document. The Page domain's events say when the main frame committed a document of that
loader (``frameNavigated``) and when that document was parsed
(``domContentEventFired``, which carries no loader id: it counts only after the
commit).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import BrowserError
from .cdp import Session

__all__ = ["LoadWatch"]


class LoadWatch:
    """The main frame's documents as the page's session reports them."""

    def __init__(self, session: Session) -> None:
        self._loader: str | None = None  # the navigation waited for
        self._main: str | None = None  # the main frame's current document's loader
        self._main_parsed = False
        self._committed = asyncio.Event()
        self._parsed = asyncio.Event()
        self._failure: BrowserError | None = None
        session.on("Page.frameNavigated", self._on_navigated)
        session.on("Page.domContentEventFired", self._on_parsed)

    def expect(self, loader: str) -> None:
        """From now on, wait for the documents of ``loader`` (``Page.navigate``'s); its
        events may have come before the command's answer."""
        self._loader = loader
        self._committed.clear()
        self._parsed.clear()
        if self._main == loader:
            self._committed.set()
            if self._main_parsed:
                self._parsed.set()

    async def committed(self) -> None:
        await self._wait(self._committed)

    async def parsed(self) -> None:
        await self._wait(self._parsed)

    def fail(self, exc: BrowserError) -> None:
        """Wake whoever waits: the page went away."""
        self._failure = exc
        self._committed.set()
        self._parsed.set()

    async def _wait(self, event: asyncio.Event) -> None:
        await event.wait()
        if self._failure is not None:
            raise self._failure

    def _on_navigated(self, event: dict[str, Any]) -> None:
        frame = event.get("frame", {})
        if frame.get("parentId") is None:
            self._main, self._main_parsed = frame.get("loaderId"), False
            if self._main == self._loader:
                self._committed.set()

    def _on_parsed(self, _: dict[str, Any]) -> None:
        self._main_parsed = True
        if self._main == self._loader:
            self._parsed.set()
