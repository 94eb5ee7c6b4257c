"""Commands for selectors the site's markup broke: see them (debug), repair them."""

from __future__ import annotations

from pathlib import Path

import click

from .. import config
from .app import cli, fail, run_async
from .options import RESOLVE_HELP, STORE_HELP, categories_help, resolve_rules, store_target

__all__ = ["debug", "refresh_selectors"]


@cli.command(short_help="Show one page headed with every field outlined.")
@click.argument("url")
@click.option("--site", default="youku-replica", show_default=True, help="Site profile.")
@click.option("--pause", is_flag=True, help="Open the Playwright Inspector on the page.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("scrape-debug"),
              show_default=True,
              help="Where the screenshot and trace go (relative to the current directory).")
@click.option("--resolve", "resolve", multiple=True, help=RESOLVE_HELP)
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
    from ..debug import debug_page

    settings = config.Settings(
        site=site, selectors_dir=selectors_dir, headed=True,
        chromium=config.find_chromium(chromium, headless=False),
        resolve=resolve_rules(resolve),
    ).checked()
    report = run_async(lambda: debug_page(settings, url, out_dir=out, pause=pause))
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
              help=categories_help("sample"))
@click.option("--sample", type=click.IntRange(2, 200), default=12, show_default=True,
              help="Video pages to sample (catalogue pages: a third of it, at least 2).")
@click.option("--channel", "channels", multiple=True,
              help="Also check the channel pages on this channel (uid or link; repeatable): "
              "its home's head and its video list.")
@click.option("--store", help=STORE_HELP + " Known values and fingerprints come from it.")
@click.option("--write/--dry-run", default=False, show_default=True,
              help="Write repaired fields as a new selector version, or only report.")
@click.option("--resolve", "resolve", multiple=True, help=RESOLVE_HELP)
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
    from ..repair.refresh import refresh_selectors as refresh
    from ..repair.report import render_report

    settings = config.Settings(
        site=site, category=category, store=store_target(store), selectors_dir=selectors_dir,
        resolve=resolve_rules(resolve), chromium=config.find_chromium(chromium),
        channels=channels,
    ).checked()
    report = run_async(lambda: refresh(settings, sample=sample, write=write))
    click.echo(render_report(report, write=write))
    if report.failed:
        fail(f"could not repair required fields: {', '.join(report.failed)}", 1)
