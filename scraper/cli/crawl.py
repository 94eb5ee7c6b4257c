"""Commands that crawl: ``scrape run``, ``scrape monitor`` and ``scrape worker``."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .. import config
from ..errors import SelectorDrift, SiteUnreachable
from ..progress import CATALOGUE_FAILED, STORED, VISITED, Count, drift_key, failure_key
from .app import cli, fail, run_async
from .options import (
    DEFAULTS,
    browser_life_options,
    categories_help,
    crawl_target_options,
    resolve_rules,
    settings_from,
    store_target,
)

if TYPE_CHECKING:
    from ..jobs.run import CrawlOutcome
    from ..progress import Reporter

__all__ = ["EXIT_WITH_FAILURES", "monitor", "run", "worker"]

# `scrape run` finished, but some videos failed (the summary says why; the next run of
# the same job retries them). Errors' own codes are on the ScraperError classes.
EXIT_WITH_FAILURES = 6


@cli.command(short_help="Crawl whole categories and channels into the store.")
@click.option("--category", "categories", multiple=True,
              help=categories_help("crawl") + " Repeatable; 'all': every category. "
              "Default: today-hot, unless --channel is given.")
@click.option("--channel", "channels", multiple=True,
              help="Also crawl every video of this channel (uploader), and record the "
              "channel: its uid, with or without '==', or its link. Repeatable.")
@click.option("--site", default="youku-replica", show_default=True,
              help="Site profile under selectors/ (youku, youku-replica).")
@click.option("--pages", type=click.IntRange(min=1), help="Stop after this many catalogue pages.")
@click.option("--max-videos", type=click.IntRange(min=1), help="Stop after this many videos.")
@click.option("--video", "videos", multiple=True, metavar="VID_OR_URL",
              help="Crawl exactly this video, not the catalogue (repeatable): its vid (with "
              "or without '=='), numeric id or page URL.")
@crawl_target_options
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Browser tabs rendering pages at once.")
@click.option("--no-media", is_flag=True, help="Record segments but download no files.")
@click.option("--stream", "streams", multiple=True, default=("mp4sd",), show_default=True,
              help="Stream type to download, in order of preference (repeatable): mp4sd, "
              "mp4hd, mp4hd2, 3gphd, flvhd, …; a video without any is recorded as "
              "unavailable with the types it has.")
@click.option("--max-comments", type=click.IntRange(min=0),
              help="At most this many top-level comments per video (0: none).")
@click.option("--headed", is_flag=True, help="Show the browser (needs a display: xvfb-run).")
@click.option("--slow-mo", "slow_mo", type=click.IntRange(min=0), default=0,
              help="With --headed: slow every browser action by this many ms.")
@click.option("--selectors", "selectors_dir", type=click.Path(path_type=Path),
              help="Use site profiles and selector files from this directory.")
@click.option("--chromium", help="Chromium executable (default: SCRAPER_CHROMIUM, then "
              "Debian's chromium-headless-shell or, headed, chromium; then Playwright's own).")
@click.option("--enqueue-only", is_flag=True,
              help="Only read the catalogue into the store; `scrape worker`s crawl the videos.")
@browser_life_options
def run(**options: Any) -> None:
    """Crawl a whole category: videos, files, comments and a stats snapshot.

    Re-running the same command resumes an interrupted run, or, once a run has
    finished, crawls again: static fields are kept, figures and snapshots move on.

    \b
    Example (the bundled replica, see README):
      scrape run --category today-hot --resolve '*.test=127.0.0.1:8899'
      scrape run --max-videos 30 --no-media --store mydata.db
      scrape run --video XMzU5NzQ5OTc2 --video http://v.youku.test/v_show/id_XMTIz==.html
    """
    from ..progress import Reporter, Stats, format_summary

    settings = settings_from(**options)
    if options["enqueue_only"]:
        from ..jobs.run import enqueue_run

        queued = run_async(lambda: enqueue_run(settings))
        click.echo(f"{queued.detail} in {queued.store} (start them: scrape worker "
                   f"--store {queued.store})", err=True)
        return
    reporter = Reporter(Stats())
    outcome = run_async(lambda: _crawl(settings, reporter))
    click.echo(format_summary(outcome.stats, store=outcome.store, media=outcome.media_dir,
                              elapsed_s=outcome.elapsed_s, whole_run=outcome.whole_run), err=True)
    failed = outcome.stats[Count.VIDEOS_FAILED]
    if failed:
        if any(outcome.stats[k] for k in STORED):
            sys.exit(EXIT_WITH_FAILURES)
        if outcome.stats[failure_key("ExtractionError")] == failed:
            fail(f"every video page answered but no selector version reads it ({failed} "
                 "videos): the site's markup changed; run `scrape refresh-selectors`",
                 SelectorDrift.exit_code)
        fail(f"no video could be crawled: all {failed} failed (the summary above says why)",
             1)


async def _crawl(settings: config.Settings, reporter: Reporter) -> CrawlOutcome:
    """`scrape run`'s crawl, with Chromium launching while the crawl's modules import
    (each takes about half a second, and neither needs the other)."""
    from ..browser.early import EarlyLaunch
    from ..browser.options import browser_options
    from ..jobs.lists import first_catalogue_url
    from ..site.load import load_site

    site = load_site(settings)
    early = EarlyLaunch(browser_options(settings, blocked_hosts=site.profile.media_hosts),
                        tabs=settings.concurrency, first_url=first_catalogue_url(site, settings))
    # aiohttp builds its TLS contexts as it is imported, reading the system's CA bundle
    # with the GIL released (50-100 ms): in a thread of its own that overlaps the rest.
    http = asyncio.ensure_future(asyncio.to_thread(importlib.import_module, "aiohttp"))
    try:
        jobs = await asyncio.to_thread(importlib.import_module, "scraper.jobs.run")
        await http
        crawl: Callable[..., Awaitable[CrawlOutcome]] = jobs.run_crawl
        return await crawl(settings, reporter=reporter, early=early)
    finally:
        await early.close()


@cli.command(short_help="Follow a category's videos and channels over time, by tier.")
@click.option("--category", help=categories_help("follow") + " Default: today-hot, unless "
              "--channel is given.")
@click.option("--channel", "channels", multiple=True,
              help="Follow this channel (uid with or without '==', or its link): a snapshot "
              "of its followers, videos and plays at each visit, and its new videos. "
              "Repeatable; a restart keeps the channels followed before.")
@click.option("--channel-tiers", default=DEFAULTS.channel_tiers, show_default=True,
              help="Channels' visit intervals, as --tiers, by followers gained per hour "
              "(default thresholds: " + ", ".join(f"{r:g}" for r in DEFAULTS.channel_rates)
              + ").")
@click.option("--site", default="youku-replica", show_default=True, help="Site profile.")
@click.option("--tiers", default=DEFAULTS.tiers, show_default=True,
              help="Visit intervals, hottest tier first: NAME:INTERVAL[@VIEWS_PER_HOUR],…; a "
              "video is in the first tier its growth reaches (default thresholds: "
              + ", ".join(f"{r:g}" for r in DEFAULTS.tier_rates) + " views/h); 'all:0s' "
              "makes everything due.")
@click.option("--for", "duration", help="Follow for this long (90m, 12h, 7d); default: until "
              "Ctrl-C.")
@click.option("--track", multiple=True, help="Also follow this video id (repeatable).")
@click.option("--pages", type=click.IntRange(min=1), help="Read this many catalogue pages.")
@click.option("--max-videos", type=click.IntRange(min=1), help="Follow at most this many "
              "videos of the category.")
@crawl_target_options
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Visits at once (browser tabs).")
@click.option("--no-media", is_flag=True, help="Download no files for new videos.")
@click.option("--max-comments", type=click.IntRange(min=0),
              help="At most this many top-level comments per video (0: none).")
@click.option("--once", is_flag=True, help="Visit what is due now, then exit (for cron).")
@click.option("--enqueue-only", is_flag=True,
              help="Only schedule the job in the store; `scrape worker`s do the visits.")
@click.option("--id", "worker_id", help="Name recorded with each visit (default HOST-PID).")
@click.option("--selectors", "selectors_dir", type=click.Path(path_type=Path),
              help="Use site profiles and selector files from this directory.")
@click.option("--chromium", help="Chromium executable.")
@browser_life_options
def monitor(**options: Any) -> None:
    """Follow a category over time: new videos crawled in full once, then their views and
    comments revisited at the pace of their tier (hot hourly, cold daily).

    The schedule lives in the store: stop at any time and run the command again.

    \b
    Example:
      scrape monitor --category today-hot --tiers 'hot:1h,warm:6h,cold:24h' --for 7d
      scrape monitor --once            # from cron: visit what is due, then exit
    """
    from dataclasses import replace

    from ..jobs.monitor import run_monitor
    from ..jobs.tiers import parse_interval, parse_tiers

    tiers = parse_tiers(options["tiers"], default_rates=DEFAULTS.tier_rates)
    channel_tiers = parse_tiers(options["channel_tiers"], default_rates=DEFAULTS.channel_rates,
                                flag="--channel-tiers")
    duration = (None if options["duration"] is None
                else parse_interval(options["duration"], what="--for"))
    category = options.pop("category")
    settings = replace(settings_from(**options, categories=(category,) if category else (),
                                     headed=False, slow_mo=0), tiers=options["tiers"],
                       worker_id=options["worker_id"] or DEFAULTS.worker_id)
    # Channels alone when --channel comes without --category; else the category's job.
    settings = replace(settings, categories=(category,) if category else (
        () if options["channels"] else None))
    outcome = run_async(lambda: run_monitor(
        settings, tiers=tiers, channel_tiers=channel_tiers, duration_s=duration,
        tracked=options["track"],
        once=options["once"], enqueue_only=options["enqueue_only"], given=_given_job_fields()))
    stats = outcome.stats
    if options["enqueue_only"]:
        click.echo(f"monitor job scheduled in {outcome.store}; start workers: scrape worker "
                   f"--store {outcome.store}\n{outcome.detail}", err=True)
        return
    click.echo(f"{_visits(stats)} in {outcome.elapsed_s:.1f}s to {outcome.store}\n"
               f"{outcome.detail}", err=True)
    if stats[Count.VISITS_FAILED] and not any(stats[k] for k in VISITED):
        _nothing_visited(stats)


def _nothing_visited(stats: Any) -> NoReturn:
    """Every visit failed: the catalogue's or the channels' failure says why (as `scrape
    run`'s would)."""
    for key, code, what in ((drift_key("catalogue"), SelectorDrift.exit_code, ""),
                            (drift_key("channel"), SelectorDrift.exit_code,
                             "no selector version reads the channel page "),
                            (CATALOGUE_FAILED, SiteUnreachable.exit_code,
                             "cannot load the catalogue: ")):
        if stats[key]:
            example = stats.examples.get(key, ["see the warnings above"])[0]
            if key == drift_key("channel"):
                example += (": the site's markup changed; run `scrape refresh-selectors "
                            "--channel UID` to repair the selectors")
            fail(what + example, code)
    fail("nothing could be crawled: everything tried failed (see the warnings above)", 1)


@cli.command(short_help="Crawl the work other commands queued in the store.")
@click.option("--id", "worker_id", help="This worker's name, recorded with its work "
              "(default HOST-PID).")
@crawl_target_options
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Pieces of work at once (browser tabs).")
@click.option("--once", is_flag=True, help="Do what is due now, then exit.")
@click.option("--selectors", "selectors_dir", type=click.Path(path_type=Path),
              help="Use site profiles and selector files from this directory.")
@click.option("--chromium", help="Chromium executable.")
@browser_life_options
def worker(worker_id: str | None, store: str | None, media_dir: Path,
           resolve: tuple[str, ...], concurrency: int, once: bool, selectors_dir: Path | None,
           chromium: str | None, **browser_life: Any) -> None:
    """Crawl what the store holds: videos of `scrape run --enqueue-only` runs and due
    visits of `scrape monitor` jobs. Start any number against one store.

    \b
    Example:
      scrape run --enqueue-only --store shared.db   # read the catalogue, queue its videos
      scrape worker --store shared.db &             # as many as you like, on any machine
      scrape worker --store shared.db --once        # what is due now, then exit
    """
    from ..jobs.worker import run_worker

    settings = config.Settings(
        store=store_target(store), media_dir=media_dir, selectors_dir=selectors_dir,
        resolve=resolve_rules(resolve), concurrency=concurrency,
        chromium=config.find_chromium(chromium), worker_id=worker_id or DEFAULTS.worker_id,
        **browser_life,
    ).checked()
    outcome = run_async(lambda: run_worker(settings, once=once))
    videos = {k.removeprefix("videos."): outcome.stats[k]
              for k in (*STORED, Count.VIDEOS_FAILED) if outcome.stats[k]}
    click.echo(f"worker {settings.worker_id}: videos " + (", ".join(
        f"{n} {kind}" for kind, n in sorted(videos.items())) or "none") + f"; "
        f"{_visits(outcome.stats)} in {outcome.elapsed_s:.1f}s on {outcome.store}", err=True)
    stats = outcome.stats
    if (stats[Count.VISITS_FAILED] or stats[Count.VIDEOS_FAILED]) and not any(
            stats[k] for k in (*VISITED, *STORED)):
        _nothing_visited(stats)


def _given_job_fields() -> set[str]:
    """The monitor job's fields this command line sets; a restart keeps the others."""
    from ..jobs.monitor_job import JOB_FLAGS

    ctx = click.get_current_context()
    params = {"until": "duration"}
    return {name for name in JOB_FLAGS
            if ctx.get_parameter_source(params.get(name, name)) in _GIVEN}


_GIVEN = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)


def _visits(stats: Any) -> str:
    return (f"visits: {stats[Count.VISITS_FIRST]} first, {stats[Count.VISITS_REVISIT]} revisits, "
            f"{stats[Count.VISITS_FAILED]} failed; {stats[Count.VISITS_CATALOGUE]} catalogue reads"
            + (f", {stats[Count.VISITS_CHANNEL]} channel visits" if stats[Count.VISITS_CHANNEL]
               else "")
            + f" ({stats[Count.VIDEOS_NEW]} new videos); {stats[Count.COMMENTS_NEW]} new comments")
