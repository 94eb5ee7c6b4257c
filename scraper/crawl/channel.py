"""One channel (uploader): its home page's head and the pages of its video list.

The head (name, avatar, followers, videos, plays) is inserted by the page's own script, so
it is read from the rendered DOM, polled briefly like a video page's title module. The
video list is server-rendered and read like a catalogue page: cards, then 下一页 from the
pager (the channel list's pager is the catalogue's).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ..errors import BrowserError, ConfigError, SelectorDrift, UnknownChannel
from ..models import CardInfo, Channel, ChannelSnapshot
from ..progress import Count, drift_key
from ..site.extract import Extraction, extract_items, extract_page
from ..site.profile import channel_list
from .context import VideoContext

__all__ = ["ChannelPage", "channel_snapshot", "read_channel",
           "read_channel_videos", "visit_channel"]

_HEAD_POLLS = 20
_HEAD_POLL_S = 0.1
_FIGURES = ("followers", "followers_text", "videos", "videos_text", "plays", "plays_text")


@dataclass(frozen=True, slots=True)
class ChannelPage:
    """One page of a channel's video list: its cards and the next page's URL."""

    cards: list[CardInfo]
    next_url: str | None


def _retrying(ctx: VideoContext) -> AsyncRetrying:
    settings = ctx.settings
    return AsyncRetrying(
        stop=stop_after_attempt(max(1, settings.render_attempts)),
        wait=wait_random_exponential(multiplier=settings.backoff_base_s,
                                     max=settings.backoff_max_s),
        retry=retry_if_exception_type((BrowserError, SelectorDrift)), reraise=True)


def _require_selectors(ctx: VideoContext) -> None:
    if not ctx.site.channel or not ctx.site.channel_videos:
        raise ConfigError(f"selector set {ctx.site.profile.selector_set} has no channel "
                          "pages (pages/channel, pages/channel_videos): cannot follow channels")


# --- the home page's head -----------------------------------------------------------------


async def read_channel(ctx: VideoContext, uid: str, *, now: datetime) -> Channel:
    """Render the channel's home and read its head; ``UnknownChannel`` on a 404, and
    ``SelectorDrift`` when it rendered every time but no selector version reads it."""
    _require_selectors(ctx)
    async for attempt in _retrying(ctx):
        with attempt:
            return await _read_head(ctx, uid, now=now)
    raise AssertionError("tenacity either returns or re-raises")


async def _read_head(ctx: VideoContext, uid: str, *, now: datetime) -> Channel:
    url = ctx.site.profile.channel_url(uid)
    async with ctx.tabs.tab() as tab:
        visit = await tab.visit(url)
        if visit.status == 404:
            raise UnknownChannel(f"channel {uid} does not exist ({url} answered 404)")
        if visit.status is not None and visit.status >= 400:
            raise BrowserError(f"{url} answered HTTP {visit.status}")
        html, head = await _poll_head(ctx, tab.html, visit.url)
    ctx.stats.selectors_used(head.version, url, fallback=head.fallback)
    if head.missing:
        ctx.stats.note(drift_key("channel"), url)
        raise SelectorDrift(
            f"the channel page answered but no selector version reads its head on {url} "
            f"(missing {', '.join(head.missing)} with {head.version}): the site's markup "
            "changed; run `scrape refresh-selectors --channel UID` to repair the selectors")
    await ctx.evidence.offer(ctx.site.channel[0], html, newest=not head.fallback,
                             complete=True)
    values = head.values
    return Channel(uid=uid, name=values["name"], link=url, avatar_url=values.get("avatar_url"),
                   first_visit=now, last_visit=now, selectors=head.version,
                   **{name: values.get(name) for name in _FIGURES})


async def _poll_head(ctx: VideoContext, read: object, url: str) -> tuple[str, Extraction]:
    """The head's fields, polling for the script that inserts the head module."""
    versions, scheme = ctx.site.channel, ctx.site.profile.scheme
    html, head = "", None
    for _ in range(_HEAD_POLLS):
        html = await read()  # type: ignore[operator]
        head = await asyncio.to_thread(extract_page, html, versions, base_scheme=scheme,
                                       base_url=url)
        if not head.missing:
            break
        await asyncio.sleep(_HEAD_POLL_S)
    assert head is not None
    return html, head


def channel_snapshot(channel: Channel, *, run_id: str, tier: str | None = None) -> ChannelSnapshot:
    """The visit's figures as a snapshot (its time is the channel's ``last_visit``)."""
    return ChannelSnapshot(uid=channel.uid, ts=channel.last_visit, run_id=run_id, tier=tier,
                           **{name: getattr(channel, name) for name in _FIGURES})


async def visit_channel(
    ctx: VideoContext, uid: str, *, now: datetime, tier: str | None = None,
    visit_id: str | None = None,
) -> Channel:
    """Read the channel's head and store it: the channel's latest figures and one
    snapshot (``visit_id``, default ``uid:run_id``: a redone visit is one snapshot)."""
    channel = await read_channel(ctx, uid, now=now)
    await ctx.store.save_channel(channel)
    snap = channel_snapshot(channel, run_id=ctx.run.run_id, tier=tier)
    await ctx.store.add_channel_snapshot(snap, visit_id=visit_id)
    ctx.stats.note(Count.CHANNELS_RECORDED, f"{channel.name} ({channel.followers_text or '?'} "
                   "followers)")
    return channel


# --- the video list -------------------------------------------------------------------------


async def read_channel_videos(
    ctx: VideoContext, uid: str, url: str, *, page: int, empty_ok: bool = False
) -> ChannelPage:
    """Render one page of the channel's video list (newest first) and read its cards,
    each recording the channel's list, and the 下一页 link. A page without a video is
    drift unless ``empty_ok`` (the channel's head said it has none)."""
    _require_selectors(ctx)
    async for attempt in _retrying(ctx):
        with attempt:
            return await _read_list(ctx, uid, url, page=page, empty_ok=empty_ok)
    raise AssertionError("tenacity either returns or re-raises")


async def _read_list(
    ctx: VideoContext, uid: str, url: str, *, page: int, empty_ok: bool
) -> ChannelPage:
    site = ctx.site
    async with ctx.tabs.tab() as tab:
        visit = await tab.visit(url)
        html = await tab.html()
    if visit.status == 404:
        raise UnknownChannel(f"channel {uid} does not exist ({url} answered 404)")
    if visit.status is not None and visit.status >= 400:
        raise BrowserError(f"{url} answered HTTP {visit.status}")
    scheme, base = site.profile.scheme, visit.url
    items = await asyncio.to_thread(extract_items, html, site.channel_videos,
                                    base_scheme=scheme, base_url=base)
    pager = await asyncio.to_thread(extract_page, html, site.pager, base_scheme=scheme,
                                    base_url=base)
    ctx.stats.selectors_used(items.version, url, fallback=items.fallback,
                             missing=items.missing_items)
    if not items.items and not empty_ok:
        raise SelectorDrift(
            f"the channel's video list answered but no selector version finds videos on "
            f"{url} (tried {', '.join(s.label for s in site.channel_videos)}): the site's "
            "markup changed; run `scrape refresh-selectors --channel UID`")
    await ctx.evidence.offer(site.channel_videos[0], html, newest=not items.fallback,
                             complete=not items.missing_items)
    lists = [channel_list(uid)]
    cards = [CardInfo(page=page, lists=lists, **_card_fields(fields)) for fields in items.items]
    return ChannelPage(cards, pager.values.get("next_url"))


def _card_fields(fields: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in fields.items()
            if k in CardInfo.model_fields and k not in ("page", "lists") and v is not None}
