"""The ``scrape`` command: options -> Settings -> one ``asyncio.run`` -> one error line."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from . import config
from .errors import ScraperError

__all__ = ["main"]

T = TypeVar("T")

_RESOLVE_HELP = ("Map hosts to an address, like curl --resolve: 'PATTERN=ADDR:PORT', "
                 "e.g. '*.test=127.0.0.1:8899'. Repeatable; also read from SCRAPER_RESOLVE.")
_DEFAULTS = config.Settings()
_STORE_HELP = ("Where data goes: a MongoDB URI (mongodb://HOST/DB) or a directory (the "
               "embedded JSON store). Default: MONGODB_URI, else mongodb://localhost:27017/"
               "scraper if it answers within 2 s, else ./scrape-data.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def cli(verbose: int, quiet: bool) -> None:
    """Collect a video site's category into MongoDB, with files, comments and stats.

    \b
    Quick start against the bundled replica (see README):
      scrape run --category today-hot --resolve '*.test=127.0.0.1:8899'
    """
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    for noisy in ("asyncio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@cli.command()
@click.option("--category", default="today-hot", show_default=True,
              help="Category to crawl, by CLI name (today-hot, …).")
@click.option("--site", default="youku-replica", show_default=True,
              help="Site profile under selectors/ (youku, youku-replica).")
@click.option("--pages", type=click.IntRange(min=1), help="Stop after this many catalogue pages.")
@click.option("--max-videos", type=click.IntRange(min=1), help="Stop after this many videos.")
@click.option("--store", help=_STORE_HELP)
@click.option("--media-dir", type=click.Path(path_type=Path), default=Path("media"),
              show_default=True, help="Where thumbnails and segments are written.")
@click.option("--resolve", "resolve", multiple=True, help=_RESOLVE_HELP)
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Browser tabs rendering pages at once.")
@click.option("--no-media", is_flag=True, help="Record segments but download no files.")
@click.option("--stream", "streams", multiple=True, default=("mp4sd",), show_default=True,
              help="Stream type to download, in order of preference (repeatable); a video "
              "without any is recorded as unavailable with the types it has.")
@click.option("--max-comments", type=click.IntRange(min=0),
              help="At most this many top-level comments per video (0: none).")
@click.option("--headed", is_flag=True, help="Show the browser (needs a display: xvfb-run).")
@click.option("--slow-mo", "slow_mo", type=click.IntRange(min=0), default=0,
              help="With --headed: slow every browser action by this many ms.")
@click.option("--selectors", "selectors_dir", type=click.Path(path_type=Path),
              help="Use site profiles and selector files from this directory.")
@click.option("--chromium", help="Chromium executable (default: SCRAPER_CHROMIUM, "
              "/usr/bin/chromium, then Playwright's own).")
@click.option("--enqueue-only", is_flag=True,
              help="Only read the catalogue into the store; `scrape worker`s crawl the videos.")
def run(**options: Any) -> None:
    """Crawl a whole category: videos, files, comments and a stats snapshot.

    Re-running the same command resumes an interrupted run, or, once a run has
    finished, crawls again: static fields are kept, figures and snapshots move on.
    """
    from .jobs.run import run_crawl
    from .progress import Reporter, Stats, format_summary

    settings = _settings(**options)
    if options["enqueue_only"]:
        from .jobs.run import enqueue_run

        queued = _run_async(lambda: enqueue_run(settings))
        click.echo(f"{queued.detail} in {queued.store} (start them: scrape worker "
                   f"--store {queued.store})", err=True)
        return
    reporter = Reporter(Stats())
    outcome = _run_async(lambda: run_crawl(settings, reporter=reporter))
    click.echo(format_summary(outcome.stats, store=outcome.store, media=outcome.media_dir,
                              elapsed_s=outcome.elapsed_s), err=True)
    if outcome.stats["videos.failed"] and not any(
        outcome.stats[k] for k in ("videos.ok", "videos.partial", "videos.unavailable")
    ):
        sys.exit(1)


@cli.command()
@click.option("--store", help=_STORE_HELP)
@click.option("--what", type=click.Choice(["videos", "comments", "snapshots"]), required=True,
              help="Which collection to export.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write here instead of stdout.")
def export(store: str | None, what: str, fmt: str, out: Path | None) -> None:
    """Write a collection as JSON lines (one record per line) or CSV."""
    from .store.export import export as do_export
    from .store.target import open_store

    target = _store_target(store)

    async def main() -> int:
        async with open_store(target) as opened:
            if out is None:
                return await do_export(opened, what, fmt, sys.stdout)  # type: ignore[arg-type]
            with out.open("w", encoding="utf-8", newline="") as handle:
                return await do_export(opened, what, fmt, handle)  # type: ignore[arg-type]

    count = _run_async(main)
    click.echo(f"exported {count} {what}" + (f" to {out}" if out else ""), err=True)


@cli.command()
@click.argument("url")
@click.option("--site", default="youku-replica", show_default=True, help="Site profile.")
@click.option("--pause", is_flag=True, help="Open the Playwright Inspector on the page.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("scrape-debug"),
              show_default=True, help="Where the screenshot and trace go.")
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


@cli.command("refresh-selectors")
@click.option("--site", default="youku-replica", show_default=True, help="Site profile.")
@click.option("--category", default="today-hot", show_default=True,
              help="Category whose pages are sampled.")
@click.option("--sample", type=click.IntRange(2, 200), default=12, show_default=True,
              help="Video pages to sample (catalogue pages: a third of it, at least 2).")
@click.option("--store", help=_STORE_HELP + " Known values and fingerprints come from it.")
@click.option("--write/--dry-run", default=False, show_default=True,
              help="Write repaired fields as a new selector version, or only report.")
@click.option("--resolve", "resolve", multiple=True, help=_RESOLVE_HELP)
@click.option("--selectors", "selectors_dir", type=click.Path(path_type=Path),
              help="Use site profiles and selector files from this directory.")
@click.option("--chromium", help="Chromium executable.")
def refresh_selectors(site: str, category: str, sample: int, store: str | None, write: bool,
                      resolve: tuple[str, ...], selectors_dir: Path | None,
                      chromium: str | None) -> None:
    """Check every selector field on live pages and repair those a redesign broke.

    Broken fields are relocated from the values stored by earlier runs and the element
    fingerprints they kept; a repair is accepted only when every sampled page agrees.
    With --write the repairs become a new version file (existing versions are never
    edited). Exits 1 if a required field could not be repaired.
    """
    from .repair.refresh import refresh_selectors as refresh
    from .repair.report import render_report

    settings = config.Settings(
        site=site, category=category, store=_store_target(store), selectors_dir=selectors_dir,
        resolve=_resolve_rules(resolve), chromium=config.find_chromium(chromium),
    ).checked()
    report = _run_async(lambda: refresh(settings, sample=sample, write=write))
    click.echo(render_report(report, write=write))
    if report.failed:
        _fail(f"could not repair required fields: {', '.join(report.failed)}", 1)


@cli.command()
@click.option("--category", default="today-hot", show_default=True,
              help="Category to follow, by CLI name (today-hot, …).")
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
              show_default=True, help="Where new videos' thumbnails and segments go.")
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
def monitor(**options: Any) -> None:
    """Follow a category over time: new videos crawled in full once, then their views and
    comments revisited at the pace of their tier (hot hourly, cold daily).

    The schedule lives in the store: stop at any time and run the command again.
    """
    from dataclasses import replace

    from .jobs.monitor import run_monitor
    from .jobs.tiers import parse_interval, parse_tiers

    tiers = parse_tiers(options["tiers"], default_rates=_DEFAULTS.tier_rates)
    duration = parse_interval(options["duration"], what="--for") if options["duration"] else None
    settings = replace(_settings(**options, headed=False, slow_mo=0), tiers=options["tiers"],
                       worker_id=options["worker_id"] or _DEFAULTS.worker_id)
    outcome = _run_async(lambda: run_monitor(
        settings, tiers=tiers, duration_s=duration, tracked=options["track"],
        once=options["once"], enqueue_only=options["enqueue_only"]))
    stats = outcome.stats
    if options["enqueue_only"]:
        click.echo(f"monitor job scheduled in {outcome.store}; start workers: scrape worker "
                   f"--store {outcome.store}\n{outcome.detail}", err=True)
        return
    click.echo(f"{_visits(stats)} in {outcome.elapsed_s:.1f}s to {outcome.store}\n"
               f"{outcome.detail}", err=True)
    if stats["visits.failed"] and not any(
            stats[k] for k in ("visits.first", "visits.revisit", "visits.catalogue")):
        sys.exit(1)


@cli.command()
@click.option("--id", "worker_id", help="This worker's name, recorded with its work "
              "(default HOST-PID).")
@click.option("--store", help=_STORE_HELP)
@click.option("--media-dir", type=click.Path(path_type=Path), default=Path("media"),
              show_default=True, help="Where thumbnails and segments are written.")
@click.option("--resolve", "resolve", multiple=True, help=_RESOLVE_HELP)
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Pieces of work at once (browser tabs).")
@click.option("--once", is_flag=True, help="Do what is due now, then exit.")
@click.option("--selectors", "selectors_dir", type=click.Path(path_type=Path),
              help="Use site profiles and selector files from this directory.")
@click.option("--chromium", help="Chromium executable.")
def worker(worker_id: str | None, store: str | None, media_dir: Path,
           resolve: tuple[str, ...], concurrency: int, once: bool, selectors_dir: Path | None,
           chromium: str | None) -> None:
    """Crawl what the store holds: videos of `scrape run --enqueue-only` runs and due
    visits of `scrape monitor` jobs. Start any number against one MongoDB store."""
    from .jobs.worker import run_worker

    settings = config.Settings(
        store=_store_target(store), media_dir=media_dir, selectors_dir=selectors_dir,
        resolve=_resolve_rules(resolve), concurrency=concurrency,
        chromium=config.find_chromium(chromium), worker_id=worker_id or _DEFAULTS.worker_id,
    ).checked()
    outcome = _run_async(lambda: run_worker(settings, once=once))
    videos = {k.removeprefix("videos."): v for k, v in outcome.stats.items()
              if k.startswith("videos.") and k != "videos.new"}
    click.echo(f"worker {settings.worker_id}: videos " + (", ".join(
        f"{n} {kind}" for kind, n in sorted(videos.items())) or "none") + f"; "
        f"{_visits(outcome.stats)} in {outcome.elapsed_s:.1f}s on {outcome.store}", err=True)


@cli.command()
@click.option("--store", help=_STORE_HELP)
def status(store: str | None) -> None:
    """Per monitor job and tier: how many videos, the next due, the last visit's failures;
    and the runs workers are still crawling."""
    from datetime import UTC, datetime

    from .jobs.status import status_lines
    from .store.target import open_store

    target = _store_target(store)

    async def main() -> list[str]:
        async with open_store(target) as opened:
            return await status_lines(opened, datetime.now(UTC))

    for line in _run_async(main):
        click.echo(line)


@cli.command()
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


@cli.command()
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

    start = _since(since) if since else None
    metrics = [metric] if metric else ["views", "comments"]
    browser = config.find_chromium(chromium)
    target = _store_target(store)

    async def main() -> Path:
        async with open_store(target) as opened:
            return await write_plot(opened, vids, out, metrics=metrics,  # type: ignore[arg-type]
                                    since=start, width=width, height=height, chromium=browser)

    click.echo(f"wrote {_run_async(main)}", err=True)


@cli.command()
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
        async with open_store(target) as opened:
            return await write_report(opened, out, top=top)

    charted = _run_async(main)
    click.echo(f"wrote {out} ({charted} video charts)", err=True)


def _since(text: str) -> datetime:
    from datetime import UTC, timedelta

    from .jobs.tiers import parse_interval

    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        ago = parse_interval(text, what="--since (an ISO date or time, or a duration)")
        return datetime.now(UTC) - timedelta(seconds=ago)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _visits(stats: Any) -> str:
    return (f"visits: {stats['visits.first']} first, {stats['visits.revisit']} revisits, "
            f"{stats['visits.failed']} failed; {stats['visits.catalogue']} catalogue reads "
            f"({stats['videos.new']} new videos); {stats['comments.new']} new comments")


def _resolve_rules(extra: tuple[str, ...]) -> tuple[config.ResolveRule, ...]:
    return config.parse_resolve([*extra, *filter(None, [config.env("SCRAPER_RESOLVE")])])


def _settings(**options: Any) -> config.Settings:
    resolve = _resolve_rules(options["resolve"])
    return config.Settings(
        site=options["site"], category=options["category"],
        store=_store_target(options["store"]), media_dir=options["media_dir"],
        selectors_dir=options["selectors_dir"], resolve=resolve, pages=options["pages"],
        max_videos=options["max_videos"], concurrency=options["concurrency"],
        no_media=options["no_media"], max_comments=options["max_comments"],
        streams=tuple(options.get("streams") or ("mp4sd",)),
        headed=options["headed"], slow_mo_ms=options["slow_mo"],
        chromium=config.find_chromium(options["chromium"], headless=not options["headed"]),
    ).checked()


def _store_target(explicit: str | None) -> str:
    """--store, else MONGODB_URI, else a local server that answers, else ./scrape-data."""
    chosen = explicit or config.env("MONGODB_URI")
    if chosen:
        return chosen
    from .store.mongo import mongo_answers

    if asyncio.run(mongo_answers(config.DEFAULT_MONGODB_URI, timeout_s=2.0)):
        return config.DEFAULT_MONGODB_URI
    click.echo(f"scrape: no MongoDB at {config.DEFAULT_MONGODB_URI}; storing in "
               f"{config.DEFAULT_STORE_DIR} (pass --store to choose)", err=True)
    return config.DEFAULT_STORE_DIR


def _run_async(factory: Callable[[], Coroutine[Any, Any, T]], *,
               interrupted: str = "interrupted; run the same command again to resume") -> T:
    try:
        return asyncio.run(factory())
    except ScraperError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail(interrupted, 130)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"scrape: error: {message}", err=True)
    sys.exit(code)


def main() -> None:
    """Console-script entry point."""
    try:
        cli(standalone_mode=True)
    except ScraperError as exc:  # raised while building Settings, outside asyncio
        _fail(str(exc), exc.exit_code)
