"""The main flow of ``scrape run``, top to bottom.

1. ``run_crawl`` opens the store, the HTTP client and Chromium, and starts or resumes
   the run for (site, lists): an unfinished run's frontier is picked up where it
   stopped; a finished one is followed by a new run. The lists are categories and
   channels (``lists.crawl_lists``); page 1 of each seeds the frontier.
2. ``crawl_catalogue`` renders list pages (a channel's head first: the channel and a
   snapshot are stored), following 下一页, and adds one frontier item per new video (in
   list order) plus the next page. A video already queued by another list is not queued
   again: the list is added to its ``lists`` (``note_lists``).
3. ``video_worker`` tasks claim video items and hand each to ``video.process_video``
   (render, extract, play-info, comments, files, store), overlapping browser work
   with downloads and store writes; lists a video was seen in meanwhile are added.
4. The run record gets its counters; the caller prints the summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from ..browser.early import EarlyLaunch
from ..config import Settings
from ..crawl.catalogue import read_catalogue_page
from ..crawl.channel import read_channel_videos, visit_channel
from ..crawl.context import VideoContext
from ..crawl.media import prepare_media_dir
from ..crawl.resources import open_resources
from ..crawl.video import process_video
from ..errors import (
    FATAL,
    ScraperError,
    SelectorDrift,
    SiteUnreachable,
    UnknownChannel,
    first_error,
)
from ..models import CardInfo, FrontierItem, RunRecord
from ..progress import CATALOGUE_FAILED, Count, Reporter, Stats, video_key
from ..site.load import Site, load_site
from ..site.video_ref import vid_of
from ..store.base import Store
from .feed import Feed
from .lists import CrawlList, crawl_lists, job_lists, lists_label
from .outcome import Outcome, utc_now

__all__ = ["CrawlOutcome", "lists_seen_meanwhile", "run_crawl"]

log = logging.getLogger(__name__)

_CLAIM_IDLE_S = 0.2
_RETRY_ROUND = "retry_round"  # run option: this run already had its failed items retried


@dataclass(frozen=True, slots=True)
class CrawlOutcome:
    run: RunRecord
    stats: Stats
    elapsed_s: float
    store: str
    media_dir: str | None
    # The whole run's videos by frontier state, when earlier invocations crawled some.
    whole_run: dict[str, int] | None = None


async def run_crawl(
    settings: Settings, *, reporter: Reporter | None = None, store: Store | None = None,
    early: EarlyLaunch | None = None,
) -> CrawlOutcome:
    """Crawl one category into the store; resumes an unfinished run of the same job.

    ``store`` replaces ``settings.store`` with an already built store (tests pass a
    MongoStore on an in-memory MongoDB client through it); ``early`` is the Chromium
    the command started launching before it imported this module (the caller closes it
    if the run never gets to it).
    """
    site = load_site(settings)
    # Refuse a bad media directory or --video before Chromium starts.
    media = None if settings.no_media else prepare_media_dir(settings.media_dir)
    _chosen(site, settings)
    stats = reporter.stats if reporter else Stats()
    started = time.monotonic()
    async with open_resources(settings, store=store, stats=stats, early=early,
                              blocked_hosts=site.profile.media_hosts) as session:
        run = await begin_run(session.store, site, settings)
        ctx = session.context(run, settings, site=site, media_dir=media)
        earlier = _finished(await session.store.frontier_counts(run.run_id, kind="video"))
        status = "failed"
        try:
            await crawl_job(ctx, reporter)
            status = await final_status(session.store, run)
        except FATAL:
            status = "interrupted"  # a full disk, a dying Chromium: resumable as Ctrl-C is
            raise
        except asyncio.CancelledError:
            status = "interrupted"
            raise
        finally:
            await asyncio.shield(end_run(session.store, run, stats, status))
        whole = await session.store.frontier_counts(run.run_id, kind="video")
    return CrawlOutcome(run=run, stats=stats, elapsed_s=time.monotonic() - started,
                        store=session.store.description,
                        media_dir=str(ctx.media_dir) if ctx.media_dir else None,
                        whole_run=whole if earlier else None)


def _finished(counts: dict[str, int]) -> int:
    return counts["done"] + counts["failed"]


# --- the run record and its frontier ------------------------------------------------


def job_key(site: Site, settings: Settings) -> str:
    if settings.videos:
        return f"{site.profile.name}:videos:{','.join(sorted(set(_chosen(site, settings))))}"
    return f"{site.profile.name}:{job_lists(site, crawl_lists(site, settings))}"


def _chosen(site: Site, settings: Settings) -> list[str]:
    """The vids of ``--video``, in the order given, each once."""
    return list(dict.fromkeys(vid_of(ref, site.profile) for ref in settings.videos))


async def begin_run(store: Store, site: Site, settings: Settings) -> RunRecord:
    """Resume the job's unfinished run, or start a new one seeded with catalogue page 1
    (with ``--video``: with exactly those videos).

    An ``incomplete`` run (done, with failed videos) is resumed once more: its failed
    videos are retried before any new crawl, and it ends ``finished`` whatever they do.
    """
    job = job_key(site, settings)
    latest = await store.latest_run(job)
    now = datetime.now(UTC)
    if latest is not None and latest.status in ("running", "interrupted", "incomplete"):
        log.info("resuming run %s of %s", latest.run_id, job)
        await store.frontier_release_claimed(latest.run_id)
        retried = await store.frontier_retry_failed(latest.run_id)
        options = latest.options
        if latest.status == "incomplete":
            log.warning("retrying the %d failed items of run %s", retried, latest.run_id)
            options = {**options, _RETRY_ROUND: True}
        run = latest.model_copy(update={"status": "running", "options": options})
        await store.update_run(run)
        return run
    lists = crawl_lists(site, settings)
    run = RunRecord(run_id=f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}", job=job,
                    site=site.profile.name, category=lists_label(lists), started=now,
                    options=_run_options(settings))
    await store.start_run(run)
    if settings.videos:  # exactly these videos: no catalogue
        await store.frontier_add([video_item(run, CardInfo(
            vid=vid, url=site.profile.video_url(vid), title=""), order)
            for order, vid in enumerate(_chosen(site, settings))])
        return run
    await store.frontier_add([catalogue_item(run, page=1, url=item.url(site.profile), of=item)
                              for item in lists])
    return run


def _run_options(settings: Settings) -> dict[str, object]:
    return {"pages": settings.pages, "max_videos": settings.max_videos,
            "no_media": settings.no_media, "max_comments": settings.max_comments,
            "videos": list(settings.videos)}


async def final_status(store: Store, run: RunRecord) -> str:
    """``incomplete`` when videos failed (once per run: its retry round ends ``finished``)."""
    failed = (await store.frontier_counts(run.run_id, kind="video"))["failed"]
    return "incomplete" if failed and not run.options.get(_RETRY_ROUND) else "finished"


async def end_run(store: Store, run: RunRecord, stats: Stats, status: str) -> None:
    final = run.model_copy(update={
        "status": status, "counters": dict(stats),
        "finished": datetime.now(UTC) if status in ("finished", "incomplete") else None,
    })
    with contextlib.suppress(ScraperError):
        await store.update_run(final)


def catalogue_item(run: RunRecord, *, page: int, url: str, of: CrawlList) -> FrontierItem:
    """A page of one list (a category's catalogue, a channel's video list)."""
    payload = {"page": page, "url": url, "list": of.kind, "key": of.key}
    return FrontierItem(id=f"{run.run_id}:catalogue:{of.name}:{page}", job=run.run_id,
                        kind="catalogue", key=str(page), payload=payload, priority=10)


def _list_of(ctx: VideoContext, item: FrontierItem) -> CrawlList:
    """The list a page item belongs to (a run from before lists: its category)."""
    payload = item.payload
    if "list" not in payload:
        return CrawlList("category", ctx.settings.category)
    return CrawlList(payload["list"], payload["key"])


def video_item(run: RunRecord, card: CardInfo, order: int) -> FrontierItem:
    return FrontierItem(id=f"{run.run_id}:video:{card.vid}", job=run.run_id, kind="video",
                        key=card.vid, payload={"card": card.model_dump(), "order": order})


# --- the job: catalogue producer and video workers ----------------------------------


async def crawl_job(ctx: VideoContext, reporter: Reporter | None) -> None:
    feed = Feed()
    with reporter.running() if reporter else contextlib.nullcontext():
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(_catalogue_then_signal(ctx, feed, reporter))
                for _ in range(max(1, ctx.settings.concurrency * 2)):
                    tg.create_task(video_worker(ctx, feed, reporter))
        except BaseExceptionGroup as group:
            # Surface the first of our errors as itself, so the CLI can word it in one line.
            raise first_error(group) from None



async def _catalogue_then_signal(
    ctx: VideoContext, feed: Feed, reporter: Reporter | None
) -> None:
    try:
        await crawl_catalogue(ctx, reporter, feed=feed)
    finally:
        feed.finish()


async def crawl_catalogue(
    ctx: VideoContext, reporter: Reporter | None, *, feed: Feed | None = None
) -> None:
    """Render list pages one after another, feeding the frontier (and ``feed``'s idle
    workers)."""
    counts = await ctx.store.frontier_counts(ctx.run.run_id, kind="video")
    queued = sum(counts.values())
    if reporter:  # a resume counts on from what earlier invocations finished
        reporter.before = _finished(counts)
        unread = await ctx.store.frontier_counts(ctx.run.run_id, kind="catalogue")
        if not unread["pending"] + unread["claimed"]:  # read before, or --video: no catalogue
            reporter.total = queued
            reporter.update()
    async for item in claimed(ctx, "catalogue", stop_when_empty=True):
        page, of = int(item.payload["page"]), _list_of(ctx, item)
        try:
            cards, next_url = await read_list_page(ctx, of, item.payload["url"], page=page)
        except FATAL:
            raise
        except ScraperError as exc:
            await ctx.store.frontier_finish(item.id, state="failed", error=str(exc))
            # A channel's head is read on its page 1 only: an unknown uid or a head no
            # selector reads any more ends the run, whatever the other lists gave.
            if isinstance(exc, UnknownChannel) or (
                    of.kind == "channel" and page == 1 and isinstance(exc, SelectorDrift)):
                raise
            if page == 1 and queued == 0:
                if isinstance(exc, SelectorDrift):
                    raise
                raise SiteUnreachable(f"cannot load the catalogue: {exc}") from exc
            ctx.stats.note(CATALOGUE_FAILED, item.payload["url"])
            continue
        queued = await enqueue_cards(ctx, cards, queued)
        if feed is not None:
            feed.tell()
        more = ctx.settings.pages is None or page < ctx.settings.pages
        limit = ctx.settings.max_videos
        if next_url and more and (limit is None or queued < limit):
            await ctx.store.frontier_add([catalogue_item(ctx.run, page=page + 1, url=next_url,
                                                         of=of)])
        await ctx.store.frontier_finish(item.id, state="done")
        ctx.stats.note(Count.CATALOGUE_PAGES)
        if reporter:  # the total is known once the last page of every list is read
            left = await ctx.store.frontier_counts(ctx.run.run_id, kind="catalogue")
            reporter.total = queued if not left["pending"] + left["claimed"] else None
            reporter.update()


async def read_list_page(
    ctx: VideoContext, of: CrawlList, url: str, *, page: int
) -> tuple[list[CardInfo], str | None]:
    """One page of a list, its cards recording the list; a channel's page 1 first
    stores the channel and a snapshot of its figures."""
    if of.kind == "category":
        cards, next_url = await read_catalogue_page(ctx, url, page=page)
        return [card.model_copy(update={"lists": [of.name]}) for card in cards], next_url
    empty_ok = False
    if page == 1:
        channel = await visit_channel(ctx, of.key, now=utc_now())
        empty_ok = channel.videos == 0
    found = await read_channel_videos(ctx, of.key, url, page=page, empty_ok=empty_ok)
    return found.cards, found.next_url


async def enqueue_cards(ctx: VideoContext, cards: list[CardInfo], queued: int) -> int:
    limit = ctx.settings.max_videos
    if limit is not None:
        cards = cards[: max(0, limit - queued)]
    items = [video_item(ctx.run, card, queued + i) for i, card in enumerate(cards)]
    added = await ctx.store.frontier_add(items) if items else 0
    if added < len(items):
        ctx.stats.note(Count.CATALOGUE_DUPLICATES, n=len(items) - added)
        await note_lists(ctx, items)
    return queued + added


async def note_lists(ctx: VideoContext, items: list[FrontierItem]) -> None:
    """Add each item's lists to the one already queued (or done) for its video, and to the
    stored video, with the publication day a channel list shows where they have none;
    ``video_worker`` adds what a video was seen with while it was crawled."""
    for item in items:
        card = item.payload["card"]
        await ctx.store.add_lists("frontier", item.id, "payload.card.lists", card["lists"])
        await ctx.store.add_lists("videos", item.key, "lists", card["lists"])
        if card.get("published"):
            await ctx.store.fill_missing("frontier", item.id, "payload.card.published",
                                         card["published"])
            await ctx.store.fill_missing("videos", item.key, "published", card["published"])


async def video_worker(ctx: VideoContext, feed: Feed, reporter: Reporter | None) -> None:
    async for item in claimed(ctx, "video", feed=feed):
        try:
            outcome = await process_video(ctx, CardInfo(**item.payload["card"]))
        except BaseException:
            await asyncio.shield(ctx.store.frontier_release(item.id))
            raise
        ctx.stats.note(video_key(outcome.status))
        await lists_seen_meanwhile(ctx, item)
        await ctx.store.frontier_finish(
            item.id, state="failed" if outcome.status == "failed" else "done",
            error=outcome.error)
        if reporter:
            reporter.update()


async def lists_seen_meanwhile(ctx: VideoContext, item: FrontierItem) -> None:
    """Add to the crawled video the lists (and publication day) other list pages added to
    its item meanwhile."""
    doc = await ctx.store.get_doc("frontier", item.id)
    card = (doc or {}).get("payload", {}).get("card", {})
    lists = card.get("lists") or []
    if set(lists) - set(item.payload["card"].get("lists") or []):
        await ctx.store.add_lists("videos", item.key, "lists", lists)
    if card.get("published") and not item.payload["card"].get("published"):
        await ctx.store.fill_missing("videos", item.key, "published", card["published"])


async def claimed(
    ctx: VideoContext, kind: str, *, stop_when_empty: bool = False, feed: Feed | None = None,
) -> AsyncIterator[FrontierItem]:
    """Claim items of one kind until none is left (and, with ``feed``, it is done)."""
    while True:
        finished = feed.done if feed is not None else stop_when_empty
        ticket = feed.ticket() if feed is not None else None
        items = await ctx.store.frontier_claim(
            ctx.run.run_id, worker=ctx.settings.worker_id, lease_s=ctx.settings.lease_s,
            kind=kind)
        if items:
            for item in items:
                yield item
        elif finished:
            return
        elif ticket is not None:
            await Feed.wait(ticket, _CLAIM_IDLE_S)
        else:
            await asyncio.sleep(_CLAIM_IDLE_S)


# --- --enqueue-only: the catalogue now, the videos by workers ---------------------------

async def enqueue_run(settings: Settings, *, store: Store | None = None) -> Outcome:
    """`scrape run --enqueue-only`: read the catalogue into the run's frontier and leave
    the videos to workers (the run stays ``running`` until they are done)."""
    started, site = time.monotonic(), load_site(settings)
    async with open_resources(
            settings, store=store, blocked_hosts=site.profile.media_hosts) as session:
        run = await begin_run(session.store, site, settings)
        ctx = session.context(run, settings, site=site)
        try:
            await crawl_catalogue(ctx, None)
        except BaseException:
            await asyncio.shield(end_run(session.store, run, session.stats, "failed"))
            raise
        await finish_run_if_drained(session.store, run)
        counts = await session.store.frontier_counts(run.run_id, kind="video")
        detail = f"run {run.run_id}: {counts['pending']} videos queued for workers"
        return Outcome(session.stats, time.monotonic() - started, session.store.description,
                       detail)

async def finish_run_if_drained(store: Store, run: RunRecord) -> bool:
    """Mark the run finished once no item of its frontier is pending or claimed."""
    counts = await store.frontier_counts(run.run_id)
    if counts["pending"] or counts["claimed"]:
        return False
    videos = await store.frontier_counts(run.run_id, kind="video")
    await store.update_run(run.model_copy(update={
        "status": "finished", "finished": utc_now(),
        "counters": {"videos.done": videos["done"], Count.VIDEOS_FAILED: videos["failed"]}}))
    return True
