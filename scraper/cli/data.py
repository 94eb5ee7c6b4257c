"""Commands that read the store: export, status, dashboard, plot and report."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from .. import config
from ..errors import ConfigError
from .app import cli, fail, run_async
from .options import STORE_HELP, store_target, when

__all__ = ["dashboard", "export", "plot", "report", "status"]


@cli.command(short_help="Write a collection as JSON lines, CSV or parquet.")
@click.option("--store", help=STORE_HELP)
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
    from ..store.export import export as do_export
    from ..store.filters import ExportFilter
    from ..store.target import open_store

    keep = ExportFilter(vids=vids, since=when(since, "--since") if since else None,
                        until=when(until, "--until") if until else None, category=category)
    fmt = fmt or _format_of(out)
    if fmt == "parquet" and out is None:
        fail("--format parquet writes a file: give --out FILE.parquet", 2)
    target = store_target(store)
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

    count = run_async(main)
    click.echo(f"exported {count} {what}" + (f" to {out}" if out else "") + (
        f"; skipped {len(corrupt)} corrupt: {', '.join(corrupt)}" if corrupt else ""), err=True)


def _format_of(out: Path | None) -> str:
    suffix = out.suffix.lower() if out is not None else ""
    return {".csv": "csv", ".parquet": "parquet"}.get(suffix, "jsonl")


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


@cli.command(short_help="Show monitor jobs, tiers and queued runs.")
@click.option("--store", help=STORE_HELP)
def status(store: str | None) -> None:
    """Per monitor job and tier: how many videos, the next due, the last visit's failures;
    and the runs workers are still crawling.

    \b
    Example:
      scrape status --store mydata.db
    """
    from datetime import UTC, datetime

    from ..jobs.status import status_lines
    from ..store.target import open_store

    target = store_target(store)

    async def main() -> list[str]:
        async with open_store(target, must_exist=True) as opened:
            return await status_lines(opened, datetime.now(UTC))

    for line in run_async(main):
        click.echo(line)


@cli.command(short_help="Browse the store in a web browser.")
@click.option("--store", help=STORE_HELP)
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
    from ..web.serve import serve_dashboard

    target = store_target(store)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"scrape: warning: listening on {host}: anyone who reaches it there can "
                   "read the data in the store", err=True)
    run_async(lambda: serve_dashboard(target, host=host, port=port, open_browser=open_browser,
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
@click.option("--store", help=STORE_HELP)
@click.option("--chromium", help="Chromium executable (draws PNG and SVG).")
def plot(vids: tuple[str, ...], metric: str | None, since: str | None, out: Path, width: int,
         height: int, store: str | None, chromium: str | None) -> None:
    """Chart videos' views and comments against time, as the dashboard does, into a file."""
    from ..store.target import open_store
    from ..web.files import write_plot

    start = when(since) if since else None
    metrics = [metric] if metric else ["views", "comments"]
    browser = config.find_chromium(chromium)
    target = store_target(store)

    async def main() -> Path:
        async with open_store(target, must_exist=True) as opened:
            return await write_plot(opened, vids, out, metrics=metrics,  # type: ignore[arg-type]
                                    since=start, width=width, height=height, chromium=browser)

    click.echo(f"wrote {run_async(main)}", err=True)


@cli.command(short_help="Write a self-contained HTML report to share.")
@click.option("--store", help=STORE_HELP)
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The HTML file to write.")
@click.option("--top", type=click.IntRange(0, 500), default=10, show_default=True,
              help="Chart this many of the most viewed videos.")
def report(store: str | None, out: Path, top: int) -> None:
    """Write one HTML file to share: the overview and the top videos' charts. It opens
    anywhere, without a network."""
    from ..store.target import open_store
    from ..web.files import write_report

    target = store_target(store)

    async def main() -> int:
        async with open_store(target, must_exist=True) as opened:
            return await write_report(opened, out, top=top)

    charted = run_async(main)
    click.echo(f"wrote {out} ({charted} video charts)", err=True)
