"""Options several commands share, their help texts, and options -> ``Settings``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from .. import config
from ..errors import ScraperError

__all__ = ["DEFAULTS", "MEDIA_HELP", "RESOLVE_HELP", "STORE_HELP", "browser_life_options",
           "categories_help", "crawl_target_options", "resolve_rules", "settings_from",
           "store_target", "when"]

RESOLVE_HELP = ("Map hosts to an address: 'PATTERN=ADDR:PORT' (e.g. '*.test=127.0.0.1:8899') "
                "or curl's --resolve form 'HOST:PORT:ADDR'. Repeatable; also read from "
                "SCRAPER_RESOLVE.")
MEDIA_HELP = "Where thumbnails and segments go (relative to the current directory)."
STORE_HELP = ("Where data goes: a MongoDB URI (mongodb://HOST/DB), an SQLite file (*.db, "
              "*.sqlite) or a directory (holding scrape.db). Default: MONGODB_URI, else "
              "mongodb://localhost:27017/scraper if it answers within 2 s, else ./scrape-data.")
DEFAULTS = config.Settings()


def categories_help(verb: str) -> str:
    """--category's help, with the default site's categories (read from its profile)."""
    from ..site.profile import load_profile

    try:
        names = ", ".join(load_profile(DEFAULTS.site, selectors_dir=None).categories)
    except ScraperError:  # a broken profile is reported when a command uses it
        names = "see the site profile"
    return f"Category to {verb}, by CLI name ({DEFAULTS.site}: {names})."


def crawl_target_options(command: Callable[..., None]) -> Callable[..., None]:
    """Where a crawl writes and how it reaches the site (run, monitor, worker)."""
    options = [
        click.option("--store", help=STORE_HELP),
        click.option("--media-dir", type=click.Path(path_type=Path), default=Path("media"),
                     show_default=True, help=MEDIA_HELP),
        click.option("--resolve", "resolve", multiple=True, help=RESOLVE_HELP),
    ]
    return _stacked(command, options)


def browser_life_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options that bound Chromium's life on long runs (run, monitor, worker)."""
    options = [
        click.option("--browser-relaunches", type=click.IntRange(min=0),
                     default=DEFAULTS.browser_relaunches, show_default=True,
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
    return _stacked(command, options)


def _stacked(command: Callable[..., None],
             options: Sequence[Callable[[Any], Any]]) -> Callable[..., None]:
    """``command`` with ``options`` applied as decorators listed top to bottom would be."""
    for option in reversed(options):
        command = option(command)
    return command


def when(text: str, what: str = "--since") -> datetime:
    """An ISO date or time (UTC unless it says otherwise), or how long ago (24h, 7d)."""
    from datetime import UTC, timedelta

    from ..jobs.tiers import parse_interval

    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        ago = parse_interval(text, what=f"{what} (an ISO date or time, or a duration)")
        return datetime.now(UTC) - timedelta(seconds=ago)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def resolve_rules(extra: tuple[str, ...]) -> tuple[config.ResolveRule, ...]:
    return config.parse_resolve([*extra, *filter(None, [config.env("SCRAPER_RESOLVE")])])


def _lists(options: dict[str, Any]) -> dict[str, Any]:
    """--category (repeatable, 'all') and --channel as Settings fields."""
    if "categories" not in options:
        return {"category": options["category"]}
    categories = tuple(options["categories"])
    named = [c for c in categories if c != "all"]
    return {"category": named[0] if named else DEFAULTS.category,
            "categories": categories or None, "channels": tuple(options["channels"])}


def settings_from(**options: Any) -> config.Settings:
    """The Settings of `scrape run`'s options (and of monitor's, which share most)."""
    resolve = resolve_rules(options["resolve"])
    return config.Settings(
        site=options["site"], **_lists(options),
        store=store_target(options["store"]), media_dir=options["media_dir"],
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


def store_target(explicit: str | None) -> str:
    """--store, else MONGODB_URI, else a local server that answers, else ./scrape-data."""
    chosen = explicit or config.env("MONGODB_URI")
    if chosen:
        return chosen
    from ..store.mongo import mongo_answers

    if asyncio.run(mongo_answers(config.DEFAULT_MONGODB_URI, timeout_s=2.0)):
        return config.DEFAULT_MONGODB_URI
    click.echo(f"scrape: no MongoDB at {config.DEFAULT_MONGODB_URI}; using the store in "
               f"{config.DEFAULT_STORE_DIR} (pass --store to choose)", err=True)
    return config.DEFAULT_STORE_DIR
