"""A video's files on disk: its thumbnail and the segments of the chosen stream.

Files go to ``<media>/<vid>/thumb.jpg`` and ``<media>/<vid>/<n>.mp4``. Every segment's
outcome is recorded (ok, failed with the reason, paywalled preview, skipped), never
dropped. A 403 means the signed URL expired: the page is rendered again for fresh URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FATAL, ConfigError, DiskFull, ScraperError, TokenRejected
from ..models import CardInfo, PlayInfo, Segment, SegmentRef
from ..net.download import DownloadResult, download, jpeg_dimensions
from ..progress import Count
from .context import VideoContext

__all__ = ["MIN_THUMB_WIDTH", "VideoFiles", "fetch_files", "prepare_media_dir"]

log = logging.getLogger(__name__)

def prepare_media_dir(path: Path) -> Path:
    """Create the media directory and prove it is writable before any work starts."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"media directory {path} is not writable: {exc.strerror}") from exc
    return path.resolve()


# The 2018 crawler's rule: thumbnails narrower than this are placeholders; drop them.
MIN_THUMB_WIDTH = 110


@dataclass(slots=True)
class VideoFiles:
    thumb_path: str | None = None
    segments: list[Segment] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def fetch_files(
    ctx: VideoContext, card: CardInfo, play: PlayInfo, errors: list[str], *,
    refresh: Callable[[], Awaitable[PlayInfo]],
) -> VideoFiles:
    """Download the thumbnail and every segment; record each outcome."""
    files = VideoFiles()
    if ctx.media_dir is None:
        files.segments = [_skipped(ref) for ref in play.segments]
        return files
    folder = ctx.media_dir / card.vid  # each download makes it, in its first thread call
    refresher = _Refresher(refresh)
    segments = asyncio.gather(*(fetch_segment(ctx, ref, folder, refresher)
                                for ref in play.segments))
    files.thumb_path, found = await asyncio.gather(
        fetch_thumb(ctx, card, folder, files.errors), segments)
    files.segments = list(found)
    files.errors.extend(f"segment {s.index}: {s.error}" for s in files.segments
                        if s.status == "failed")
    return files


def _skipped(ref: SegmentRef) -> Segment:
    status = "paywalled" if ref.url is None else "skipped"
    return Segment(index=ref.index, url=ref.url, size=ref.size, status=status)


async def fetch_thumb(
    ctx: VideoContext, card: CardInfo, folder: Path, errors: list[str]
) -> str | None:
    if not card.thumb_url:
        return None
    dest = folder / "thumb.jpg"
    result = await _download(ctx, card.thumb_url, dest, expected_size=None)
    if not result.ok or result.path is None:
        ctx.stats.note(Count.THUMBS_FAILED)
        errors.append(f"thumbnail: {result.error}")
        return None
    size = await asyncio.to_thread(jpeg_dimensions, result.path)
    if size is None or size[0] < MIN_THUMB_WIDTH:
        ctx.stats.note(Count.THUMBS_DROPPED)
        with contextlib.suppress(OSError):
            await asyncio.to_thread(result.path.unlink)
        return None
    ctx.stats.note(Count.THUMBS_OK)
    return str(result.path)


class _Refresher:
    """Fresh segment URLs for a video, fetched once however many segments ask."""

    def __init__(self, refresh: Callable[[], Awaitable[PlayInfo]]) -> None:
        self._refresh = refresh
        self._lock = asyncio.Lock()
        self._play: PlayInfo | None = None

    async def url_for(self, index: int) -> str | None:
        async with self._lock:
            if self._play is None:
                self._play = await self._refresh()
        return next((s.url for s in self._play.segments if s.index == index), None)


async def fetch_segment(
    ctx: VideoContext, ref: SegmentRef, folder: Path, refresher: _Refresher
) -> Segment:
    if ref.url is None:
        ctx.stats.note(Count.SEGMENTS_PAYWALLED)
        return Segment(index=ref.index, size=ref.size, status="paywalled",
                       error="paywalled preview: no URL")
    dest, url, attempts = folder / f"{ref.index}.mp4", ref.url, 0
    for refreshed in (False, True):
        try:
            result = await _download(ctx, url, dest, expected_size=ref.size)
        except TokenRejected as exc:
            attempts += 1
            new_url = None if refreshed else await _fresh_url(refresher, ref.index)
            if new_url is None:
                return _failed(ctx, ref, url, attempts, f"refused: {exc}")
            url = new_url
            continue
        attempts += result.attempts
        if not result.ok:
            return _failed(ctx, ref, url, attempts, result.error or "download failed")
        ctx.stats.note(Count.SEGMENTS_OK)
        return Segment(index=ref.index, url=url, path=str(result.path), size=result.size,
                       sha256=result.sha256, status="ok", attempts=attempts)
    return _failed(ctx, ref, url, attempts, "refused after a token refresh")


async def _fresh_url(refresher: _Refresher, index: int) -> str | None:
    try:
        return await refresher.url_for(index)
    except FATAL:
        raise
    except ScraperError as exc:
        log.warning("could not refresh segment URLs: %s", exc)
        return None


def _failed(ctx: VideoContext, ref: SegmentRef, url: str, attempts: int, error: str) -> Segment:
    ctx.stats.note(Count.SEGMENTS_FAILED)
    return Segment(index=ref.index, url=url, size=ref.size, status="failed",
                   attempts=attempts, error=error)


async def _download(
    ctx: VideoContext, url: str, dest: Path, *, expected_size: int | None
) -> DownloadResult:
    settings = ctx.settings
    try:
        async with ctx.downloads:
            return await download(ctx.http, url, dest, expected_size=expected_size,
                                  retries=settings.retries,
                                  backoff_base_s=settings.backoff_base_s,
                                  backoff_max_s=settings.backoff_max_s)
    except DiskFull as exc:
        raise disk_full(ctx) from exc


def disk_full(ctx: VideoContext) -> DiskFull:
    """The one line a full media disk ends the run with (the video is not recorded)."""
    return DiskFull(f"no space left in the media directory {ctx.media_dir}: free some space "
                    "and run the same command again (partial files are kept and resumed)")
