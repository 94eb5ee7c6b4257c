"""``scrape dashboard``: a read-only aiohttp app over any ``Store``.

Routes: ``/`` (Overview), ``/videos`` (the table, filtered, sorted and paged on the
server), ``/video/{vid}``, ``/channels``, ``/channel/{uid}`` (followers against time and
the channel's videos), ``/thumb/{vid}`` (the thumbnail file the crawl saved),
``/events`` (server-sent events: the store's version whenever it changes, so open pages
refresh themselves while a crawl or a monitor writes) and ``/static/*`` (plotly.js from
the ``plotly`` package, the app's script and style). Only GET; every page carries a
Content-Security-Policy that runs no script but those two files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ..store.base import Store
from .channels import channel_list, channel_view
from .charts import hourly_figure, read_channel_series, read_series, series_figure
from .overview import overview, store_version
from .pages import CSP, render, static_text
from .snapshots import SnapshotIndex
from .videos import SORTS, VideoFilters, category_runs, video_page

__all__ = ["STORE_KEY", "make_app", "video_fields"]

log = logging.getLogger(__name__)

STORE_KEY = web.AppKey("store", Store)
_INDEX = web.AppKey("index", SnapshotIndex)
_POLL = web.AppKey("poll_s", float)
_PAGE_SIZE = web.AppKey("page_size", int)
_VERSION = web.RequestKey("store_version", str)
_OPTIONS = web.AppKey("filter_options", dict[str, list[str]])
_CLOSING = web.AppKey("closing", asyncio.Event)
_STATIC_TYPES = {"plotly.min.js": "text/javascript", "app.js": "text/javascript",
                 "style.css": "text/css"}
_SORT_LABELS = {"views": "views", "growth": "views gained per hour", "comments": "comments",
                "last": "last visit"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(store: Store, *, poll_s: float = 2.0, page_size: int = 50) -> web.Application:
    """The dashboard over an open ``store``; ``poll_s``: how often /events looks for writes;
    ``page_size``: rows per page of the Videos table."""
    app = web.Application(middlewares=[_headers])
    app[STORE_KEY], app[_INDEX], app[_POLL] = store, SnapshotIndex(store), poll_s
    app[_PAGE_SIZE], app[_OPTIONS] = page_size, {}
    app[_CLOSING] = asyncio.Event()
    app.on_shutdown.append(_close_streams)
    app.router.add_get("/", _overview)
    app.router.add_get("/videos", _videos)
    app.router.add_get("/video/{vid}", _video)
    app.router.add_get("/channels", _channels)
    app.router.add_get("/channel/{uid}", _channel)
    app.router.add_get("/thumb/{vid}", _thumb)
    app.router.add_get("/events", _events)
    app.router.add_get("/static/{name}", _static)
    return app


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


async def _version(request: web.Request) -> str:
    """The store's version, read once per request (it counts whole collections)."""
    if _VERSION not in request:
        request[_VERSION] = await store_version(request.app[STORE_KEY])
    return request[_VERSION]


async def _page(request: web.Request, template: str, **context: Any) -> web.Response:
    store = request.app[STORE_KEY]
    text = render(template, inline=False, store_name=store.description,
                  version=await _version(request), **context)
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})


async def _overview(request: web.Request) -> web.Response:
    found = await overview(request.app[STORE_KEY], request.app[_INDEX])
    return await _page(request, "overview.html", o=found, hourly=hourly_figure(found.per_hour))


async def _videos(request: web.Request) -> web.Response:
    store, index = request.app[STORE_KEY], request.app[_INDEX]
    await index.refresh()
    filters = VideoFilters.from_query(request.query)
    page = await video_page(store, index, filters, page_size=request.app[_PAGE_SIZE])
    options = await _filter_options(request)

    def page_url(number: int) -> str:
        return "/videos?" + urlencode({**request.query, "page": str(number)})

    return await _page(request, "videos.html", p=page, f=filters, options=options,
                       sorts={key: _SORT_LABELS[key] for key in SORTS}, page_url=page_url)


async def _filter_options(request: web.Request) -> dict[str, list[str]]:
    """The values each filter offers; read again only once the store has changed."""
    store, cached = request.app[STORE_KEY], request.app[_OPTIONS]
    version = await _version(request)
    if cached.get("version") != [version]:
        cached.clear()
        cached["version"] = [version]
        cached["category"] = list(await category_runs(store))
        cached["tag"] = await store.distinct("videos", "category")
        cached["channel"] = await store.distinct("videos", "channel_name")
        cached["status"] = await store.distinct("videos", "status")
        cached["tier"] = await store.distinct("schedule", "tier", {"kind": "video"})
    return {name: values for name, values in cached.items() if name != "version"}


async def _video(request: web.Request) -> web.Response:
    store, vid = request.app[STORE_KEY], request.match_info["vid"]
    video = await store.get_doc("videos", vid)
    if video is None:
        raise web.HTTPNotFound(text=f"no video {vid} in the store")
    series = await read_series(store, vid)
    comments = await store.find_page("comments", {"vid": vid}, sort=[("time", 1)])
    return await _page(
        request, "video.html", v=video, fields=video_fields(video),
        thumb=_thumb_file(video) is not None, figure=series_figure([series], ["views", "comments"]),
        snapshots=series.snapshots, comments=comments, comment_count=len(comments))


async def _channels(request: web.Request) -> web.Response:
    return await _page(request, "channels.html",
                       channels=await channel_list(request.app[STORE_KEY]))


async def _channel(request: web.Request) -> web.Response:
    store, uid = request.app[STORE_KEY], request.match_info["uid"]
    found = await channel_view(store, uid)
    if found is None:
        raise web.HTTPNotFound(text=f"no channel {uid} in the store")
    series = await read_channel_series(store, uid)
    return await _page(request, "channel.html", c=found, snapshots=series.snapshots,
                       figure=series_figure([series], ["followers"]))


def video_fields(video: dict[str, Any]) -> list[tuple[str, Any]]:
    """The video's fields as (name, value) rows; lists and sub-documents shown apart."""
    skip = {"_id", "segments", "comment_hot", "crawl", "file_paths"}
    rows = [(name, value) for name, value in video.items() if name not in skip]
    crawl = video.get("crawl", {})
    rows += [(f"crawl.{name}", value) for name, value in crawl.items()]
    return rows


def _thumb_file(video: dict[str, Any]) -> Path | None:
    path = video.get("thumb_path")
    return Path(path) if path and Path(path).is_file() else None


async def _thumb(request: web.Request) -> web.StreamResponse:
    video = await request.app[STORE_KEY].get_doc("videos", request.match_info["vid"])
    found = _thumb_file(video) if video else None
    if found is None:
        raise web.HTTPNotFound()
    return web.FileResponse(found, headers={"Content-Type": "image/jpeg"})


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC_TYPES:
        raise web.HTTPNotFound()
    return web.Response(text=static_text(name), content_type=_STATIC_TYPES[name],
                        headers={"Cache-Control": "max-age=3600"})


async def _events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the store's version now, then each time it changes."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})
    await response.prepare(request)
    store, closing, last = request.app[STORE_KEY], request.app[_CLOSING], ""
    while not closing.is_set():
        version = await store_version(store)
        if version != last:
            try:
                await response.write(f"event: version\ndata: {version}\n\n".encode())
            except ConnectionResetError:  # the page was closed
                break
            last = version
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), request.app[_POLL])
    return response


async def _close_streams(app: web.Application) -> None:
    """End every /events stream, so the server stops without waiting for the pages."""
    app[_CLOSING].set()
