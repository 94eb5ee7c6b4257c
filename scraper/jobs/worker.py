"""`scrape worker`: claim work from the store, do it, hold the lease while at it.

A worker serves every job the store holds: the due visits of `scrape monitor` jobs,
then the video items of running `scrape run`s (`scrape run --enqueue-only` reads the
catalogue and leaves the videos to workers). Any number of workers share a store.

1. ``open_resources`` opens the store, the HTTP client and Chromium once; each job gets
   its own ``VideoContext`` (its site, category and limits) over them.
2. ``JobClaimers`` lists the jobs (monitor jobs whose ``--for`` is not over, runs still
   ``running``) and gives one claimer each: an atomic claim with a lease.
3. ``leases.serve`` claims and works, renewing leases, until Ctrl-C or, with ``--once``,
   nothing left that was due when it started. A worker that dies keeps its leases only
   until they lapse; another then redoes the work, and the visit's snapshot id makes the
   redone visit overwrite, not add.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial

from ..config import Settings
from ..crawl.context import VideoContext
from ..crawl.resources import Resources, open_resources
from ..crawl.video import process_video
from ..errors import FATAL, ScraperError
from ..models import CardInfo, FrontierItem, RunRecord
from ..progress import video_key
from ..site.profile import list_sites, load_profile
from ..store.base import Store
from ..store.documents import from_doc
from .leases import Claim, Claimer, claim_or_give_back, serve
from .monitor import active_jobs, monitor_claimer
from .outcome import Clock, Outcome, utc_now
from .run import finish_run_if_drained, lists_seen_meanwhile

__all__ = ["JobClaimers", "run_worker"]

log = logging.getLogger(__name__)


def run_claimer(session: Resources, run: RunRecord) -> Claimer:
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
    ctx.stats.note(video_key(outcome.status))
    await lists_seen_meanwhile(ctx, item)
    await ctx.store.frontier_finish(
        item.id, state="failed" if outcome.status == "failed" else "done", error=outcome.error)
    await finish_run_if_drained(ctx.store, ctx.run)


class JobClaimers:
    """The claimers for every job in the store, re-listed when a lane finds no work."""

    def __init__(self, session: Resources, *, clock: Clock, horizon: datetime | None) -> None:
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
        runs = [from_doc(RunRecord, doc)
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
        except FATAL:
            raise
        except ScraperError as exc:  # a job this worker cannot serve (unknown site, …)
            log.warning("skipping job %s: %s", key, exc)


# --- the command ----------------------------------------------------------------------


async def run_worker(
    settings: Settings, *, once: bool = False, store: Store | None = None,
    clock: Clock = utc_now,
) -> Outcome:
    """`scrape worker`: serve every job in the store until Ctrl-C (or, ``once``, until
    nothing is left that was due when it started)."""
    started = time.monotonic()
    async with open_resources(settings, store=store,
                              blocked_hosts=all_media_hosts(settings)) as session:
        claimers = JobClaimers(session, clock=clock, horizon=clock() if once else None)
        await serve(claimers, lanes=settings.concurrency, once=once, lease_s=settings.lease_s,
                    idle_s=settings.idle_poll_s)
        return Outcome(session.stats, time.monotonic() - started, session.store.description)


def all_media_hosts(settings: Settings) -> set[str]:
    """The media hosts of every site profile: a worker serves jobs of any site, and its
    one browser must never load segments from any of them."""
    return {host for site in list_sites(settings.selectors_dir)
            for host in load_profile(site, selectors_dir=settings.selectors_dir).media_hosts}
