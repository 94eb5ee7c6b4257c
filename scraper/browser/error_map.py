"""The DevTools pipe's errors become ours here, in one place (as the store's ``_errors``
does for motor): every CDP command of a page runs inside ``cdp_errors``, with a hard
deadline (``within``). Playwright's, for the one-page commands that use it, are mapped
in ``playwright_map.py``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

from ..errors import BrowserError, PageLost
from .cdp import CdpClosed, CdpError

__all__ = ["cdp_errors", "first_line", "within"]


@contextlib.contextmanager
def cdp_errors(what: str, *, gone: Callable[[], bool] | None = None) -> Iterator[None]:
    """Raise a CDP error from inside as ``BrowserError("what: first line")``; with ``gone``
    (a page's operations), as ``PageLost`` when the page or its browser went away."""
    try:
        yield
    except CdpError as exc:
        lost = gone is not None and (isinstance(exc, CdpClosed) or gone())
        raise (PageLost if lost else BrowserError)(f"{what}: {first_line(exc)}") from exc


@contextlib.asynccontextmanager
async def within(limit_s: float, what: str) -> AsyncIterator[None]:
    """A hard deadline on a page operation: past it the page counts as hung (``PageLost``):
    a CDP command to a wedged renderer would otherwise wait forever."""
    try:
        async with asyncio.timeout(limit_s):
            yield
    except TimeoutError as exc:
        raise PageLost(f"{what}: no answer within {limit_s:g}s") from exc


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
