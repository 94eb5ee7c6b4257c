"""How a run's catalogue tells its video workers that it queued videos, or ended.

Video workers claim their items from the store, which other processes may fill too, so
a worker with nothing to claim still polls it. A list page read in this process wakes
the idle workers at once, rather than at their next poll: at the start of a run that
left every tab but the catalogue's idle for up to a poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["Feed"]


class Feed:
    """News of the frontier within one process: ``ticket`` before a claim, ``wait`` on
    it after an empty one; ``tell`` wakes every waiter, including one whose claim was
    still running when the news came."""

    def __init__(self) -> None:
        self._news = asyncio.Event()
        self.done = False  # the catalogue has queued all it will

    def ticket(self) -> asyncio.Event:
        return self._news

    def tell(self) -> None:
        news, self._news = self._news, asyncio.Event()
        news.set()

    def finish(self) -> None:
        self.done = True
        self.tell()

    @staticmethod
    async def wait(ticket: asyncio.Event, timeout_s: float) -> None:
        """Until news after ``ticket`` was taken, or ``timeout_s`` (news from elsewhere)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await ticket.wait()
