"""Playwright's errors become ours here, in one place: ``scrape debug``'s page and chart
exports drive Chromium through Playwright, and each of their Playwright calls runs inside
``playwright_errors``."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from ..errors import BrowserError, PageLost, SiteUnreachable
from .error_map import first_line

__all__ = ["playwright_errors"]

# How Playwright words an operation on a page, context or browser that went away; a
# navigation cut by a renderer crash fails as aborted (the crash event comes after it).
_GONE = re.compile(r"closed|crash|disconnected|detached|ERR_ABORTED", re.IGNORECASE)
# How Chromium words a navigation that reached no server (refused, unresolved, cut off).
_NO_SERVER = re.compile(r"net::ERR_(CONNECTION_\w+|NAME_NOT_RESOLVED|NAME_RESOLUTION_FAILED|"
                        r"ADDRESS_UNREACHABLE|TIMED_OUT|EMPTY_RESPONSE|INTERNET_DISCONNECTED)")


@contextlib.contextmanager
def playwright_errors(what: str, *, gone: Callable[[], bool] | None = None,
                      navigating: bool = False) -> Iterator[None]:
    """Raise a Playwright error from inside as ``BrowserError("what: first line")``.

    With ``navigating`` (the one navigation of a command), a navigation that reached no
    server is ``SiteUnreachable``: the browser works, the site does not answer.

    With ``gone`` (asked of a page's operations) the error is a ``PageLost`` when the page
    crashed, was closed under us or lost its browser (``gone()`` says so, or the message
    does), or timed out: the caller retries the visit in a new page.
    """
    try:
        yield
    except PlaywrightError as exc:
        if navigating and _NO_SERVER.search(str(exc)):
            raise SiteUnreachable(f"{what}: {first_line(exc)}") from exc
        lost = gone is not None and (
            isinstance(exc, PlaywrightTimeout) or gone() or bool(_GONE.search(str(exc))))
        raise (PageLost if lost else BrowserError)(f"{what}: {first_line(exc)}") from exc
