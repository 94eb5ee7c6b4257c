"""Plotly figures (data and layout, as JSON-ready dicts) of videos' snapshots.

The browser draws them with the plotly.js bundle the ``plotly`` package ships. Plotly
renders a few HTML-like tags inside labels, so text from the site is entity-escaped
before it becomes a trace name or hover text: it shows as written.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ..store.base import Store
from ..store.documents import Doc

__all__ = ["METRICS", "Metric", "Series", "hourly_figure", "read_channel_series", "read_series",
           "series_figure"]

Metric = Literal["views", "comments", "followers"]
# Metric -> (snapshot field, axis title, the field holding the text the site showed).
METRICS: dict[str, tuple[str, str, str]] = {
    "views": ("stat_play", "views", "stat_play_text"),
    "comments": ("comment_total", "comments (comment_total)", "stat_play_text"),
    "followers": ("followers", "followers", "followers_text"),
}


@dataclass(frozen=True, slots=True)
class Series:
    """One video's snapshots, oldest first, and how to name it."""

    vid: str
    label: str
    snapshots: list[Doc]


async def read_series(store: Store, vid: str, *, since: datetime | None = None) -> Series:
    """The snapshots of ``vid`` (from ``since`` on), labelled with its title."""
    query: dict[str, Any] = {"vid": vid}
    if since is not None:
        query["ts"] = {"$gte": since}
    snaps = await store.find_page("snapshots", query, sort=[("ts", 1)])
    video = await store.get_doc("videos", vid)
    title = video.get("title") if video else None
    return Series(vid=vid, label=f"{title} ({vid})" if title else vid, snapshots=snaps)


async def read_channel_series(store: Store, uid: str) -> Series:
    """A channel's snapshots, oldest first, labelled with its name."""
    snaps = await store.find_page("channel_snapshots", {"uid": uid}, sort=[("ts", 1)])
    channel = await store.get_doc("channels", uid)
    name = channel.get("name") if channel else None
    return Series(vid=uid, label=f"{name} ({uid})" if name else uid, snapshots=snaps)


def series_figure(series: Sequence[Series], metrics: Sequence[Metric]) -> dict[str, Any]:
    """One chart: a line per video and metric; with two metrics, comments on a right axis."""
    traces = [_trace(one, metric, axis=n, named=len(series) > 1 or len(metrics) > 1)
              for one in series for n, metric in enumerate(metrics)]
    layout: dict[str, Any] = {
        "margin": {"l": 70, "r": 70, "t": 30, "b": 50}, "hovermode": "closest",
        "xaxis": {"title": {"text": "time (UTC)"}, "type": "date"},
        "yaxis": {"title": {"text": METRICS[metrics[0]][1]}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.2},
    }
    if len(metrics) > 1:
        layout["yaxis2"] = {"title": {"text": METRICS[metrics[1]][1]}, "overlaying": "y",
                            "side": "right", "rangemode": "tozero"}
    return {"data": traces, "layout": layout}


def _trace(series: Series, metric: Metric, *, axis: int, named: bool) -> dict[str, Any]:
    field, label, shown = METRICS[metric]
    snaps = [s for s in series.snapshots if s.get(field) is not None]
    name = f"{series.label} · {label}" if named else label
    return {
        "type": "scatter", "mode": "lines+markers", "name": html.escape(name),
        "x": [s["ts"].isoformat() for s in snaps], "y": [s[field] for s in snaps],
        "yaxis": "y2" if axis else "y",
        "customdata": [[html.escape(s.get(shown) or ""), s.get("tier") or "",
                        html.escape(s.get("run_id") or "")] for s in snaps],
        "hovertemplate": (f"{html.escape(series.vid)}<br>%{{x}}<br>{label}: %{{y}}"
                          "<br>shown: %{customdata[0]} · tier %{customdata[1]}"
                          "<br>run %{customdata[2]}<extra></extra>"),
    }


def hourly_figure(per_hour: Sequence[tuple[datetime, int]]) -> dict[str, Any]:
    """Visits (snapshots written) per hour over the crawl period, as bars."""
    return {
        "data": [{"type": "bar", "name": "visits", "x": [h.isoformat() for h, _ in per_hour],
                  "y": [n for _, n in per_hour],
                  "hovertemplate": "%{x}<br>%{y} videos visited<extra></extra>"}],
        "layout": {"margin": {"l": 60, "r": 20, "t": 20, "b": 40},
                   "xaxis": {"type": "date", "title": {"text": "hour (UTC)"}},
                   "yaxis": {"title": {"text": "videos crawled"}}},
    }
