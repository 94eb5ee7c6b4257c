"""The error tree of the scraper.

Every failure the crawl can meet is one of these; third-party errors (Playwright,
aiohttp, motor/pymongo) are translated at the module that owns them and re-raised
``from`` the original. The CLI turns any ``ScraperError`` into one stderr line and
``exit_code``.

::

    ScraperError                    (exit 1)
    ├── ConfigError                 bad flag, env value or --resolve rule: abort (exit 2)
    │   ├── SelectorFileError       malformed selector/profile file: abort (exit 2)
    │   └── UnknownChannel          a --channel uid the site answers 404 for: abort (exit 2)
    ├── SiteUnreachable             the site does not answer at start: abort (exit 3)
    ├── StoreError                  store unreachable or a write failed: abort (exit 4)
    ├── BrowserError                Chromium failed to start (abort) or a page failed
    │   │                           (the video is retried, then marked failed)
    │   └── PageLost                the page crashed, hung past its deadline or lost its
    │                               browser: a new tab (Chromium relaunched if need be)
    │                               and the visit is retried
    ├── BrowserKeepsDying           Chromium died more often than a run allows: abort
    │                               (exit 5; no video or page handler swallows it)
    ├── DiskFull                    no space left in the media directory: stop (exit 7);
    │                               partial files stay for the resume
    ├── FetchError                  HTTP failure after retries: that item is marked failed
    │   ├── TokenRejected           the API refused a token (-6004/-6005, bad sign, 403):
    │   │                           re-obtain it from the browser and retry
    │   └── MalformedResponse       bad JSON(P), truncated HTML: the video is marked failed
    ├── VideoUnavailable            private, region-blocked, unknown, no wanted stream:
    │                               recorded with its reason, not retried
    ├── ExtractionError             a required field is missing: page retried, then
    │                               counted as drift and the video marked failed
    └── SelectorDrift               the site answers but no selector version reads it
                                    (no catalogue cards, every video drifted): stop
                                    (exit 8) and suggest `scrape refresh-selectors`
"""

from __future__ import annotations

__all__ = [
    "FATAL",
    "BrowserError",
    "BrowserKeepsDying",
    "ConfigError",
    "DiskFull",
    "ExtractionError",
    "FetchError",
    "MalformedResponse",
    "PageLost",
    "ScraperError",
    "SelectorDrift",
    "SelectorFileError",
    "SiteUnreachable",
    "StoreError",
    "TokenRejected",
    "UnknownChannel",
    "VideoUnavailable",
    "first_error",
]


class ScraperError(Exception):
    """Base of every error the scraper raises on purpose."""

    exit_code = 1


class ConfigError(ScraperError):
    """Raised by config/cli for bad user input. The run aborts before any work."""

    exit_code = 2


class SelectorFileError(ConfigError):
    """Raised by selector_files/site_profile for a malformed file; names file, field and reason."""


class UnknownChannel(ConfigError):
    """A ``--channel`` uid the site does not know (its channel page answers 404)."""


class SiteUnreachable(ScraperError):
    """Raised by crawl when the first catalogue page cannot be loaded at all."""

    exit_code = 3


class StoreError(ScraperError):
    """Raised by store for an unreachable server or a failed write. The run aborts."""

    exit_code = 4


class BrowserError(ScraperError):
    """Raised by browser. At launch it aborts the run; on a page it fails that video."""

    exit_code = 5


class PageLost(BrowserError):
    """Raised by browser when a page crashed, hung past its deadline or lost its browser.

    The tab drops the page (the next visit opens a new one, on a relaunched Chromium if
    the browser died); the caller retries the visit.
    """


class BrowserKeepsDying(ScraperError):
    """Raised by browser when Chromium died more often than a run allows; the run aborts.

    Not a ``BrowserError``: handlers that fail one page or one video must let it through.
    """

    exit_code = 5


class DiskFull(ScraperError):
    """Raised by download on ENOSPC: the run stops, partial files stay for the resume."""

    exit_code = 7


class FetchError(ScraperError):
    """Raised by api/download when a request still fails after its retries."""


class TokenRejected(FetchError):
    """The site refused a cookie or signed token; the caller re-obtains it and retries."""


class MalformedResponse(FetchError):
    """A response could not be parsed (bad JSONP, truncated HTML); the video fails."""


class VideoUnavailable(ScraperError):
    """The video cannot be played (private, blocked, unknown, no wanted stream)."""


class SelectorDrift(ScraperError):
    """The site answered, but its markup no longer matches any selector version."""

    exit_code = 8


class ExtractionError(ScraperError):
    """Required fields are missing from a page; carries the field names."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


# Errors that end the run wherever they are raised: a handler that fails one page, video
# or visit re-raises these (``except FATAL: raise``) before catching ``ScraperError``.
FATAL: tuple[type[ScraperError], ...] = (StoreError, BrowserKeepsDying, DiskFull)


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first of our errors inside a task group's failure, or the group itself, so a
    crash in one task is reported as the one line it means."""
    for exc in group.exceptions:
        inner = first_error(exc) if isinstance(exc, BaseExceptionGroup) else exc
        if isinstance(inner, ScraperError):
            return inner
    return group
