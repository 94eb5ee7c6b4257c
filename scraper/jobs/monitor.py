"""`scrape monitor`: follow a category over time, each video at the pace of its tier.

A monitor job (``monitors``, one per site and category; ``monitor_job``) says which
tiers there are and until when to follow. Its schedule (``schedule``) has one entry per
video, plus one for the catalogue; each entry's ``due`` is its next visit. Whoever visits
(the monitor itself or any ``scrape worker``) claims the most overdue entry with a lease,
then:

1. ``visit`` – the catalogue entry re-reads the category and adds the videos it has not
   seen, due at once; a channel entry snapshots the channel and adds its new videos
   (``monitor_channels``); a video not yet in ``videos`` gets the full ``process_video``; a
   known one only has its page rendered: the play count from the page, ``comment_total``
   from the comment page the page loads itself, new comments only when that total moved;
   the video in ``videos`` takes those figures (``crawl.revisit``).
   Each video visit writes one snapshot, ``_id`` ``vid:due``, so a visit redone after a
   lost lease overwrites its own snapshot instead of adding one.
2. ``reschedule`` – the entry keeps its last observations (``tiers.keep_observations``),
   its tier follows their growth and its age (``tiers.choose_tier``: hotter at once, colder
   only after consistent estimates; a channel's growth is in followers, on the job's
   channel tiers, and it never ages), its next ``due`` is the tier's interval away, with
   jitter; a tier move is counted on the entry (for `scrape status`); the claim is freed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from ..config import Settings
from ..crawl.catalogue import read_catalogue_page
from ..crawl.context import VideoContext
from ..crawl.resources import Resources, open_resources
from ..crawl.revisit import revisit_video
from ..crawl.video import process_video
from ..errors import FATAL, ScraperError, SelectorDrift
from ..models import (
    CardInfo,
    MonitorJob,
    Observation,
    RunRecord,
    ScheduleEntry,
    Snapshot,
    Tier,
)
from ..progress import CATALOGUE_FAILED, Count, Stats, drift_key, visit_key
from ..site.load import load_site
from ..store.base import Store
from ..store.documents import from_doc
from ..store.target import open_store
from .leases import Claim, Claimer, claim_or_give_back, serve
from .lists import crawl_lists
from .monitor_channels import sync_channel, visit_id
from .monitor_job import new_job, open_job, tiers_of, video_entry
from .outcome import Clock, Outcome, utc_now
from .status import next_due_line
from .tiers import choose_tier, keep_observations, next_due, parse_tiers, tier_named

__all__ = [
    "VisitResult",
    "active_jobs",
    "monitor_claimer",
    "run_monitor",
    "snapshot_id",
    "visit_and_reschedule",
]

_ANNOUNCE_EVERY_S = 60.0

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VisitResult:
    kind: Literal["catalogue", "channel", "first", "revisit", "failed"]
    observation: Observation | None = None
    error: str | None = None
    new_videos: int = 0
    new_comments: int = 0
    cause: str | None = None  # the error's class, when it failed


# --- the schedule ------------------------------------------------------------------


def snapshot_id(entry: ScheduleEntry) -> str:
    """One snapshot per video and scheduled visit: ``vid:20261101T120000.123Z``."""
    return visit_id(entry)


# --- one visit ------------------------------------------------------------------------


async def visit_and_reschedule(
    ctx: VideoContext, job: MonitorJob, entry: ScheduleEntry, *, now: datetime
) -> VisitResult:
    """Visit a claimed entry, then give it its next ``due``; store failures abort."""
    result = await visit(ctx, job, entry, now=now)
    kept = await reschedule(ctx.store, job, entry, result, now=now,
                            worker=ctx.settings.worker_id)
    ctx.stats.note(visit_key(result.kind))
    ctx.stats.note(Count.VIDEOS_NEW, n=result.new_videos)
    ctx.stats.note(Count.COMMENTS_NEW, n=result.new_comments)
    if not kept:
        log.warning("%s %s: another worker took this visit over", entry.kind, entry.key)
    elif result.kind == "failed":
        log.warning("%s %s: visit failed: %s", entry.kind, entry.key, result.error)
        if entry.kind == "catalogue":  # the exit code tells drift from an unreachable site
            drifted = result.cause == SelectorDrift.__name__
            ctx.stats.note(drift_key("catalogue") if drifted else CATALOGUE_FAILED, result.error)
    return result


async def visit(
    ctx: VideoContext, job: MonitorJob, entry: ScheduleEntry, *, now: datetime
) -> VisitResult:
    if entry.attempts > ctx.settings.retries:
        return VisitResult("failed", error=f"given up after {entry.attempts - 1} lost claims")
    try:
        if entry.kind == "catalogue":
            return VisitResult("catalogue", new_videos=await sync_catalogue(ctx, job, entry))
        if entry.kind == "channel":
            seen = await sync_channel(ctx, job, entry, now=now)
            return VisitResult("channel", seen.observation, new_videos=seen.new_videos)
        card = CardInfo.model_validate(entry.card)
        if await ctx.store.get_video(card.vid) is None:
            return await first_visit(ctx, job, entry, card, now=now)
        return await revisit(ctx, job, entry, card, now=now)
    except FATAL:
        raise
    except ScraperError as exc:
        return VisitResult("failed", error=str(exc), cause=type(exc).__name__)


async def sync_catalogue(ctx: VideoContext, job: MonitorJob, entry: ScheduleEntry) -> int:
    """Read the category's pages and schedule the videos not seen before (due as of this
    read, so a ``--once`` round visits them too); returns how many were new."""
    url: str | None = ctx.site.profile.catalogue_url(job.category, 1)
    cards: dict[str, CardInfo] = {}
    page = 1
    while url and (job.pages is None or page <= job.pages):
        try:
            found, url = await read_catalogue_page(ctx, url, page=page)
        except ScraperError as exc:
            if page == 1 or isinstance(exc, FATAL):
                raise
            log.warning("catalogue page %d unreadable (%s); keeping pages 1-%d", page, exc,
                        page - 1)
            break
        for card in found:
            cards.setdefault(card.vid, card)
        if job.max_videos is not None and len(cards) >= job.max_videos:
            break
        page += 1
    chosen = [card.model_copy(update={"lists": [f"category:{job.category}"]})
              for card in list(cards.values())[: job.max_videos]]
    return await ctx.store.schedule_add([video_entry(job, card, entry.due) for card in chosen])


async def first_visit(
    ctx: VideoContext, job: MonitorJob, entry: ScheduleEntry, card: CardInfo, *, now: datetime
) -> VisitResult:
    """The full crawl (static fields, files, every comment) of a video new to the store."""
    outcome = await process_video(ctx, card, visit_id=snapshot_id(entry))
    video = await ctx.store.get_video(card.vid)
    if outcome.status == "failed" or video is None:
        return VisitResult("failed", error=outcome.error)
    # Rewritten so that every snapshot of the series carries the schedule's time and tier.
    await save_snapshot(ctx, job, entry, now=now, stat_play=video.stat_play,
                        stat_play_text=video.stat_play_text, comment_total=video.comment_total)
    comments = await ctx.store.count("comments", {"vid": card.vid})
    return VisitResult("first", Observation(at=now, stat_play=video.stat_play,
                                            stat_play_text=video.stat_play_text,
                                            comment_total=video.comment_total),
                       new_comments=comments)


async def revisit(
    ctx: VideoContext, job: MonitorJob, entry: ScheduleEntry, card: CardInfo, *, now: datetime
) -> VisitResult:
    """Figures from the page as it is now, kept as the visit's snapshot and as the
    video's latest figures."""
    last = entry.observations[-1].comment_total if entry.observations else None
    seen = await revisit_video(ctx, card, last_total=last)
    await ctx.store.add_lists("videos", card.vid, "lists", card.lists)
    await save_snapshot(ctx, job, entry, now=now, stat_play=seen.stat_play,
                        stat_play_text=seen.stat_play_text, comment_total=seen.comment_total)
    return VisitResult("revisit", Observation(at=now, stat_play=seen.stat_play,
                                              stat_play_text=seen.stat_play_text,
                                              comment_total=seen.comment_total),
                       new_comments=seen.new_comments)


async def save_snapshot(
    ctx: VideoContext, job: MonitorJob, entry: ScheduleEntry, *, now: datetime,
    stat_play: int | None, stat_play_text: str | None, comment_total: int | None,
) -> None:
    card = CardInfo.model_validate(entry.card)
    snap = Snapshot(vid=entry.key, ts=now, stat_play=stat_play, stat_play_text=stat_play_text,
                    stat_cmt=card.stat_cmt, comment_total=comment_total, run_id=job.job,
                    worker=ctx.settings.worker_id, tier=entry.tier)
    await ctx.store.add_snapshot(snap, visit_id=snapshot_id(entry))


async def reschedule(
    store: Store, job: MonitorJob, entry: ScheduleEntry, result: VisitResult, *,
    now: datetime, worker: str,
) -> bool:
    """Free the entry with its next ``due``; False if another worker took the visit over."""
    changes: dict[str, Any] = {"last_visit": now, "last_worker": worker,
                               "last_error": result.error if result.kind == "failed" else None}
    if entry.kind == "catalogue":
        changes["due"] = next_due(job.catalogue_every_s, now, key=entry.id, jitter=0.0)
    elif result.observation is None:
        interval = tier_named(tiers_of(job, entry.kind), entry.tier).interval_s
        changes["due"] = next_due(interval, now, key=entry.id, jitter=job.jitter)
    else:
        tiers = tiers_of(job, entry.kind)
        observations = keep_observations(entry.observations, result.observation)
        # A channel is followed as long as the job: it never ages into the coldest tier.
        cold_after_s = float("inf") if entry.kind == "channel" else job.cold_after_s
        choice = choose_tier(tiers, observations, current=entry.tier,
                             cooling=entry.cooling, cold_after_s=cold_after_s,
                             age_s=(now - entry.first_seen).total_seconds())
        changes |= {"tier": choice.tier.name, "cooling": choice.cooling,
                    "observations": [o.model_dump() for o in observations],
                    "due": next_due(choice.tier.interval_s, now, key=entry.id,
                                    jitter=job.jitter),
                    **_move(tiers, entry, choice.tier)}
    return await store.schedule_finish(entry.id, worker=worker, due=entry.due, changes=changes)


def _move(tiers: Sequence[Tier], entry: ScheduleEntry, tier: Tier) -> dict[str, int]:
    """The entry's move counter to bump when its tier changed (hotter or colder)."""
    names = [t.name for t in tiers]
    if tier.name == entry.tier or entry.tier not in names:  # not a move: tiers redefined
        return {}
    if names.index(tier.name) < names.index(entry.tier):
        return {"moved_hotter": entry.moved_hotter + 1}
    return {"moved_colder": entry.moved_colder + 1}


# --- the jobs in the store ----------------------------------------------------------------

async def active_jobs(store: Store, now: datetime) -> list[MonitorJob]:
    """The monitor jobs whose ``--for`` has not run out."""
    docs = await store.find_docs("monitors", {})
    jobs = [from_doc(MonitorJob, doc) for doc in docs]
    return [job for job in jobs if job.until is None or job.until > now]

def job_settings(base: Settings, job: MonitorJob) -> Settings:
    """The worker's settings, with what the job fixed (site, category, limits)."""
    return replace(base, site=job.site, category=job.category, pages=job.pages,
                   max_videos=job.max_videos, max_comments=job.max_comments,
                   no_media=job.no_media)

def job_run(job: MonitorJob) -> RunRecord:
    """What the video stages record as the run of a monitor visit: the job itself."""
    return RunRecord(run_id=job.job, job=job.job, site=job.site, category=job.category,
                     started=job.started)


# --- the command and its claimer ------------------------------------------------------

def monitor_claimer(
    session: Resources, job: MonitorJob, *, clock: Clock, horizon: datetime | None
) -> Claimer:
    """Due visits of a monitor job (with ``horizon``: due by then, for ``--once``)."""
    ctx = session.context(job_run(job), job_settings(session.settings, job))
    me, lease_s = session.settings.worker_id, session.settings.lease_s
    store = session.store

    async def claim() -> Claim | None:
        now = clock()
        if job.until is not None and now >= job.until:
            return None
        due_by = now if horizon is None else min(now, horizon)
        entries = await claim_or_give_back(
            store.schedule_claim(job.job, due_by=due_by, worker=me, lease_s=lease_s),
            lambda entry: store.schedule_release(entry.id, worker=me))
        if not entries:
            return None
        entry = entries[0]
        return Claim(
            label=f"{entry.kind} {entry.key}",
            work=lambda: visit_and_reschedule(ctx, job, entry, now=clock()),
            renew=lambda: store.schedule_renew(entry.id, worker=me, lease_s=lease_s),
            release=lambda: store.schedule_release(entry.id, worker=me))

    return claim

async def run_monitor(
    settings: Settings, *, tiers: Sequence[Tier], channel_tiers: Sequence[Tier] = (),
    duration_s: float | None = None,
    tracked: Sequence[str] = (), once: bool = False, enqueue_only: bool = False,
    given: Collection[str] | None = None, store: Store | None = None,
    session: Resources | None = None, clock: Clock = utc_now,
) -> Outcome:
    """`scrape monitor`: (re)start the job, then visit what is due until ``duration_s``
    runs out, Ctrl-C or, ``once``, nothing due is left.

    ``given``: the job's fields the command set (``monitor_job.JOB_FLAGS``); on a restart
    the others keep their stored values (None: every field is the command's).
    ``session`` (already open, left open) lets rounds in one process share one Chromium.
    """
    started, now, site = time.monotonic(), clock(), load_site(settings)
    until = now + timedelta(seconds=duration_s) if duration_s is not None else None
    channels = [item.key for item in crawl_lists(site, settings) if item.kind == "channel"]
    job = new_job(settings, site, tiers=tiers, now=now, until=until, tracked=tracked,
                  channels=channels, channel_tiers=channel_tiers or parse_tiers(
                      settings.channel_tiers, default_rates=settings.channel_rates))
    if enqueue_only:
        async with store or open_store(settings.store) as opened:
            await open_job(opened, job, site, now=now, given=given)
            line = await next_due_line(opened, job.job, now)
            return Outcome(Stats(), time.monotonic() - started, opened.description, line)
    opening = nullcontext(session) if session else open_resources(
        settings, store=store, blocked_hosts=site.profile.media_hosts)
    async with opening as session:
        before = Stats()
        before.update(session.stats)
        job = (await open_job(session.store, job, site, now=now, given=given)).job
        claimer = monitor_claimer(session, job, clock=clock, horizon=now if once else None)
        end = job.until
        await serve(lambda: _constant([claimer]), lanes=settings.concurrency, once=once,
                    lease_s=settings.lease_s, idle_s=settings.idle_poll_s,
                    stop=lambda: end is not None and clock() >= end,
                    on_idle=_announcer(session.store, job.job, clock))
        line = await next_due_line(session.store, job.job, clock())
        stats = Stats()
        stats.update(session.stats - before)  # this call's own, when a session is shared
        stats.examples.update(session.stats.examples)
        return Outcome(stats, time.monotonic() - started, session.store.description, line)

async def _constant(claimers: list[Claimer]) -> Sequence[Claimer]:
    return claimers

def _announcer(store: Store, job: str, clock: Clock) -> Callable[[], Awaitable[None]]:
    """Log what is due next while idle, once a minute at most."""
    last = float("-inf")

    async def announce() -> None:
        nonlocal last
        if time.monotonic() - last >= _ANNOUNCE_EVERY_S:
            last = time.monotonic()
            log.info("%s", await next_due_line(store, job, clock()))

    return announce
