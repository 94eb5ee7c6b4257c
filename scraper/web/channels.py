"""The Channels pages: every channel the store follows, and one channel with its followers
over time and its videos. Reads through the Store protocol only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import Channel
from ..store.base import Store
from ..store.documents import Doc

__all__ = ["ChannelView", "channel_list", "channel_view"]

_VIDEOS_SHOWN = 500  # a channel page lists at most this many of its videos, most viewed first


async def channel_list(store: Store) -> list[Doc]:
    """Every stored channel, most followed first, each with its ``snapshots`` count."""
    channels = await store.find_page("channels", {}, sort=[("followers", -1)])
    for doc in channels:
        doc["snapshots"] = await store.count("channel_snapshots", {"uid": doc["_id"]})
    return channels


@dataclass(frozen=True, slots=True)
class ChannelView:
    channel: Doc
    videos: list[Doc]
    video_count: int

    @property
    def fields(self) -> list[tuple[str, Any]]:
        """The channel's fields in the model's order, then anything else it holds."""
        order = [name for name in Channel.model_fields if name in self.channel]
        rest = [name for name in self.channel if name not in order and name != "_id"]
        return [(name, self.channel[name]) for name in order + rest]


async def channel_view(store: Store, uid: str) -> ChannelView | None:
    """The channel and its stored videos (by the channel link their pages carry)."""
    channel = await store.get_doc("channels", uid)
    if channel is None:
        return None
    query = {"channel_link": channel["link"]}
    videos = await store.find_page("videos", query, sort=[("stat_play", -1)],
                                   limit=_VIDEOS_SHOWN)
    return ChannelView(channel, videos, await store.count("videos", query))
