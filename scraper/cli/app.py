"""The ``scrape`` group and how every command ends: one line and a documented exit code."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import click

from ..errors import ScraperError

__all__ = ["cli", "fail", "main", "run_async"]

T = TypeVar("T")


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


def run_async(factory: Callable[[], Coroutine[Any, Any, T]], *,
              interrupted: str = "interrupted; run the same command again to resume") -> T:
    try:
        return asyncio.run(factory())
    except ScraperError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _interrupted(interrupted)


def _interrupted(message: str = "interrupted; run the same command again to resume") -> NoReturn:
    # Ctrl-C reaches the Playwright driver too (one process group): futures it leaves
    # behind would log "Future exception was never retrieved" after our one line.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    fail(message, 130)


def fail(message: str, code: int) -> NoReturn:
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
        fail(str(exc), exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
