"""One video, start to finish: render, extract, play-info, comments, files, store.

``process_video`` reads top to bottom like the data flow; each stage is a short
function. A stage that fails marks what it could not do on the record (segment status,
``crawl.errors``) instead of dropping it; only a video whose page cannot be rendered or
read at all is marked failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..api.comments import CommentClient
from ..api.play_info import parse_play_info
from ..api.tokens import api_matcher, comment_sign_from_url
from ..browser.pool import Tab, UrlMatcher, Visit
from ..errors import (
    FATAL,
    BrowserError,
    ExtractionError,
    FetchError,
    MalformedResponse,
    PageLost,
    ScraperError,
    TokenRejected,
    VideoUnavailable,
)
from ..models import (
    CardInfo,
    CommentThread,
    CrawlInfo,
    PlayInfo,
    Snapshot,
    Video,
)
from ..net.client import backoff_delay
from ..progress import Count, drift_key, failure_key
from ..site.extract import Extraction, extract_page
from .context import VideoContext
from .media import VideoFiles, fetch_files

__all__ = ["Rendered", "VideoOutcome", "process_video", "render_video"]

log = logging.getLogger(__name__)
# One line per video, shown with `scrape -v`.
videos_log = logging.getLogger("scraper.videos")

_FIELD_POLLS = 4
_FIELD_POLL_S = 0.1




@dataclass(frozen=True, slots=True)
class Rendered:
    """A video page as the browser rendered it, with the API replies it made."""

    url: str
    fields: dict[str, Any]
    version: str
    play: PlayInfo
    comments_body: str | None
    cookies: dict[str, str]


@dataclass(frozen=True, slots=True)
class VideoOutcome:
    status: str
    error: str | None = None


async def process_video(
    ctx: VideoContext, card: CardInfo, *, visit_id: str | None = None
) -> VideoOutcome:
    """Crawl one video into the store; returns how it went.

    ``visit_id`` names the snapshot (default ``vid:run_id``; monitoring names each visit).
    """
    started = datetime.now(UTC)
    try:
        rendered = await render_video(ctx, card)
    except FATAL:
        raise  # the run stops; the video stays in the frontier for the next one
    except ScraperError as exc:
        if isinstance(exc, ExtractionError):
            ctx.stats.note(drift_key("video"), card.url)
        ctx.stats.note(failure_key(type(exc).__name__))
        log.warning("video %s failed: %s", card.vid, exc)
        return VideoOutcome("failed", str(exc))
    errors: list[str] = []
    card = _with_thumb(ctx, card, rendered.play)
    thread, files = await asyncio.gather(
        fetch_comments(ctx, card, rendered, errors),
        fetch_files(ctx, card, rendered.play, errors, refresh=lambda: refresh_play(ctx, card)),
    )
    video = build_video(ctx, card, rendered, thread, files, errors, started)
    await save(ctx, video, thread, visit_id=visit_id)
    videos_log.info("video %s: %s, %d segments, %d comments%s", card.vid, video.status,
                    len(video.segments), len(thread.comments) if thread else 0,
                    f" ({'; '.join(errors)})" if errors else "")
    return VideoOutcome(video.status)


def _with_thumb(ctx: VideoContext, card: CardInfo, play: PlayInfo) -> CardInfo:
    """A card from a list without thumbnails (a channel's) takes the play-info's ``logo``."""
    logo = play.extra.get("logo")
    if card.thumb_url or not isinstance(logo, str) or not logo:
        return card
    return card.model_copy(update={"thumb_url": ctx.site.profile.absolute(logo)})


# --- rendering ------------------------------------------------------------------------


async def render_video(ctx: VideoContext, card: CardInfo) -> Rendered:
    """Render the video page until its required fields and play-info are in."""
    profile = ctx.site.profile
    last: ScraperError | None = None
    capture = {
        "ups": api_matcher(profile.hosts["ups"], profile.ups_path, vid=card.vid,
                           vid_params=("vid",)),
        "comments": api_matcher(profile.hosts["comments"], profile.comments_path,
                                vid=card.vid, vid_params=("objectId",),
                                extra={"currentPage": "1"}),
    }
    async with ctx.tabs.tab() as tab:
        # A page that lacks a required field or a token may be a transient fault of one
        # response (the site drops the channel link now and then): render it again.
        for attempt in range(max(1, ctx.settings.render_attempts)):
            if attempt:
                ctx.stats.note(Count.RETRIES_PAGE)
            try:
                visit, html, extraction = await _load(ctx, tab, card.url, capture, attempt)
            except (PageLost, FetchError) as exc:
                last = exc
                log.info("re-rendering %s: %s", card.url, exc)
                continue
            comments = visit.captured.get("comments")
            if comments is not None:
                ctx.signs.offer(comment_sign_from_url(comments.url))
            ups = visit.captured.get("ups")
            try:
                play = _play_info(ctx, ups.body if ups else None)
            except TokenRejected as exc:
                last = exc
                ctx.stats.note(Count.RETRIES_TOKEN)
                await _warm_up(ctx, tab.visit)
                continue
            if extraction.missing:
                last = ExtractionError(
                    f"{card.url}: required fields missing with selectors {extraction.version}: "
                    + ", ".join(extraction.missing), missing=extraction.missing)
                continue
            ctx.stats.selectors_used(extraction.version, card.url,
                                     fallback=extraction.fallback)
            await ctx.evidence.offer(ctx.site.video[0], html, newest=not extraction.fallback,
                                     complete=True)
            return Rendered(url=card.url, fields=extraction.values, version=extraction.version,
                            play=play, comments_body=comments.body if comments else None,
                            cookies=await tab.cookies())
    raise last or BrowserError(f"cannot render {card.url}")


async def _load(
    ctx: VideoContext, tab: Tab, url: str, capture: Mapping[str, UrlMatcher], attempt: int
) -> tuple[Visit, str, Extraction]:
    """One render of the video page. ``PageLost`` (it crashed, hung or lost its browser:
    the tab opens a new page, on a relaunched Chromium if need be) and a server error
    are worth another attempt."""
    visit = await tab.visit(url, capture=capture)
    if visit.status == 404:
        raise VideoUnavailable("video page not found (404)")
    if visit.status is not None and visit.status >= 500:
        await _backoff(ctx, attempt)
        raise FetchError(f"{url} answered HTTP {visit.status}")
    html, extraction = await _read_fields(ctx, tab.html, visit.url)
    return visit, html, extraction


async def _backoff(ctx: VideoContext, attempt: int) -> None:
    settings = ctx.settings
    await asyncio.sleep(backoff_delay(attempt, base_s=settings.backoff_base_s,
                                      max_s=settings.backoff_max_s))


def _play_info(ctx: VideoContext, body: str | None) -> PlayInfo:
    if body is None:
        raise TokenRejected("the player made no play-info request")
    try:
        return parse_play_info(body, streams=ctx.settings.streams)
    except VideoUnavailable as exc:
        return PlayInfo(stream_type=None, unavailable=str(exc))
    except MalformedResponse as exc:
        raise TokenRejected(f"unreadable play-info reply: {exc}") from exc


async def _warm_up(ctx: VideoContext, visit: Any) -> None:
    """Visit catalogue page 1 so the tracker sets the `cna` cookie the API wants."""
    url = ctx.site.profile.catalogue_url(ctx.settings.category, 1)
    try:
        await visit(url)
    except BrowserError as exc:
        log.debug("warm-up visit failed: %s", exc)


async def _read_fields(ctx: VideoContext, read: Any, url: str) -> tuple[str, Extraction]:
    """Extract the video fields, polling briefly for late script-rendered nodes."""
    versions, scheme = ctx.site.video, ctx.site.profile.scheme
    for _ in range(_FIELD_POLLS):
        html = await read()
        extraction = await asyncio.to_thread(extract_page, html, versions,
                                             base_scheme=scheme, base_url=url)
        if not extraction.missing:
            break
        await asyncio.sleep(_FIELD_POLL_S)
    return html, extraction


async def refresh_play(ctx: VideoContext, card: CardInfo) -> PlayInfo:
    """Re-render the page for fresh segment URLs (after a 403 on an expired vkey)."""
    ctx.stats.note(Count.RETRIES_TOKEN)
    return (await render_video(ctx, card)).play


# --- comments -------------------------------------------------------------------------


async def fetch_comments(
    ctx: VideoContext, card: CardInfo, rendered: Rendered, errors: list[str]
) -> CommentThread | None:
    if ctx.settings.max_comments == 0:
        return None
    profile = ctx.site.profile
    settings = ctx.settings
    client = CommentClient(ctx.http, url=profile.comments_url,
                           app=profile.comment_app, page_size=profile.comment_page_size,
                           referer=card.url, retries=settings.retries,
                           backoff_base_s=settings.backoff_base_s,
                           backoff_max_s=settings.backoff_max_s)
    try:
        return await client.fetch_thread(
            card.vid, first_page=rendered.comments_body, signer=_signer(ctx, card),
            max_comments=ctx.settings.max_comments, cookies=rendered.cookies)
    except FATAL:
        raise
    except ScraperError as exc:
        ctx.stats.note(Count.COMMENTS_FAILED)
        errors.append(f"comments: {exc}")
        return None


def _signer(ctx: VideoContext, card: CardInfo) -> Any:
    calls = 0

    async def signer() -> tuple[str, str]:
        nonlocal calls
        calls += 1
        current = ctx.signs.current()
        if current is not None and calls > 1:
            ctx.signs.discard(current)
            current = None
        if current is None:
            await render_video(ctx, card)
            current = ctx.signs.current()
        if current is None:
            raise TokenRejected("the comment script made no signed request")
        return current.sign, current.time

    return signer


# --- the record -----------------------------------------------------------------------


def build_video(
    ctx: VideoContext, card: CardInfo, rendered: Rendered, thread: CommentThread | None,
    files: VideoFiles, errors: list[str], started: datetime,
) -> Video:
    fields, play = rendered.fields, rendered.play
    errors = errors + files.errors
    status = "unavailable" if play.unavailable else ("partial" if errors else "ok")
    return Video(
        # A video no catalogue listed (`monitor --track`) has no card title: the page's.
        vid=card.vid, url=card.url, title=card.title or fields.get("subtitle") or "",
        published=card.published,
        subtitle=fields.get("subtitle"),
        duration_s=card.duration_s if card.duration_s is not None else play.seconds,
        duration_text=card.duration_text,
        stat_play=_first(fields.get("stat_play"), card.stat_play),
        stat_play_text=_first(fields.get("stat_play_text"), card.stat_play_text),
        stat_cmt=card.stat_cmt,
        category=fields.get("category"), channel_name=fields.get("channel_name"),
        channel_link=fields.get("channel_link"), thumb_url=card.thumb_url,
        thumb_path=files.thumb_path, segments=list(files.segments),
        file_paths=[s.path for s in files.segments if s.status == "ok" and s.path],
        stream_type=play.stream_type, unavailable=play.unavailable,
        comment_num=thread.source_size if thread else None,
        comment_total=thread.total_size if thread else None,
        comment_hot=list(thread.hot_ids) if thread else [],
        status=status, lists=card.lists,
        crawl=CrawlInfo(first=started, last=started, errors=errors,
                        selectors={"video": rendered.version}, run_id=ctx.run.run_id,
                        worker=ctx.settings.worker_id),
    )


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


async def save(
    ctx: VideoContext, video: Video, thread: CommentThread | None, *, visit_id: str | None = None
) -> None:
    await ctx.store.save_video(video)
    if thread is not None and thread.comments:
        await ctx.store.save_comments(thread.comments)
        ctx.stats.note(Count.COMMENTS_STORED, n=len(thread.comments))
    snap = Snapshot(vid=video.vid, ts=video.crawl.last, stat_play=video.stat_play,
                    stat_play_text=video.stat_play_text, stat_cmt=video.stat_cmt,
                    comment_total=video.comment_total, run_id=ctx.run.run_id,
                    worker=ctx.settings.worker_id)
    await ctx.store.add_snapshot(snap, visit_id=visit_id or f"{video.vid}:{ctx.run.run_id}")

