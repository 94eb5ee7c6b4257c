"""``scrape plot`` and ``scrape report``: the dashboard's charts as files to share.

Both are one self-contained HTML file (plotly.js and the app's script inline, admitted
by hash in the file's own Content-Security-Policy), so they open without a network. A
PNG or SVG plot is that file drawn in headless Chromium and exported by plotly.js.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..browser.render import evaluate_file
from ..errors import ConfigError
from ..store.base import Store
from .charts import Metric, hourly_figure, read_series, series_figure
from .overview import overview
from .pages import inline_policy, render, script_body, static_text
from .snapshots import SnapshotIndex

__all__ = ["FORMATS", "plot_html", "write_plot", "write_report"]

FORMATS = ("html", "png", "svg")


def _standalone(template: str, **context: Any) -> str:
    policy = inline_policy(script_body("plotly.min.js"), script_body("app.js"))
    return render(template, inline=True, policy=policy, style=static_text("style.css"),
                  now=datetime.now(UTC), version="", **context)


async def plot_html(store: Store, vids: Sequence[str], *, metrics: Sequence[Metric],
                    since: datetime | None = None) -> str:
    """One chart of ``vids``' snapshots, as a standalone page."""
    series = [await read_series(store, vid, since=since) for vid in vids]
    missing = [one.vid for one in series if not one.snapshots]
    if missing:
        raise ConfigError(f"no snapshots of {', '.join(missing)} in {store.description}"
                          + (" since then" if since else ""))
    return _standalone("plot.html", figure=series_figure(series, metrics),
                       heading=", ".join(vids), store_name=store.description)


async def write_plot(store: Store, vids: Sequence[str], out: Path, *, metrics: Sequence[Metric],
                     since: datetime | None = None, width: int = 1000, height: int = 600,
                     chromium: str | None = None) -> Path:
    """Write the chart to ``out``: HTML as it is, PNG or SVG drawn by Chromium."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ConfigError(f"cannot write a plot to {out}: name a .html, .png or .svg file")
    page = await plot_html(store, vids, metrics=metrics, since=since)
    if fmt == "html":
        await _write(out, page.encode())
        return out
    with tempfile.TemporaryDirectory(prefix="scrape-plot-") as tmp:
        html = Path(tmp) / "plot.html"
        await _write(html, page.encode())
        url = await evaluate_file(html, f"window.chartImage({fmt!r}, {width}, {height})",
                                  executable=chromium)
    await _write(out, _data_url_bytes(str(url)))
    return out


async def _write(path: Path, data: bytes) -> None:
    try:
        await asyncio.to_thread(path.write_bytes, data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _data_url_bytes(url: str) -> bytes:
    header, _, data = url.partition(",")
    return base64.b64decode(data) if header.endswith(";base64") else unquote(data).encode()


async def write_report(store: Store, out: Path, *, top: int = 10) -> int:
    """Write the overview and the charts of the ``top`` most viewed videos; returns how many
    videos have a chart."""
    found = await overview(store, SnapshotIndex(store))
    videos = await store.find_page("videos", {"stat_play": {"$gte": 0}},
                                   sort=[("stat_play", -1)], limit=top)
    charts = [{"video": video, "figure": series_figure(
        [await read_series(store, video["_id"])], ["views", "comments"])} for video in videos]
    page = _standalone("report.html", o=found, hourly=hourly_figure(found.per_hour), top=charts,
                       store_name=store.description)
    await _write(out, page.encode())
    return len(charts)
