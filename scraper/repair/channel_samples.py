"""Channel pages for `scrape refresh-selectors --channel UID`: each channel's home (its
head) and the first page of its video list, with what the store knows about them.

Known values of a head are the stored channel's: its name and avatar exactly, its
followers, videos and plays as ranges (they only grow). A list page's are the stored
videos it shows (``refresh.catalogue_sample`` reads them as it does a catalogue's cards).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..models import Channel
from ..site.load import Site
from ..store.base import Store
from ..store.documents import from_doc
from .samples import Between, Sample

__all__ = ["ChannelPages", "channel_head_sample", "sample_channels", "stored_channels"]

_GROWTH = 3  # as refresh.py: a stored count may have grown this much since
# ... plus this much: a channel publishes a few videos a day, while followers and plays
# move by thousands (a narrow range tells a small video count from the page's other numbers).
_SLACK = {"followers": 10_000, "videos": 100, "plays": 10_000}

Render = Callable[[str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ChannelPages:
    """One channel's sampled pages ("" where a page could not be loaded)."""

    uid: str
    home_url: str
    home: str
    list_url: str
    videos: str


async def sample_channels(site: Site, render: Render, uids: Sequence[str]) -> list[ChannelPages]:
    """Render each channel's home and the first page of its video list."""
    async def one(uid: str) -> ChannelPages:
        home_url = site.profile.channel_url(uid)
        list_url = site.profile.channel_videos_url(uid, 1)
        home, videos = await asyncio.gather(render(home_url), render(list_url))
        return ChannelPages(uid, home_url, home, list_url, videos)

    return list(await asyncio.gather(*(one(uid) for uid in uids)))


async def stored_channels(store: Store, uids: Sequence[str]) -> dict[str, Channel]:
    found = {}
    for uid in uids:
        doc = await store.get_doc("channels", uid)
        if doc is not None:
            found[uid] = from_doc(Channel, doc)
    return found


def channel_head_sample(url: str, html: str, channel: Channel | None) -> Sample:
    if channel is None:
        return Sample(html=html, url=url, known={})
    known: dict[str, Any] = {"name": channel.name, "avatar_url": channel.avatar_url}
    for name in ("followers", "videos", "plays"):
        value = getattr(channel, name)
        if value is not None:
            known[name] = Between(value, value * _GROWTH + _SLACK[name])
    return Sample(html=html, url=url, known={k: v for k, v in known.items() if v is not None})
