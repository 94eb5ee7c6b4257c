"""Workers: claim work from the store, do it, hold the lease while at it.

`scrape worker` serves every job the store holds: the due visits of `scrape monitor`
jobs, then the video items of running `scrape run`s (`scrape run --enqueue-only` reads
the catalogue and leaves the videos to workers). `scrape monitor` is the same loop
serving its one job. Any number of workers share a MongoDB store; the directory store
takes one process at a time.

1. ``open_session`` opens the store, the HTTP client and Chromium once; each job gets
   its own ``VideoContext`` (its site, category and limits) over them.
2. ``JobClaimers`` lists the jobs (monitor jobs whose ``--for`` is not over, runs still
   ``running``) and gives one claimer each: an atomic claim with a lease.
3. ``lanes.serve`` claims and works, renewing leases, until Ctrl-C, the monitor's
   ``--for``, or with ``--once`` nothing left that was due when it started. A worker that
   dies keeps its leases only until they lapse; another then redoes the work, and the
   visit's snapshot id makes the redone visit overwrite, not add.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from .config import Settings
from .crawl import begin_run, crawl_catalogue, end_run
from .errors import ScraperError, StoreError
from .lanes import Claim, Claimer, claim_or_give_back, serve
from .models import CardInfo, FrontierItem, MonitorJob, RunRecord, Tier
from .monitor import (
    new_job,
    next_due_line,
    open_job,
    visit_and_reschedule,
)
from .progress import Stats
from .session import Session, open_session
from .site import load_site
from .store import Store, open_store
from .video import VideoContext, process_video

__all__ = [
    "Outcome", "Session", "enqueue_run", "open_session", "run_monitor", "run_worker", "serve",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_ANNOUNCE_EVERY_S = 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    stats: Stats
    elapsed_s: float
    store: str
    detail: str = ""


# --- the jobs in the store -------------------------------------------------------------------


async def active_jobs(store: Store, now: datetime) -> list[MonitorJob]:
    """The monitor jobs whose ``--for`` has not run out."""
    docs = await store.find_docs("monitors", {})
    jobs = [MonitorJob.model_validate(_fields(doc)) for doc in docs]
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


def _fields(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "_id"}


# --- what a worker claims -------------------------------------------------------------------


def monitor_claimer(
    session: Session, job: MonitorJob, *, clock: Clock, horizon: datetime | None
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


def run_claimer(session: Session, run: RunRecord) -> Claimer:
    """Video items of a running ``scrape run`` (its catalogue is read by the run itself)."""
    options = {k: v for k, v in run.options.items()
               if k in ("pages", "max_videos", "no_media", "max_comments")}
    ctx = session.context(run, replace(session.settings, site=run.site, category=run.category,
                                       **options))
    me, lease_s = session.settings.worker_id, session.settings.lease_s
    store = session.store

    async def claim() -> Claim | None:
        items = await claim_or_give_back(
            store.frontier_claim(run.run_id, worker=me, lease_s=lease_s, kind="video"),
            lambda item: store.frontier_release(item.id))
        if not items:
            return None
        item = items[0]
        return Claim(
            label=f"video {item.key}", work=lambda: crawl_item(ctx, item),
            renew=lambda: store.frontier_renew(item.id, worker=me, lease_s=lease_s),
            release=lambda: store.frontier_release(item.id))

    return claim


async def crawl_item(ctx: VideoContext, item: FrontierItem) -> None:
    outcome = await process_video(ctx, CardInfo(**item.payload["card"]))
    ctx.stats.note(f"videos.{outcome.status}")
    await ctx.store.frontier_finish(
        item.id, state="failed" if outcome.status == "failed" else "done", error=outcome.error)
    await finish_run_if_drained(ctx.store, ctx.run)


async def finish_run_if_drained(store: Store, run: RunRecord) -> bool:
    """Mark the run finished once no item of its frontier is pending or claimed."""
    counts = await store.frontier_counts(run.run_id)
    if counts["pending"] or counts["claimed"]:
        return False
    videos = await store.frontier_counts(run.run_id, kind="video")
    await store.update_run(run.model_copy(update={
        "status": "finished", "finished": utc_now(),
        "counters": {"videos.done": videos["done"], "videos.failed": videos["failed"]}}))
    return True


class JobClaimers:
    """The claimers for every job in the store, re-listed when a lane finds no work."""

    def __init__(self, session: Session, *, clock: Clock, horizon: datetime | None) -> None:
        self._session, self._clock, self._horizon = session, clock, horizon
        self._claimers: dict[str, Claimer] = {}
        self._listed = float("-inf")

    async def __call__(self) -> Sequence[Claimer]:
        if time.monotonic() - self._listed >= self._session.settings.idle_poll_s:
            self._listed = time.monotonic()
            await self._list()
        return list(self._claimers.values())

    async def _list(self) -> None:
        store, session = self._session.store, self._session
        monitors = await active_jobs(store, self._clock())
        runs = [RunRecord.model_validate(_fields(doc))
                for doc in await store.find_docs("runs", {"status": "running"})]
        live = {job.job for job in monitors} | {run.run_id for run in runs}
        for key in set(self._claimers) - live:
            del self._claimers[key]
        for job in monitors:
            self._add(job.job, partial(monitor_claimer, session, job, clock=self._clock,
                                       horizon=self._horizon))
        for run in runs:
            self._add(run.run_id, partial(run_claimer, session, run))

    def _add(self, key: str, make: Callable[[], Claimer]) -> None:
        if key in self._claimers:
            return
        try:
            self._claimers[key] = make()
        except StoreError:
            raise
        except ScraperError as exc:  # a job this worker cannot serve (unknown site, …)
            log.warning("skipping job %s: %s", key, exc)


# --- the commands -----------------------------------------------------------------------


async def run_worker(
    settings: Settings, *, once: bool = False, store: Store | None = None,
    clock: Clock = utc_now,
) -> Outcome:
    """`scrape worker`: serve every job in the store until Ctrl-C (or, ``once``, until
    nothing is left that was due when it started)."""
    started = time.monotonic()
    async with open_session(settings, store=store) as session:
        claimers = JobClaimers(session, clock=clock, horizon=clock() if once else None)
        await serve(claimers, lanes=settings.concurrency, once=once, lease_s=settings.lease_s,
                    idle_s=settings.idle_poll_s)
        return Outcome(session.stats, time.monotonic() - started, session.store.description)


async def run_monitor(
    settings: Settings, *, tiers: Sequence[Tier], duration_s: float | None = None,
    tracked: Sequence[str] = (), once: bool = False, enqueue_only: bool = False,
    store: Store | None = None, session: Session | None = None, clock: Clock = utc_now,
) -> Outcome:
    """`scrape monitor`: (re)start the job, then visit what is due until ``duration_s``
    runs out, Ctrl-C or, ``once``, nothing due is left.

    ``session`` (already open, left open) lets rounds in one process share one Chromium.
    """
    started, now, site = time.monotonic(), clock(), load_site(settings)
    until = now + timedelta(seconds=duration_s) if duration_s is not None else None
    job = new_job(settings, site, tiers=tiers, now=now, until=until, tracked=tracked)
    if enqueue_only:
        async with store or open_store(settings.store) as opened:
            await open_job(opened, job, site, now=now)
            line = await next_due_line(opened, job.job, now)
            return Outcome(Stats(), time.monotonic() - started, opened.description, line)
    opening = nullcontext(session) if session else open_session(settings, store=store)
    async with opening as session:
        before = Stats()
        before.update(session.stats)
        await open_job(session.store, job, site, now=now)
        claimer = monitor_claimer(session, job, clock=clock, horizon=now if once else None)
        await serve(lambda: _constant([claimer]), lanes=settings.concurrency, once=once,
                    lease_s=settings.lease_s, idle_s=settings.idle_poll_s,
                    stop=lambda: until is not None and clock() >= until,
                    on_idle=_announcer(session.store, job.job, clock))
        line = await next_due_line(session.store, job.job, clock())
        stats = Stats()
        stats.update(session.stats - before)  # this call's own, when a session is shared
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


async def enqueue_run(settings: Settings, *, store: Store | None = None) -> Outcome:
    """`scrape run --enqueue-only`: read the catalogue into the run's frontier and leave
    the videos to workers (the run stays ``running`` until they are done)."""
    started, site = time.monotonic(), load_site(settings)
    async with open_session(settings, store=store) as session:
        run = await begin_run(session.store, site, settings)
        ctx = session.context(run, settings)
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
