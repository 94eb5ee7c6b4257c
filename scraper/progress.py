"""Outcome counters, the live progress display and the end-of-run summary.

Counters are keyed by kind (``videos.ok``, ``segments.failed``, ``drift.video@v1`` …),
like scrapy's stats. On a terminal a rich progress bar shows them as the crawl goes;
elsewhere a plain log line every few seconds does.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = [
    "CATALOGUE_FAILED",
    "STORED",
    "VISITED",
    "Count",
    "Reporter",
    "Stats",
    "drift_key",
    "failure_key",
    "fallback_key",
    "format_summary",
    "video_key",
    "visit_key",
]

log = logging.getLogger(__name__)


class Count(StrEnum):
    """The key of every fixed outcome counter, defined once: stages count with these, and
    the summary, the progress bar and the exit codes read them. Keys with an open part
    (a failure's reason, a selector version) come from the ``*_key`` functions below."""

    VIDEOS_OK = "videos.ok"
    VIDEOS_PARTIAL = "videos.partial"
    VIDEOS_UNAVAILABLE = "videos.unavailable"
    VIDEOS_FAILED = "videos.failed"
    VIDEOS_NEW = "videos.new"
    VISITS_FIRST = "visits.first"
    VISITS_REVISIT = "visits.revisit"
    VISITS_CATALOGUE = "visits.catalogue"
    VISITS_CHANNEL = "visits.channel"
    VISITS_FAILED = "visits.failed"
    CHANNELS_RECORDED = "channels.recorded"
    COMMENTS_NEW = "comments.new"
    COMMENTS_STORED = "comments.stored"
    COMMENTS_FAILED = "comments.failed"
    CATALOGUE_PAGES = "catalogue.pages"
    CATALOGUE_DUPLICATES = "catalogue.duplicates"
    SEGMENTS_OK = "segments.ok"
    SEGMENTS_FAILED = "segments.failed"
    SEGMENTS_PAYWALLED = "segments.paywalled"
    THUMBS_OK = "thumbs.ok"
    THUMBS_DROPPED = "thumbs.dropped"
    THUMBS_FAILED = "thumbs.failed"
    RETRIES_TOKEN = "retries.token"
    RETRIES_PAGE = "retries.page"
    BROWSER_RELAUNCHES = "browser.relaunches"
    BROWSER_PAGE_CRASHES = "browser.page_crashes"
    BROWSER_PAGE_TIMEOUTS = "browser.page_timeouts"
    BROWSER_RECYCLES = "browser.recycles"


# Videos the store holds after their crawl, and visits that saw something.
STORED = (Count.VIDEOS_OK, Count.VIDEOS_PARTIAL, Count.VIDEOS_UNAVAILABLE)
VISITED = (Count.VISITS_FIRST, Count.VISITS_REVISIT, Count.VISITS_CATALOGUE,
           Count.VISITS_CHANNEL)
_FAILED, _DRIFT, _FALLBACK = "failed.", "drift.", "fallback."
CATALOGUE_FAILED = _FAILED + "catalogue_page"


def video_key(status: str) -> Count:
    """``videos.<status>`` for a video's outcome (ValueError for an unknown status)."""
    return Count(f"videos.{status}")


def visit_key(kind: str) -> Count:
    return Count(f"visits.{kind}")


def failure_key(reason: str) -> str:
    """``failed.<reason>``: why work failed (an error class name, ``catalogue_page``)."""
    return _FAILED + reason


def drift_key(label: str) -> str:
    """``drift.<page or selector version>``: pages whose required fields were missing."""
    return _DRIFT + label


def fallback_key(label: str) -> str:
    return _FALLBACK + label


class Stats(Counter[str]):
    """Counts of outcomes by kind; drift events also keep the URLs where they happened."""

    def __init__(self) -> None:
        super().__init__()
        self.examples: dict[str, list[str]] = {}

    def note(self, kind: str, example: str | None = None, *, n: int = 1) -> None:
        self[kind] += n
        if example is not None:
            bucket = self.examples.setdefault(kind, [])
            if len(bucket) < 5:
                bucket.append(example)

    def selectors_used(self, version: str, url: str, *, fallback: bool, missing: int = 0) -> None:
        """Count (and log) a fallback to an older selector version, and items that lacked
        required fields, with the URL where it happened."""
        if fallback:
            self.note(fallback_key(version), url)
            log.warning("selectors: fell back to %s on %s", version, url)
        if missing:
            self.note(drift_key(version), url, n=missing)
            log.warning("selectors %s: %d items lack required fields on %s", version, missing,
                        url)


class Reporter:
    """Shows progress while the crawl runs: a bar on a terminal, log lines otherwise."""

    def __init__(self, stats: Stats, *, stream: TextIO | None = None,
                 live: bool | None = None, log_every_s: float = 5.0) -> None:
        self.stats = stats
        self.total: int | None = None  # unknown ("42/?") until the catalogue is read
        self.before = 0  # videos earlier invocations of a resumed run finished
        self._stream = stream if stream is not None else sys.stderr
        self._live = self._stream.isatty() if live is None else live
        self._bar: Progress | None = None
        self._task: object = None
        self._log_every_s = log_every_s
        self._last_log = 0.0
        self._started = time.monotonic()

    @contextmanager
    def running(self) -> Iterator[Reporter]:
        if not self._live:
            yield self
            return
        # Imported here: a run without a terminal (cron, a worker, a pipe) never loads rich.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]videos"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), TextColumn("{task.fields[detail]}"),
            console=Console(file=self._stream, highlight=False), transient=False,
        )
        with self._bar:
            self._task = self._bar.add_task("videos", total=None, detail="", rate="")
            yield self
            self.update()

    def update(self) -> None:
        """Refresh the bar, or log a line if enough time passed."""
        stats = self.stats
        now_done = sum(stats[k] for k in (*STORED, Count.VIDEOS_FAILED))
        done = self.before + now_done
        elapsed = time.monotonic() - self._started
        rate = f"{now_done / elapsed * 60:.0f}/min" if now_done and elapsed > 0 else ""
        # Outcomes by kind as they happen, not only failures.
        kinds = "/".join(f"{stats[k]} {k.removeprefix('videos.')}"
                         for k in (*STORED, Count.VIDEOS_FAILED) if stats[k])
        detail = (f"{kinds}  segments {stats[Count.SEGMENTS_OK]} ok/"
                  f"{stats[Count.SEGMENTS_FAILED]} failed  comments "
                  f"{stats[Count.COMMENTS_STORED]}")
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=self.total,  # type: ignore[arg-type]
                             detail=detail, rate=rate)
            return
        now = time.monotonic()
        if now - self._last_log >= self._log_every_s:
            self._last_log = now
            total = f"/{self.total}" if self.total else ""
            log.info("videos %d%s  %s  %s", done, total, rate, detail)


def format_summary(stats: Stats, *, store: str, media: str | None, elapsed_s: float,
                   whole_run: Mapping[str, int] | None = None) -> str:
    """The end-of-run summary: what was stored, what failed and why. After a resume
    (``whole_run``: the run's videos by state), the first line is this invocation's and
    a second one gives the whole run's."""
    videos = {key.removeprefix("videos."): stats[key]
              for key in (*STORED, Count.VIDEOS_FAILED)}
    done = sum(videos.values())
    rate = done / elapsed_s * 60 if elapsed_s > 0 else 0.0
    lines = [
        f"{_headline(stats, done)} in {elapsed_s:.1f}s ({rate:.0f}/min) to {store}"
        + (" (this invocation)" if whole_run else ""),
        *([_whole_run(whole_run)] if whole_run else []),
        "  videos:    " + _kinds(videos),
        f"  segments:  {stats[Count.SEGMENTS_OK]} ok, {stats[Count.SEGMENTS_FAILED]} failed, "
        f"{stats[Count.SEGMENTS_PAYWALLED]} paywalled previews",
        f"  thumbs:    {stats[Count.THUMBS_OK]} ok, {stats[Count.THUMBS_DROPPED]} dropped "
        f"(too small), {stats[Count.THUMBS_FAILED]} failed",
        f"  comments:  {stats[Count.COMMENTS_STORED]} top-level stored, "
        f"{stats[Count.COMMENTS_FAILED]} videos with comment errors",
        f"  retries:   {stats[Count.RETRIES_TOKEN]} token refreshes, "
        f"{stats[Count.RETRIES_PAGE]} page re-renders",
        f"  browser:   {stats[Count.BROWSER_RELAUNCHES]} relaunches, "
        f"{stats[Count.BROWSER_PAGE_CRASHES]} page crashes, {stats[Count.BROWSER_PAGE_TIMEOUTS]} "
        f"hung pages, {stats[Count.BROWSER_RECYCLES]} recycled",
    ]
    if stats[Count.CHANNELS_RECORDED]:
        shown = stats.examples.get(Count.CHANNELS_RECORDED, [])[:3]
        more = stats[Count.CHANNELS_RECORDED] - len(shown)
        lines.append(f"  channels:  {stats[Count.CHANNELS_RECORDED]} recorded with a snapshot: "
                     + "; ".join(shown) + (f"; {more} more" if more > 0 else ""))
    if media:
        lines.append(f"  media:     {media}")
    drift = sorted(k for k in stats if k.startswith((_DRIFT, _FALLBACK)))
    for kind in drift:
        where = ", ".join(stats.examples.get(kind, [])[:3])
        lines.append(f"  {kind}: {stats[kind]} pages (e.g. {where})")
    reasons = sorted((k for k in stats if k.startswith(_FAILED)), key=lambda k: -stats[k])
    for kind in reasons[:10]:
        lines.append(f"  {kind.removeprefix(_FAILED)}: {stats[kind]}")
    return "\n".join(lines)


def _headline(stats: Stats, done: int) -> str:
    """Stored and failed videos, with the failures' reasons: never "Stored N" when some
    of the N failed."""
    failed = stats[Count.VIDEOS_FAILED]
    if not failed:
        return f"Stored {done} videos"
    reasons = sorted(((k.removeprefix(_FAILED), n) for k, n in stats.items()
                      if k.startswith(_FAILED) and k != CATALOGUE_FAILED),
                     key=lambda kv: -kv[1])
    why = ", ".join(f"{n} {reason}" for reason, n in reasons) or "see the log"
    return (f"Stored {done - failed} videos, {failed} failed ({why}; the next `scrape run` "
            "retries them)")


def _whole_run(counts: Mapping[str, int]) -> str:
    left = counts.get("pending", 0) + counts.get("claimed", 0)
    return (f"  whole run: {counts.get('done', 0)} videos done, {counts.get('failed', 0)} "
            f"failed" + (f", {left} left" if left else "") + " (with earlier invocations)")


def _kinds(counts: dict[str, int]) -> str:
    order = ["ok", "partial", "unavailable", "failed"]
    return ", ".join(f"{counts.get(k, 0)} {k}" for k in order)
