"""A monitor's visit of a channel: a snapshot of its head, then its new videos scheduled.

The channel's list is newest first, so new videos are on its first pages: a visit reads
page after page while a page brings videos the job did not follow yet (the first visit
reads them all). Each new video is scheduled due as of this visit, as the catalogue read
schedules its own; it is then crawled in full once and followed at its tier's pace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..crawl.channel import read_channel_videos, visit_channel
from ..crawl.context import VideoContext
from ..models import MonitorJob, Observation, ScheduleEntry
from .monitor_job import video_entry

__all__ = ["ChannelVisit", "channel_observation", "sync_channel", "visit_id"]


@dataclass(frozen=True, slots=True)
class ChannelVisit:
    observation: Observation
    new_videos: int


def visit_id(entry: ScheduleEntry) -> str:
    """One snapshot per entry and scheduled visit: ``key:20261101T120000.123Z``."""
    due = entry.due.astimezone(UTC)
    return f"{entry.key}:{due:%Y%m%dT%H%M%S}.{due.microsecond // 1000:03d}Z"


async def sync_channel(
    ctx: VideoContext, job: MonitorJob, entry: ScheduleEntry, *, now: datetime
) -> ChannelVisit:
    """Snapshot the channel, then schedule the videos of its list the job does not follow."""
    uid = entry.key
    channel = await visit_channel(ctx, uid, now=now, tier=entry.tier, visit_id=visit_id(entry))
    url: str | None = ctx.site.profile.channel_videos_url(uid, 1)
    new, page = 0, 1
    while url and (job.pages is None or page <= job.pages):
        found = await read_channel_videos(ctx, uid, url, page=page,
                                          empty_ok=page == 1 and channel.videos == 0)
        added = await ctx.store.schedule_add([video_entry(job, card, entry.due)
                                              for card in found.cards])
        new += added
        if not added and entry.last_visit is not None:
            break
        url, page = found.next_url, page + 1
    observation = channel_observation(now, channel.followers, channel.followers_text)
    return ChannelVisit(observation, new)


def channel_observation(at: datetime, followers: int | None, shown: str | None) -> Observation:
    """A channel's followers as the tier machinery reads a video's views (the shown text
    gives the count's rounding step)."""
    return Observation(at=at, stat_play=followers, stat_play_text=shown)
