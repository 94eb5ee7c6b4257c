"""`scrape monitor`: follow a category over time, each video at the pace of its tier.

A monitor job (``monitors``, one per site and category) says which tiers there are and
until when to follow. Its schedule (``schedule``) has one entry per video, plus one for
the catalogue; each entry's ``due`` is its next visit. Whoever visits (the monitor itself
or any ``scrape worker``) claims the most overdue entry with a lease, then:

1. ``visit`` – the catalogue entry re-reads the category and adds the videos it has not
   seen, due at once; a video not yet in ``videos`` gets the full ``process_video``; a
   known one only has its page rendered: the play count from the page, ``comment_total``
   from the comment page the page loads itself, new comments only when that total moved.
   Each video visit writes one snapshot, ``_id`` ``vid:due``, so a visit redone after a
   lost lease overwrites its own snapshot instead of adding one.
2. ``reschedule`` – the entry's tier follows its growth and age (``schedule.choose_tier``)
   and its next ``due`` is the tier's interval away, with jitter; the claim is freed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .comments import parse_comment_page
from .config import Settings
from .crawl import read_catalogue_page
from .errors import FetchError, ScraperError, StoreError
from .models import (
    CardInfo,
    Comment,
    MonitorJob,
    Observation,
    ScheduleEntry,
    Snapshot,
    Tier,
)
from .schedule import choose_tier, format_duration, next_due
from .site import Site
from .store import Store
from .video import Rendered, VideoContext, fetch_comments, process_video, render_video

__all__ = [
    "VisitResult",
    "new_job",
    "next_due_line",
    "open_job",
    "snapshot_id",
    "status_lines",
    "visit_and_reschedule",
]

log = logging.getLogger(__name__)

CATALOGUE = "catalogue"


@dataclass(frozen=True, slots=True)
class VisitResult:
    kind: Literal["catalogue", "first", "revisit", "failed"]
    observation: Observation | None = None
    error: str | None = None
    new_videos: int = 0
    new_comments: int = 0


# --- the job and its schedule ---------------------------------------------------------


def new_job(
    settings: Settings, site: Site, *, tiers: Sequence[Tier], now: datetime,
    until: datetime | None = None, tracked: Sequence[str] = (),
) -> MonitorJob:
    return MonitorJob(
        job=f"monitor:{site.profile.name}:{site.category.slug}", site=site.profile.name,
        category=settings.category, tiers=list(tiers), cold_after_s=settings.cold_after_s,
        jitter=settings.visit_jitter, catalogue_every_s=settings.catalogue_every_s,
        pages=settings.pages, max_videos=settings.max_videos,
        max_comments=settings.max_comments, no_media=settings.no_media,
        tracked=[vid.rstrip("=") for vid in tracked], started=now, until=until,
    )


async def open_job(store: Store, job: MonitorJob, site: Site, *, now: datetime) -> int:
    """Save the job and schedule its catalogue read and tracked videos (due now, unless
    already scheduled); returns how many were new. A restart applies the new flags but
    keeps when the job first started and every video tracked before."""
    known = await store.get_doc("monitors", job.job)
    if known is not None:
        kept = [vid for vid in known.get("tracked", []) if vid not in job.tracked]
        job = job.model_copy(update={"started": known["started"],
                                     "tracked": [*job.tracked, *kept]})
    await store.save_doc("monitors", job.job, job.model_dump())
    entries = await _entries(store, job.job)
    await retime(store, job, entries)
    catalogue = ScheduleEntry(id=f"{job.job}:{CATALOGUE}", job=job.job, kind="catalogue",
                              key=CATALOGUE, tier=CATALOGUE, due=now, first_seen=now)
    # The page has no title field: a tracked video the catalogue never lists keeps "".
    scheduled = {entry.key for entry in entries}
    tracked = [CardInfo(vid=vid, url=site.profile.video_url(vid), title="")
               for vid in job.tracked if vid not in scheduled]
    return await store.schedule_add([catalogue, *(video_entry(job, c, now) for c in tracked)])


async def retime(store: Store, job: MonitorJob, entries: Sequence[ScheduleEntry]) -> int:
    """Bring forward the visits the job's tiers now want sooner than planned (``--tiers``
    changed; ``all:0s`` makes everything due); returns how many moved."""
    moved = 0
    for entry in entries:
        tier = tier_named(job, entry.tier)
        last = entry.last_visit or entry.first_seen
        latest = last + timedelta(seconds=tier.interval_s * (1 + job.jitter) + 0.001)
        if entry.kind == "video" and entry.state == "pending" and (
                entry.due > latest or entry.tier != tier.name):
            due = min(entry.due, last + timedelta(seconds=tier.interval_s))
            moved += await store.schedule_move(entry.id, was=entry.due, due=due, tier=tier.name)
    return moved


def video_entry(job: MonitorJob, card: CardInfo, due: datetime) -> ScheduleEntry:
    return ScheduleEntry(id=f"{job.job}:video:{card.vid}", job=job.job, kind="video",
                         key=card.vid, card=card.model_dump(), tier=job.tiers[0].name,
                         due=due, first_seen=due)


def snapshot_id(entry: ScheduleEntry) -> str:
    """One snapshot per video and scheduled visit: ``vid:20261101T120000.123Z``."""
    due = entry.due.astimezone(UTC)
    return f"{entry.key}:{due:%Y%m%dT%H%M%S}.{due.microsecond // 1000:03d}Z"


# --- one visit ------------------------------------------------------------------------


async def visit_and_reschedule(
    ctx: VideoContext, job: MonitorJob, entry: ScheduleEntry, *, now: datetime
) -> VisitResult:
    """Visit a claimed entry, then give it its next ``due``; store failures abort."""
    result = await visit(ctx, job, entry, now=now)
    kept = await reschedule(ctx.store, job, entry, result, now=now,
                            worker=ctx.settings.worker_id)
    ctx.stats.note(f"visits.{result.kind}")
    ctx.stats.note("videos.new", n=result.new_videos)
    ctx.stats.note("comments.new", n=result.new_comments)
    if not kept:
        log.warning("%s %s: another worker took this visit over", entry.kind, entry.key)
    elif result.kind == "failed":
        log.warning("%s %s: visit failed: %s", entry.kind, entry.key, result.error)
    return result


async def visit(
    ctx: VideoContext, job: MonitorJob, entry: ScheduleEntry, *, now: datetime
) -> VisitResult:
    if entry.attempts > ctx.settings.retries:
        return VisitResult("failed", error=f"given up after {entry.attempts - 1} lost claims")
    try:
        if entry.kind == "catalogue":
            return VisitResult("catalogue", new_videos=await sync_catalogue(ctx, job, entry))
        card = CardInfo.model_validate(entry.card)
        if await ctx.store.get_video(card.vid) is None:
            return await first_visit(ctx, job, entry, card, now=now)
        return await revisit(ctx, job, entry, card, now=now)
    except StoreError:
        raise
    except ScraperError as exc:
        return VisitResult("failed", error=str(exc))


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
            if page == 1:
                raise
            log.warning("catalogue page %d unreadable (%s); keeping pages 1-%d", page, exc,
                        page - 1)
            break
        for card in found:
            cards.setdefault(card.vid, card)
        if job.max_videos is not None and len(cards) >= job.max_videos:
            break
        page += 1
    chosen = list(cards.values())[: job.max_videos]
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
                                            comment_total=video.comment_total),
                       new_comments=comments)


async def revisit(
    ctx: VideoContext, job: MonitorJob, entry: ScheduleEntry, card: CardInfo, *, now: datetime
) -> VisitResult:
    """Figures from the page as it is now; comments only if their total moved."""
    rendered = await render_video(ctx, card)
    total = comment_total_on_page(rendered, card.vid)
    last = (entry.observations[-1].comment_total if entry.observations
            else await _stored_total(ctx, card.vid))
    new = 0
    if ctx.settings.max_comments != 0 and (total is None or total != last):
        errors: list[str] = []
        thread = await fetch_comments(ctx, card, rendered, errors)
        if thread is not None:
            total = thread.total_size
            new = await save_new_comments(ctx.store, thread.comments)
        for error in errors:
            log.warning("video %s: %s", card.vid, error)
    play = _field(rendered, "stat_play", card.stat_play)
    await save_snapshot(ctx, job, entry, now=now, stat_play=play,
                        stat_play_text=_field(rendered, "stat_play_text", card.stat_play_text),
                        comment_total=total)
    return VisitResult("revisit", Observation(at=now, stat_play=play, comment_total=total),
                       new_comments=new)


async def _stored_total(ctx: VideoContext, vid: str) -> int | None:
    """The comment total the last full crawl stored: a first revisit after `scrape run`
    then fetches comments only if the site's total moved since."""
    video = await ctx.store.get_video(vid)
    return video.comment_total if video is not None else None


def _field(rendered: Rendered, name: str, fallback: Any) -> Any:
    value = rendered.fields.get(name)
    return fallback if value is None else value


def comment_total_on_page(rendered: Rendered, vid: str) -> int | None:
    """``totalSize`` of the comment page the video page loaded itself, if it did."""
    if rendered.comments_body is None:
        return None
    try:
        return parse_comment_page(rendered.comments_body, vid=vid).total_size
    except FetchError as exc:
        log.info("video %s: captured comment page unusable (%s)", vid, exc)
        return None


async def save_new_comments(store: Store, comments: Sequence[Comment]) -> int:
    """Upsert the comments that are new or changed (a new reply); returns how many."""
    if not comments:
        return 0
    stored = await store.find_docs("comments", {"vid": comments[0].vid})
    known = {doc["_id"]: Comment.model_validate(_fields(doc)) for doc in stored}
    fresh = [comment for comment in comments if known.get(comment.id) != comment]
    if fresh:
        await store.save_comments(fresh)
    return len(fresh)


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
        interval = tier_named(job, entry.tier).interval_s
        changes["due"] = next_due(interval, now, key=entry.id, jitter=job.jitter)
    else:
        observations = [*entry.observations, result.observation][-2:]
        tier = choose_tier(job.tiers, observations, cold_after_s=job.cold_after_s,
                           age_s=(now - entry.first_seen).total_seconds())
        changes |= {"tier": tier.name, "observations": [o.model_dump() for o in observations],
                    "due": next_due(tier.interval_s, now, key=entry.id, jitter=job.jitter)}
    return await store.schedule_finish(entry.id, worker=worker, due=entry.due, changes=changes)


def tier_named(job: MonitorJob, name: str) -> Tier:
    """The job's tier of that name; the hottest when the tiers were redefined since."""
    return next((tier for tier in job.tiers if tier.name == name), job.tiers[0])


# --- what is due: `scrape status` and the monitor's own log -----------------------------


async def next_due_line(store: Store, job: str, now: datetime) -> str:
    entries = await _entries(store, job)
    videos = [e for e in entries if e.kind == "video"]
    if not videos:
        return "no videos scheduled yet"
    first = min(videos, key=lambda e: e.due)
    soon = sum(e.due <= now + timedelta(hours=1) for e in videos)
    return (f"next: {first.key} ({first.tier}) {_when(first.due, now)}; {soon} of "
            f"{len(videos)} videos due within the hour")


async def status_lines(store: Store, now: datetime) -> list[str]:
    """Per monitor job and tier: videos, next due, failures of the last visit; then the
    runs whose frontier workers are still working through."""
    lines: list[str] = []
    for doc in await store.find_docs("monitors", {}):
        job = MonitorJob.model_validate(_fields(doc))
        lines += _job_lines(job, await _entries(store, job.job), now)
    for doc in await store.find_docs("runs", {"status": "running"}):
        counts = await store.frontier_counts(doc["_id"], kind="video")
        lines.append(f"run {doc['_id']} ({doc['job']}): running; videos " + ", ".join(
            f"{counts[state]} {state}" for state in ("pending", "claimed", "done", "failed")))
    return lines or [f"nothing scheduled in {store.description}"]


def _job_lines(job: MonitorJob, entries: list[ScheduleEntry], now: datetime) -> list[str]:
    until = f"until {_clock(job.until)}" if job.until else "no end set"
    state = "ended" if job.until is not None and job.until <= now else "active"
    lines = [f"monitor {job.category} ({job.site}), since {_clock(job.started)}, {until}: "
             f"{state}"]
    for entry in entries:
        if entry.kind == "catalogue":
            lines.append(f"  catalogue: next read {_when(entry.due, now)}; last read "
                         + (f"failed: {_short(entry.last_error)}" if entry.last_error else
                            "ok" if entry.last_visit else "not yet"))
    by_tier: dict[str, list[ScheduleEntry]] = {}
    for entry in entries:
        if entry.kind == "video":
            by_tier.setdefault(entry.tier, []).append(entry)
    names = [t.name for t in job.tiers] + sorted(set(by_tier) - {t.name for t in job.tiers})
    lines.append(f"  {'tier':<8} {'every':>6} {'videos':>6}  {'next due':<28} failed")
    for name in names:
        tier, group = tier_named(job, name), by_tier.get(name, [])
        every = format_duration(tier.interval_s) if tier.name == name else "?"
        nxt = _when(min(e.due for e in group), now) if group else "-"
        failed = [e for e in group if e.last_error]
        why = f" (e.g. {failed[0].key}: {_short(failed[0].last_error)})" if failed else ""
        lines.append(f"  {name:<8} {every:>6} {len(group):>6}  {nxt:<28} {len(failed)}{why}")
    busy = sum(entry.state == "claimed" for entry in entries)
    if busy:
        lines.append(f"  being visited now: {busy}")
    return lines


async def _entries(store: Store, job: str) -> list[ScheduleEntry]:
    docs = await store.find_docs("schedule", {"job": job})
    return [ScheduleEntry.model_validate(_fields(doc)) for doc in docs]


def _fields(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "_id"}


def _clock(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _when(due: datetime, now: datetime) -> str:
    late = (now - due).total_seconds()
    if late >= 0:
        return f"now (due {_rounded(late)} ago)" if late >= 1 else "now"
    return f"in {_rounded(-late)} ({due.astimezone(UTC):%H:%M} UTC)"


def _rounded(seconds: float) -> str:
    return format_duration(seconds if seconds < 60 else round(seconds / 60) * 60)


def _short(text: str | None, limit: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
