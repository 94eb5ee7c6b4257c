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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["Reporter", "Stats", "format_summary"]

log = logging.getLogger(__name__)


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
            self.note(f"fallback.{version}", url)
            log.warning("selectors: fell back to %s on %s", version, url)
        if missing:
            self.note(f"drift.{version}", url, n=missing)
            log.warning("selectors %s: %d items lack required fields on %s", version, missing,
                        url)


class Reporter:
    """Shows progress while the crawl runs: a bar on a terminal, log lines otherwise."""

    def __init__(self, stats: Stats, *, stream: TextIO | None = None,
                 live: bool | None = None, log_every_s: float = 5.0) -> None:
        self.stats = stats
        self.total: int | None = None
        stream = stream if stream is not None else sys.stderr
        self._live = stream.isatty() if live is None else live
        self._console = Console(file=stream, highlight=False)
        self._bar: Progress | None = None
        self._task: object = None
        self._log_every_s = log_every_s
        self._last_log = 0.0

    @contextmanager
    def running(self) -> Iterator[Reporter]:
        if not self._live:
            yield self
            return
        self._bar = Progress(
            TextColumn("[bold]videos"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
            console=self._console, transient=False,
        )
        with self._bar:
            self._task = self._bar.add_task("videos", total=None, detail="")
            yield self
            self.update()

    def update(self) -> None:
        """Refresh the bar, or log a line if enough time passed."""
        done = sum(self.stats[k] for k in ("videos.ok", "videos.partial",
                                           "videos.unavailable", "videos.failed"))
        detail = (f"segments {self.stats['segments.ok']} ok/{self.stats['segments.failed']} "
                  f"failed  comments {self.stats['comments.stored']}  "
                  f"failed videos {self.stats['videos.failed']}")
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=self.total,  # type: ignore[arg-type]
                             detail=detail)
            return
        now = time.monotonic()
        if now - self._last_log >= self._log_every_s:
            self._last_log = now
            total = f"/{self.total}" if self.total else ""
            log.info("videos %d%s  %s", done, total, detail)


def format_summary(stats: Stats, *, store: str, media: str | None, elapsed_s: float) -> str:
    """The end-of-run summary: what was stored, what failed and why."""
    videos = {k.split(".", 1)[1]: v for k, v in stats.items() if k.startswith("videos.")}
    done = sum(videos.values())
    rate = done / elapsed_s * 60 if elapsed_s > 0 else 0.0
    lines = [
        f"{_headline(stats, done)} in {elapsed_s:.1f}s ({rate:.0f}/min) to {store}",
        "  videos:    " + _kinds(videos),
        f"  segments:  {stats['segments.ok']} ok, {stats['segments.failed']} failed, "
        f"{stats['segments.paywalled']} paywalled previews",
        f"  thumbs:    {stats['thumbs.ok']} ok, {stats['thumbs.dropped']} dropped (too small), "
        f"{stats['thumbs.failed']} failed",
        f"  comments:  {stats['comments.stored']} top-level stored, "
        f"{stats['comments.failed']} videos with comment errors",
        f"  retries:   {stats['retries.token']} token refreshes, "
        f"{stats['retries.page']} page re-renders",
        f"  browser:   {stats['browser.relaunches']} relaunches, "
        f"{stats['browser.page_crashes']} page crashes, {stats['browser.page_timeouts']} "
        f"hung pages, {stats['browser.recycles']} recycled",
    ]
    if media:
        lines.append(f"  media:     {media}")
    drift = sorted(k for k in stats if k.startswith(("drift.", "fallback.")))
    for kind in drift:
        where = ", ".join(stats.examples.get(kind, [])[:3])
        lines.append(f"  {kind}: {stats[kind]} pages (e.g. {where})")
    reasons = sorted((k for k in stats if k.startswith("failed.")), key=lambda k: -stats[k])
    for kind in reasons[:10]:
        lines.append(f"  {kind.removeprefix('failed.')}: {stats[kind]}")
    return "\n".join(lines)


def _headline(stats: Stats, done: int) -> str:
    """Stored and failed videos, with the failures' reasons: never "Stored N" when some
    of the N failed."""
    failed = stats["videos.failed"]
    if not failed:
        return f"Stored {done} videos"
    reasons = sorted(((k.removeprefix("failed."), n) for k, n in stats.items()
                      if k.startswith("failed.") and k != "failed.catalogue page"),
                     key=lambda kv: -kv[1])
    why = ", ".join(f"{n} {reason}" for reason, n in reasons) or "see the log"
    return (f"Stored {done - failed} videos, {failed} failed ({why}; the next `scrape run` "
            "retries them)")


def _kinds(counts: dict[str, int]) -> str:
    order = ["ok", "partial", "unavailable", "failed"]
    return ", ".join(f"{counts.get(k, 0)} {k}" for k in order)
