"""The ``scrape`` command: options -> Settings -> one ``asyncio.run`` -> one error line."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import config
from .errors import ConfigError, ScraperError, SelectorDrift, SiteUnreachable
from .progress import CATALOGUE_FAILED, STORED, VISITED, Count, drift_key, failure_key

if TYPE_CHECKING:
    from .jobs.run import CrawlOutcome
    from .progress import Reporter

__all__ = ["main"]

T = TypeVar("T")

# `scrape run` finished, but some videos failed (the summary says why; the next run of
# the same job retries them). Errors' own codes are on the ScraperError classes.
EXIT_WITH_FAILURES = 6

_RESOLVE_HELP = ("Map hosts to an address: 'PATTERN=ADDR:PORT' (e.g. '*.test=127.0.0.1:8899') "
                 "or curl's --resolve form 'HOST:PORT:ADDR'. Repeatable; also read from "
                 "SCRAPER_RESOLVE.")
_DEFAULTS = config.Settings()


def _categories_help(verb: str) -> str:
    """--category's help, with the default site's categories (read from its profile)."""
    from .site.profile import load_profile

    try:
        names = ", ".join(load_profile(_DEFAULTS.site, selectors_dir=None).categories)
    except ScraperError:  # a broken profile is reported when a command uses it
        names = "see the site profile"
    return f"Category to {verb}, by CLI name ({_DEFAULTS.site}: {names})."


_MEDIA_HELP = "Where thumbnails and segments go (relative to the current directory)."
_STORE_HELP = ("Where data goes: a MongoDB URI (mongodb://HOST/DB), an SQLite file (*.db, "
               "*.sqlite) or a directory (holding scrape.db). Default: MONGODB_URI, else "
               "mongodb://localhost:27017/scraper if it answers within 2 s, else ./scrape-data.")


def _browser_life(command: Callable[..., None]) -> Callable[..., None]:
    """The options that bound Chromium's life on long runs (run, monitor, worker)."""
    options = [
        click.option("--browser-relaunches", type=click.IntRange(min=0),
                     default=_DEFAULTS.browser_relaunches, show_default=True,
                     help="Relaunch a Chromium that died this many times per run, then "
                     "stop (exit 5)."),
        click.option("--browser-memory", "browser_memory_mb", type=click.FloatRange(min=1),
                     help="Retire Chromium for a fresh one (between visits, no work lost) "
                     "when its processes' PSS passes this many MB."),
        click.option("--recycle-browser-after", "browser_recycle_visits",
                     type=click.IntRange(min=1),
                     help="Retire Chromium for a fresh one after this many page visits."),
        click.option("--draw-frames", is_flag=True,
                     help="Let Chromium draw every frame, as for a screen. By default the "
                     "headless shell runs a page's frame work (animation frames, observers) "
                     "only when the scraper reads the page, which costs far less."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True,
              help="-v: a line per video; -vv: debug output, the libraries' too.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.version_option(package_name="scraper", prog_name="scrape")
def cli(verbose: int, quiet: bool) -> None:
    """Collect a video site's category into MongoDB, with files, comments and stats.

    \b
    Quick start against the bundled replica (see README):
      scrape run --category today-hot --resolve '*.test=127.0.0.1:8899'
    """
    _log_levels(verbose=0 if quiet else verbose + 1)


def _log_levels(*, verbose: int) -> None:
    """0 (-q): warnings; 1: progress and notices; 2 (-v): and a line per video;
    3 (-vv): debug lines, and the libraries' own information."""
    logging.basicConfig(level=logging.INFO if verbose > 2 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    ours = {0: logging.WARNING, 1: logging.INFO, 2: logging.INFO}.get(verbose, logging.DEBUG)
    logging.getLogger("scraper").setLevel(ours)
    logging.getLogger("scraper.videos").setLevel(logging.INFO if verbose >= 2 else logging.WARNING)
    for noisy in ("asyncio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@cli.command(short_help="Crawl whole categories and channels into the store.")
@click.option("--category", "categories", multiple=True,
              help=_categories_help("crawl") + " Repeatable; 'all': every category. "
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
@click.option("--store", help=_STORE_HELP)
@click.option("--media-dir", type=click.Path(path_type=Path), default=Path("media"),
              show_default=True, help=_MEDIA_HELP)
@click.option("--resolve", "resolve", multiple=True, help=_RESOLVE_HELP)
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
@_browser_life
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
    from .progress import Reporter, Stats, format_summary

    settings = _settings(**options)
    if options["enqueue_only"]:
        from .jobs.run import enqueue_run

        queued = _run_async(lambda: enqueue_run(settings))
        click.echo(f"{queued.detail} in {queued.store} (start them: scrape worker "
                   f"--store {queued.store})", err=True)
        return
    reporter = Reporter(Stats())
    outcome = _run_async(lambda: _crawl(settings, reporter))
    click.echo(format_summary(outcome.stats, store=outcome.store, media=outcome.media_dir,
                              elapsed_s=outcome.elapsed_s, whole_run=outcome.whole_run), err=True)
    failed = outcome.stats[Count.VIDEOS_FAILED]
    if failed:
        if any(outcome.stats[k] for k in STORED):
            sys.exit(EXIT_WITH_FAILURES)
        if outcome.stats[failure_key("ExtractionError")] == failed:
            _fail(f"every video page answered but no selector version reads it ({failed} "
                  "videos): the site's markup changed; run `scrape refresh-selectors`",
                  SelectorDrift.exit_code)
        _fail(f"no video could be crawled: all {failed} failed (the summary above says why)",
              1)


async def _crawl(settings: config.Settings, reporter: Reporter) -> CrawlOutcome:
    """`scrape run`'s crawl, with Chromium launching while the crawl's modules import
    (each takes about half a second, and neither needs the other)."""
    from .browser.early import EarlyLaunch
    from .browser.options import browser_options
    from .site.load import load_site

    hosts = load_site(settings).profile.media_hosts
    early = EarlyLaunch(browser_options(settings, blocked_hosts=hosts))
    try:
        jobs = await asyncio.to_thread(importlib.import_module, "scraper.jobs.run")
        crawl: Callable[..., Awaitable[CrawlOutcome]] = jobs.run_crawl
        return await crawl(settings, reporter=reporter, early=early)
    finally:
        await early.close()


@cli.command(short_help="Write a collection as JSON lines, CSV or parquet.")
@click.option("--store", help=_STORE_HELP)
@click.option("--what", type=click.Choice(["videos", "comments", "snapshots", "channels",
                                           "channel-snapshots"]), required=True,
              help="Which collection to export.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]),
              help="jsonl: one JSON document per line, nesting kept; csv: a table for "
              "spreadsheets; parquet: that table with typed columns (pandas, polars, "
              "DuckDB; needs --out). Default: from --out's suffix (.csv, .parquet), else jsonl.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Write here instead of stdout (replaced only once the export succeeded).")
@click.option("--excel", is_flag=True,
              help="CSV that Excel opens as UTF-8 (starts with a byte-order mark).")
@click.option("--vid", "vids", multiple=True,
              help="Only this video's documents (repeatable; with or without '==').")
@click.option("--since", help="Only documents from then on (videos: last crawled; comments: "
              "posted; snapshots: taken): an ISO date or time (UTC unless it says), or how "
              "long ago (24h, 7d).")
@click.option("--until", help="Only documents before then (as --since).")
@click.option("--category", help="Only the videos of this catalogue category, as crawled by "
              "`scrape run`/`monitor --category` (and their comments and snapshots).")
def export(store: str | None, what: str, fmt: str | None, out: Path | None, excel: bool,
           vids: tuple[str, ...], since: str | None, until: str | None,
           category: str | None) -> None:
    """Write a collection as JSON lines (one record per line, nesting kept), CSV (a table:
    one row per comment and reply, videos' segments and crawl record flattened) or
    parquet (the same table, typed: ints, UTC timestamps).

    A corrupt document is named on stderr, left out and counted.

    \b
    Example:
      scrape export --what videos --out videos.jsonl
      scrape export --what comments --out comments.csv
      scrape export --what snapshots --vid XMzU5NzQ5OTc2 --since 7d --out snaps.parquet
    """
    from .store.export import export as do_export
    from .store.filters import ExportFilter
    from .store.target import open_store

    keep = ExportFilter(vids=vids, since=_when(since, "--since") if since else None,
                        until=_when(until, "--until") if until else None, category=category)
    fmt = fmt or _format_of(out)
    if fmt == "parquet" and out is None:
        _fail("--format parquet writes a file: give --out FILE.parquet", 2)
    target = _store_target(store)
    corrupt: list[str] = []

    def skip(doc_id: object, why: str) -> None:
        corrupt.append(f"{doc_id!r}")
        click.echo(f"scrape: warning: skipped document {doc_id!r} of {what}: {why}", err=True)

    async def main() -> int:
        async with open_store(target, must_exist=True) as opened:
            if out is None:
                return await do_export(opened, what, fmt, sys.stdout,  # type: ignore[arg-type]
                                       excel=excel, keep=keep, on_corrupt=skip)
            with _replacing(out, binary=fmt == "parquet") as handle:
                return await do_export(opened, what, fmt, handle,  # type: ignore[arg-type]
                                       excel=excel, keep=keep, on_corrupt=skip)

    count = _run_async(main)
    click.echo(f"exported {count} {what}" + (f" to {out}" if out else "") + (
        f"; skipped {len(corrupt)} corrupt: {', '.join(corrupt)}" if corrupt else ""), err=True)


def _format_of(out: Path | None) -> str:
    suffix = out.suffix.lower() if out is not None else ""
    return {".csv": "csv", ".parquet": "parquet"}.get(suffix, "jsonl")


@cli.command(short_help="Show one page headed with every field outlined.")
@click.argument("url")
@click.option("--site", default="youku-replica", show_default=True, help="Site profile.")
@click.option("--pause", is_flag=True, help="Open the Playwright Inspector on the page.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("scrape-debug"),
              show_default=True,
              help="Where the screenshot and trace go (relative to the current directory).")
@click.option("--resolve", "resolve", multiple=True, help=_RESOLVE_HELP)
@click.option("--selectors", "selectors_dir", type=click.Path(path_type=Path),
              help="Use site profiles and selector files from this directory.")
@click.option("--chromium", help="Chromium executable.")
def debug(url: str, site: str, pause: bool, out: Path, resolve: tuple[str, ...],
          selectors_dir: Path | None, chromium: str | None) -> None:
    """Open one page headed and show what every selector field matches.

    Outlines each field's element with a labelled box, prints field -> value, and
    saves a screenshot and a Playwright trace (view it with `playwright show-trace`).
    Needs a display: on a server, run it as `xvfb-run -a scrape debug URL`.

    \b
    Example:
      xvfb-run -a scrape debug http://v.youku.test/v_show/id_XMzU5NzQ5OTc2==.html \\
          --resolve '*.test=127.0.0.1:8899'
    """
    from .debug import debug_page

    settings = config.Settings(
        site=site, selectors_dir=selectors_dir, headed=True,
        chromium=config.find_chromium(chromium, headless=False),
        resolve=_resolve_rules(resolve),
    ).checked()
    report = _run_async(lambda: debug_page(settings, url, out_dir=out, pause=pause))
    click.echo(f"{report.url}  (selectors {', '.join(report.versions.values())})")
    width = max((len(k) for k in report.values), default=0)
    for name, value in report.values.items():
        click.echo(f"  {name:<{width}}  {value!r}")
    click.echo(f"overlays: {', '.join(sorted(set(report.labels)))}")
    missing = [k for k, n in report.outlined.items() if n == 0]
    if missing:
        click.echo(f"matched nothing: {', '.join(missing)}")
    click.echo(f"screenshot: {report.screenshot}\ntrace:      {report.trace}  "
               f"(playwright show-trace {report.trace})")


@cli.command("refresh-selectors", short_help="Repair the selectors a redesign broke.")
@click.option("--site", default="youku-replica", show_default=True, help="Site profile.")
@click.option("--category", default="today-hot", show_default=True,
              help=_categories_help("sample"))
@click.option("--sample", type=click.IntRange(2, 200), default=12, show_default=True,
              help="Video pages to sample (catalogue pages: a third of it, at least 2).")
@click.option("--channel", "channels", multiple=True,
              help="Also check the channel pages on this channel (uid or link; repeatable): "
              "its home's head and its video list.")
@click.option("--store", help=_STORE_HELP + " Known values and fingerprints come from it.")
@click.option("--write/--dry-run", default=False, show_default=True,
              help="Write repaired fields as a new selector version, or only report.")
@click.option("--resolve", "resolve", multiple=True, help=_RESOLVE_HELP)
@click.option("--selectors", "selectors_dir", type=click.Path(path_type=Path),
              help="Use site profiles and selector files from this directory.")
@click.option("--chromium", help="Chromium executable.")
def refresh_selectors(site: str, category: str, sample: int, channels: tuple[str, ...],
                      store: str | None, write: bool, resolve: tuple[str, ...],
                      selectors_dir: Path | None, chromium: str | None) -> None:
    """Check every selector field on live pages and repair those a redesign broke.

    Broken fields are relocated from the values stored by earlier runs and the element
    fingerprints they kept; a repair is accepted only when every sampled page agrees.
    With --write the repairs become a new version file (existing versions are never
    edited). Exits 1 if a required field could not be repaired; an optional field whose
    element is gone from every sample is dropped with a warning.

    \b
    Example:
      scrape refresh-selectors --resolve '*.test=127.0.0.1:8899'           # report only
      scrape refresh-selectors --resolve '*.test=127.0.0.1:8899' --write   # new version
    """
    from .repair.refresh import refresh_selectors as refresh
    from .repair.report import render_report

    settings = config.Settings(
        site=site, category=category, store=_store_target(store), selectors_dir=selectors_dir,
        resolve=_resolve_rules(resolve), chromium=config.find_chromium(chromium),
        channels=channels,
    ).checked()
    report = _run_async(lambda: refresh(settings, sample=sample, write=write))
    click.echo(render_report(report, write=write))
    if report.failed:
        _fail(f"could not repair required fields: {', '.join(report.failed)}", 1)


@cli.command(short_help="Follow a category's videos and channels over time, by tier.")
@click.option("--category", help=_categories_help("follow") + " Default: today-hot, unless "
              "--channel is given.")
@click.option("--channel", "channels", multiple=True,
              help="Follow this channel (uid with or without '==', or its link): a snapshot "
              "of its followers, videos and plays at each visit, and its new videos. "
              "Repeatable; a restart keeps the channels followed before.")
@click.option("--channel-tiers", default=_DEFAULTS.channel_tiers, show_default=True,
              help="Channels' visit intervals, as --tiers, by followers gained per hour "
              "(default thresholds: " + ", ".join(f"{r:g}" for r in _DEFAULTS.channel_rates)
              + ").")
@click.option("--site", default="youku-replica", show_default=True, help="Site profile.")
@click.option("--tiers", default=_DEFAULTS.tiers, show_default=True,
              help="Visit intervals, hottest tier first: NAME:INTERVAL[@VIEWS_PER_HOUR],…; a "
              "video is in the first tier its growth reaches (default thresholds: "
              + ", ".join(f"{r:g}" for r in _DEFAULTS.tier_rates) + " views/h); 'all:0s' "
              "makes everything due.")
@click.option("--for", "duration", help="Follow for this long (90m, 12h, 7d); default: until "
              "Ctrl-C.")
@click.option("--track", multiple=True, help="Also follow this video id (repeatable).")
@click.option("--pages", type=click.IntRange(min=1), help="Read this many catalogue pages.")
@click.option("--max-videos", type=click.IntRange(min=1), help="Follow at most this many "
              "videos of the category.")
@click.option("--store", help=_STORE_HELP)
@click.option("--media-dir", type=click.Path(path_type=Path), default=Path("media"),
              show_default=True, help=_MEDIA_HELP)
@click.option("--resolve", "resolve", multiple=True, help=_RESOLVE_HELP)
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
@_browser_life
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

    from .jobs.monitor import run_monitor
    from .jobs.tiers import parse_interval, parse_tiers

    tiers = parse_tiers(options["tiers"], default_rates=_DEFAULTS.tier_rates)
    channel_tiers = parse_tiers(options["channel_tiers"], default_rates=_DEFAULTS.channel_rates,
                                flag="--channel-tiers")
    duration = (None if options["duration"] is None
                else parse_interval(options["duration"], what="--for"))
    category = options.pop("category")
    settings = replace(_settings(**options, categories=(category,) if category else (),
                                 headed=False, slow_mo=0), tiers=options["tiers"],
                       worker_id=options["worker_id"] or _DEFAULTS.worker_id)
    # Channels alone when --channel comes without --category; else the category's job.
    settings = replace(settings, categories=(category,) if category else (
        () if options["channels"] else None))
    outcome = _run_async(lambda: run_monitor(
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
    """Every visit failed: the catalogue's failure says why (as `scrape run`'s would)."""
    for key, code, what in ((drift_key("catalogue"), SelectorDrift.exit_code, ""),
                            (CATALOGUE_FAILED, SiteUnreachable.exit_code,
                             "cannot load the catalogue: ")):
        if stats[key]:
            _fail(what + stats.examples.get(key, ["see the warnings above"])[0], code)
    _fail("nothing could be crawled: everything tried failed (see the warnings above)", 1)


@cli.command(short_help="Crawl the work other commands queued in the store.")
@click.option("--id", "worker_id", help="This worker's name, recorded with its work "
              "(default HOST-PID).")
@click.option("--store", help=_STORE_HELP)
@click.option("--media-dir", type=click.Path(path_type=Path), default=Path("media"),
              show_default=True, help=_MEDIA_HELP)
@click.option("--resolve", "resolve", multiple=True, help=_RESOLVE_HELP)
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Pieces of work at once (browser tabs).")
@click.option("--once", is_flag=True, help="Do what is due now, then exit.")
@click.option("--selectors", "selectors_dir", type=click.Path(path_type=Path),
              help="Use site profiles and selector files from this directory.")
@click.option("--chromium", help="Chromium executable.")
@_browser_life
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
    from .jobs.worker import run_worker

    settings = config.Settings(
        store=_store_target(store), media_dir=media_dir, selectors_dir=selectors_dir,
        resolve=_resolve_rules(resolve), concurrency=concurrency,
        chromium=config.find_chromium(chromium), worker_id=worker_id or _DEFAULTS.worker_id,
        **browser_life,
    ).checked()
    outcome = _run_async(lambda: run_worker(settings, once=once))
    videos = {k.removeprefix("videos."): outcome.stats[k]
              for k in (*STORED, Count.VIDEOS_FAILED) if outcome.stats[k]}
    click.echo(f"worker {settings.worker_id}: videos " + (", ".join(
        f"{n} {kind}" for kind, n in sorted(videos.items())) or "none") + f"; "
        f"{_visits(outcome.stats)} in {outcome.elapsed_s:.1f}s on {outcome.store}", err=True)
    stats = outcome.stats
    if (stats[Count.VISITS_FAILED] or stats[Count.VIDEOS_FAILED]) and not any(
            stats[k] for k in (*VISITED, *STORED)):
        _nothing_visited(stats)


@cli.command(short_help="Show monitor jobs, tiers and queued runs.")
@click.option("--store", help=_STORE_HELP)
def status(store: str | None) -> None:
    """Per monitor job and tier: how many videos, the next due, the last visit's failures;
    and the runs workers are still crawling.

    \b
    Example:
      scrape status --store mydata.db
    """
    from datetime import UTC, datetime

    from .jobs.status import status_lines
    from .store.target import open_store

    target = _store_target(store)

    async def main() -> list[str]:
        async with open_store(target, must_exist=True) as opened:
            return await status_lines(opened, datetime.now(UTC))

    for line in _run_async(main):
        click.echo(line)


def _given_job_fields() -> set[str]:
    """The monitor job's fields this command line sets; a restart keeps the others."""
    from .jobs.monitor_job import JOB_FLAGS

    ctx = click.get_current_context()
    params = {"until": "duration"}
    return {name for name in JOB_FLAGS
            if ctx.get_parameter_source(params.get(name, name)) in _GIVEN}


_GIVEN = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)


@contextmanager
def _replacing(path: Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Write beside ``path`` and move the result over it only on success: a failed export
    leaves an existing file as it was."""
    part = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        handle = part.open("wb") if binary else part.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with handle:
            yield handle
        os.replace(part, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        part.unlink(missing_ok=True)


@cli.command(short_help="Browse the store in a web browser.")
@click.option("--store", help=_STORE_HELP)
@click.option("--port", type=click.IntRange(0, 65535), default=8050, show_default=True,
              help="Port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but this machine shows the store's data "
              "to that network.")
@click.option("--open", "open_browser", is_flag=True, help="Open it in the web browser.")
def dashboard(store: str | None, port: int, host: str, open_browser: bool) -> None:
    """Browse the store in a web browser: runs, tiers, videos, their charts and comments.

    Read-only; open pages update themselves while `scrape run` or `scrape monitor` writes.
    """
    from .web.serve import serve_dashboard

    target = _store_target(store)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"scrape: warning: listening on {host}: anyone who reaches it there can "
                   "read the data in the store", err=True)
    _run_async(lambda: serve_dashboard(target, host=host, port=port, open_browser=open_browser,
                                       announce=lambda line: click.echo(line, err=True)),
               interrupted="dashboard stopped")


@cli.command(short_help="Chart videos' views and comments into a file.")
@click.argument("vids", nargs=-1, required=True)
@click.option("--metric", type=click.Choice(["views", "comments"]),
              help="Chart one figure (default: both, comments on the right axis).")
@click.option("--since", help="Only snapshots from then on: an ISO date or time (UTC unless it "
              "says), or how long ago (24h, 7d).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="FILE.html (interactive, self-contained), FILE.png or FILE.svg.")
@click.option("--width", type=click.IntRange(100, 8000), default=1000, show_default=True,
              help="Image width in pixels (PNG, SVG).")
@click.option("--height", type=click.IntRange(100, 8000), default=600, show_default=True,
              help="Image height in pixels (PNG, SVG).")
@click.option("--store", help=_STORE_HELP)
@click.option("--chromium", help="Chromium executable (draws PNG and SVG).")
def plot(vids: tuple[str, ...], metric: str | None, since: str | None, out: Path, width: int,
         height: int, store: str | None, chromium: str | None) -> None:
    """Chart videos' views and comments against time, as the dashboard does, into a file."""
    from .store.target import open_store
    from .web.files import write_plot

    start = _when(since) if since else None
    metrics = [metric] if metric else ["views", "comments"]
    browser = config.find_chromium(chromium)
    target = _store_target(store)

    async def main() -> Path:
        async with open_store(target, must_exist=True) as opened:
            return await write_plot(opened, vids, out, metrics=metrics,  # type: ignore[arg-type]
                                    since=start, width=width, height=height, chromium=browser)

    click.echo(f"wrote {_run_async(main)}", err=True)


@cli.command(short_help="Write a self-contained HTML report to share.")
@click.option("--store", help=_STORE_HELP)
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The HTML file to write.")
@click.option("--top", type=click.IntRange(0, 500), default=10, show_default=True,
              help="Chart this many of the most viewed videos.")
def report(store: str | None, out: Path, top: int) -> None:
    """Write one HTML file to share: the overview and the top videos' charts. It opens
    anywhere, without a network."""
    from .store.target import open_store
    from .web.files import write_report

    target = _store_target(store)

    async def main() -> int:
        async with open_store(target, must_exist=True) as opened:
            return await write_report(opened, out, top=top)

    charted = _run_async(main)
    click.echo(f"wrote {out} ({charted} video charts)", err=True)


def _when(text: str, what: str = "--since") -> datetime:
    """An ISO date or time (UTC unless it says otherwise), or how long ago (24h, 7d)."""
    from datetime import UTC, timedelta

    from .jobs.tiers import parse_interval

    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        ago = parse_interval(text, what=f"{what} (an ISO date or time, or a duration)")
        return datetime.now(UTC) - timedelta(seconds=ago)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _visits(stats: Any) -> str:
    return (f"visits: {stats[Count.VISITS_FIRST]} first, {stats[Count.VISITS_REVISIT]} revisits, "
            f"{stats[Count.VISITS_FAILED]} failed; {stats[Count.VISITS_CATALOGUE]} catalogue reads"
            + (f", {stats[Count.VISITS_CHANNEL]} channel visits" if stats[Count.VISITS_CHANNEL]
               else "")
            + f" ({stats[Count.VIDEOS_NEW]} new videos); {stats[Count.COMMENTS_NEW]} new comments")


def _resolve_rules(extra: tuple[str, ...]) -> tuple[config.ResolveRule, ...]:
    return config.parse_resolve([*extra, *filter(None, [config.env("SCRAPER_RESOLVE")])])


def _lists(options: dict[str, Any]) -> dict[str, Any]:
    """--category (repeatable, 'all') and --channel as Settings fields."""
    if "categories" not in options:
        return {"category": options["category"]}
    categories = tuple(options["categories"])
    named = [c for c in categories if c != "all"]
    return {"category": named[0] if named else _DEFAULTS.category,
            "categories": categories or None, "channels": tuple(options["channels"])}


def _settings(**options: Any) -> config.Settings:
    resolve = _resolve_rules(options["resolve"])
    return config.Settings(
        site=options["site"], **_lists(options),
        store=_store_target(options["store"]), media_dir=options["media_dir"],
        selectors_dir=options["selectors_dir"], resolve=resolve, pages=options["pages"],
        max_videos=options["max_videos"], videos=tuple(options.get("videos") or ()),
        concurrency=options["concurrency"],
        no_media=options["no_media"], max_comments=options["max_comments"],
        streams=tuple(options.get("streams") or ("mp4sd",)),
        headed=options["headed"], slow_mo_ms=options["slow_mo"],
        chromium=config.find_chromium(options["chromium"], headless=not options["headed"]),
        browser_relaunches=options["browser_relaunches"],
        browser_memory_mb=options["browser_memory_mb"],
        browser_recycle_visits=options["browser_recycle_visits"],
        draw_frames=options["draw_frames"],
    ).checked()


def _store_target(explicit: str | None) -> str:
    """--store, else MONGODB_URI, else a local server that answers, else ./scrape-data."""
    chosen = explicit or config.env("MONGODB_URI")
    if chosen:
        return chosen
    from .store.mongo import mongo_answers

    if asyncio.run(mongo_answers(config.DEFAULT_MONGODB_URI, timeout_s=2.0)):
        return config.DEFAULT_MONGODB_URI
    click.echo(f"scrape: no MongoDB at {config.DEFAULT_MONGODB_URI}; using the store in "
               f"{config.DEFAULT_STORE_DIR} (pass --store to choose)", err=True)
    return config.DEFAULT_STORE_DIR


def _run_async(factory: Callable[[], Coroutine[Any, Any, T]], *,
               interrupted: str = "interrupted; run the same command again to resume") -> T:
    try:
        return asyncio.run(factory())
    except ScraperError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _interrupted(interrupted)


def _interrupted(message: str = "interrupted; run the same command again to resume") -> NoReturn:
    # Ctrl-C reaches the Playwright driver too (one process group): futures it leaves
    # behind would log "Future exception was never retrieved" after our one line.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    _fail(message, 130)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"scrape: error: {message}", err=True)
    sys.exit(code)


def main() -> None:
    """Console-script entry point: every ending is one line and a documented exit code."""
    try:
        code = cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # Ctrl-C outside a crawl
        _interrupted()
    except click.ClickException as exc:  # a bad flag: click's usage message, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except ScraperError as exc:  # raised while building Settings, outside asyncio
        _fail(str(exc), exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
