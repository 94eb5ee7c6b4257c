"""A monitor job in the store: made from the command's flags, (re)opened, its visits retimed.

A job (``monitors``, one per site and category, or one per site for channels alone) says
which tiers there are and until when to follow. Restarting the command reopens it: the
flags given again replace what was stored, the others keep their stored value
(``restarted``; tracked videos and channels add up), and the line that says so is logged.
``open_job`` then schedules the catalogue read, the channels and the tracked videos.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import Settings
from ..models import CardInfo, MonitorJob, ScheduleEntry, Tier
from ..site.load import Site
from ..store.base import Store
from ..store.documents import from_doc
from .status import job_entries
from .tiers import format_duration, tier_named

__all__ = [
    "CATALOGUE",
    "CHANNELS",
    "JOB_FLAGS",
    "OpenedJob",
    "channel_entry",
    "new_job",
    "open_job",
    "restarted",
    "retime",
    "tiers_of",
    "video_entry",
]

log = logging.getLogger(__name__)

CATALOGUE = "catalogue"
CHANNELS = "channels"  # the job key's last part for a job of channels alone
# The job's fields a `scrape monitor` flag sets: what a restart may change.
JOB_FLAGS = {"tiers": "--tiers", "until": "--for", "pages": "--pages",
             "max_videos": "--max-videos", "max_comments": "--max-comments",
             "no_media": "--no-media", "channel_tiers": "--channel-tiers"}


@dataclass(frozen=True, slots=True)
class OpenedJob:
    """The job as it now stands in the store, how many entries were new, and what a
    restart changed (for the log)."""

    job: MonitorJob
    new_entries: int
    note: str


def new_job(
    settings: Settings, site: Site, *, tiers: Sequence[Tier], now: datetime,
    until: datetime | None = None, tracked: Sequence[str] = (),
    channels: Sequence[str] = (), channel_tiers: Sequence[Tier] = (),
) -> MonitorJob:
    """The job the command describes; ``categories=()`` with channels: channels alone."""
    catalogue = not (channels and settings.categories == ())
    part = site.category.slug if catalogue else CHANNELS
    return MonitorJob(
        job=f"monitor:{site.profile.name}:{part}", site=site.profile.name,
        catalogue=catalogue, channels=list(dict.fromkeys(channels)),
        channel_tiers=list(channel_tiers),
        category=settings.category, tiers=list(tiers), cold_after_s=settings.cold_after_s,
        jitter=settings.visit_jitter, catalogue_every_s=settings.catalogue_every_s,
        pages=settings.pages, max_videos=settings.max_videos,
        max_comments=settings.max_comments, no_media=settings.no_media,
        tracked=[vid.rstrip("=") for vid in tracked], started=now, until=until,
    )


def restarted(
    known: MonitorJob, job: MonitorJob, *, given: Collection[str] | None
) -> tuple[MonitorJob, str]:
    """The job a restart runs, and what it applied: the fields of ``given`` (all when
    None) from the new command, the rest as stored; when it first started and every video
    tracked before are kept."""
    wanted = set(MonitorJob.model_fields) if given is None else set(given)
    fixed = {"started", "tracked", "job", "site", "category", "catalogue", "channels"}
    kept = {name: getattr(known, name) for name in MonitorJob.model_fields
            if name not in wanted | fixed}
    if not kept.get("channel_tiers", job.channel_tiers):
        kept["channel_tiers"] = job.channel_tiers  # a job from before channels had none
    tracked = [*job.tracked, *(vid for vid in known.tracked if vid not in job.tracked)]
    channels = [*job.channels, *(uid for uid in known.channels if uid not in job.channels)]
    merged = job.model_copy(update={**kept, "started": known.started, "tracked": tracked,
                                    "channels": channels})
    flags = [name for name in JOB_FLAGS if name != "channel_tiers" or merged.channels]
    applied = [_flag(name, getattr(merged, name)) for name in flags
               if name in wanted and getattr(known, name) != getattr(merged, name)]
    stayed = [_flag(name, getattr(merged, name)) for name in flags if name in kept]
    return merged, (f"restarting {job.job}: applied "
                    + (", ".join(applied) or "no changed option")
                    + ("; kept as stored: " + ", ".join(stayed) if stayed else ""))


def _flag(name: str, value: Any) -> str:
    flag = JOB_FLAGS[name]
    if name in ("tiers", "channel_tiers"):
        return f"{flag} " + ",".join(_tier_text(tier) for tier in value)
    if name == "until":
        return f"{flag} (until {value.astimezone(UTC):%Y-%m-%d %H:%M} UTC)" if value else \
            f"{flag} (no end)"
    if name == "no_media":
        return flag if value else "media on"
    return f"{flag} {'none' if value is None else value}"


def _tier_text(tier: Tier) -> str:
    rate = f"@{tier.min_rate:g}" if tier.min_rate else ""
    return f"{tier.name}:{format_duration(tier.interval_s)}{rate}"


async def open_job(
    store: Store, job: MonitorJob, site: Site, *, now: datetime,
    given: Collection[str] | None = None,
) -> OpenedJob:
    """Save the job (merged with the stored one on a restart: see ``restarted``) and
    schedule its catalogue read, channels and tracked videos, due now unless already
    scheduled."""
    known = await store.get_doc("monitors", job.job)
    note = f"starting {job.job}"
    if known is not None:
        job, note = restarted(from_doc(MonitorJob, known), job, given=given)
    log.info("%s", note)
    await store.save_doc("monitors", job.job, job.model_dump())
    entries = await job_entries(store, job.job)
    await retime(store, job, entries)
    catalogue = ScheduleEntry(id=f"{job.job}:{CATALOGUE}", job=job.job, kind="catalogue",
                              key=CATALOGUE, tier=CATALOGUE, due=now, first_seen=now)
    # No catalogue card: the first visit takes the title from the video page.
    scheduled = {entry.key for entry in entries}
    tracked = [CardInfo(vid=vid, url=site.profile.video_url(vid), title="")
               for vid in job.tracked if vid not in scheduled]
    channels = [channel_entry(job, uid, now) for uid in job.channels]
    new = await store.schedule_add([*([catalogue] if job.catalogue else []), *channels,
                                    *(video_entry(job, c, now) for c in tracked)])
    return OpenedJob(job, new, note)


async def retime(store: Store, job: MonitorJob, entries: Sequence[ScheduleEntry]) -> int:
    """Bring forward the visits the job's tiers now want sooner than planned (``--tiers``
    changed; ``all:0s`` makes everything due); returns how many moved."""
    moved = 0
    for entry in entries:
        if entry.kind == "catalogue":
            continue
        tier = tier_named(tiers_of(job, entry.kind), entry.tier)
        last = entry.last_visit or entry.first_seen
        latest = last + timedelta(seconds=tier.interval_s * (1 + job.jitter) + 0.001)
        if entry.state == "pending" and (
                entry.due > latest or entry.tier != tier.name):
            due = min(entry.due, last + timedelta(seconds=tier.interval_s))
            moved += await store.schedule_move(entry.id, was=entry.due, due=due, tier=tier.name)
    return moved


def tiers_of(job: MonitorJob, kind: str) -> list[Tier]:
    """The tiers entries of ``kind`` move between: channels have their own."""
    return job.channel_tiers if kind == "channel" and job.channel_tiers else job.tiers


def channel_entry(job: MonitorJob, uid: str, due: datetime) -> ScheduleEntry:
    return ScheduleEntry(id=f"{job.job}:channel:{uid}", job=job.job, kind="channel", key=uid,
                         tier=tiers_of(job, "channel")[0].name, due=due, first_seen=due)


def video_entry(job: MonitorJob, card: CardInfo, due: datetime) -> ScheduleEntry:
    return ScheduleEntry(id=f"{job.job}:video:{card.vid}", job=job.job, kind="video",
                         key=card.vid, card=card.model_dump(), tier=job.tiers[0].name,
                         due=due, first_seen=due)
