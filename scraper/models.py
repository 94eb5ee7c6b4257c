"""Records that cross module lines.

Pydantic models are what goes through I/O (the store, exports, the frontier);
frozen dataclasses are in-process hand-offs between crawl stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DYNAMIC_VIDEO_FIELDS",
    "STATIC_VIDEO_FIELDS",
    "CardInfo",
    "Channel",
    "ChannelSnapshot",
    "Comment",
    "CommentThread",
    "CrawlInfo",
    "FrontierItem",
    "MonitorJob",
    "Observation",
    "PlayInfo",
    "RunRecord",
    "ScheduleEntry",
    "Segment",
    "SegmentRef",
    "Snapshot",
    "Tier",
    "Video",
]

SegmentStatus = Literal["ok", "failed", "paywalled", "skipped"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CardInfo(_Record):
    """One catalogue card: what the catalogue page says about a video."""

    vid: str
    url: str
    title: str
    thumb_url: str | None = None
    duration_text: str | None = None
    duration_s: int | None = None
    stat_play_text: str | None = None
    stat_play: int | None = None
    stat_cmt_text: str | None = None
    stat_cmt: int | None = None
    page: int = 1
    # The lists the video was seen in: "category:today-hot", "channel:UMTIz".
    lists: list[str] = Field(default_factory=list)
    published: str | None = None  # the day a channel's list shows (YYYY-MM-DD)


class Segment(_Record):
    """One segment file of the chosen stream and what became of its download."""

    index: int
    url: str | None = None
    path: str | None = None
    size: int
    sha256: str | None = None
    status: SegmentStatus = "failed"
    attempts: int = 0
    error: str | None = None


class Comment(_Record):
    """A comment with its replies nested under it (depth as the site serves it)."""

    vid: str
    id: int
    time: datetime
    user: int | str | None = None
    user_name: str | None = None
    content: str
    num_up: int = 0
    num_down: int = 0
    num_reply: int = 0
    parent_id: int = 0
    replies: list[Comment] = Field(default_factory=list)


class CrawlInfo(_Record):
    first: datetime
    last: datetime
    errors: list[str] = Field(default_factory=list)
    selectors: dict[str, str] = Field(default_factory=dict)
    run_id: str
    worker: str | None = None


class Video(_Record):
    """The `videos` document, `_id` = vid."""

    vid: str
    url: str
    title: str
    subtitle: str | None = None
    duration_s: int | None = None
    duration_text: str | None = None
    stat_play: int | None = None
    stat_play_text: str | None = None
    stat_cmt: int | None = None
    category: str | None = None
    channel_name: str | None = None
    channel_link: str | None = None
    thumb_url: str | None = None
    thumb_path: str | None = None
    segments: list[Segment] = Field(default_factory=list)
    file_paths: list[str] = Field(default_factory=list)
    stream_type: str | None = None
    unavailable: str | None = None
    comment_num: int | None = None
    comment_total: int | None = None
    comment_hot: list[int] = Field(default_factory=list)
    status: Literal["ok", "partial", "unavailable", "failed"] = "ok"
    crawl: CrawlInfo
    # Every list (category, channel) the video was seen in; a write adds, never removes.
    lists: list[str] = Field(default_factory=list)
    # The publication day its channel's list shows, as shown (catalogues show none); a
    # visit from a list without it keeps the one stored.
    published: str | None = None


# Kept from the first crawl (MongoDB `$setOnInsert`); everything else follows the
# latest visit (`$set`).
STATIC_VIDEO_FIELDS: frozenset[str] = frozenset(
    {"title", "subtitle", "duration_s", "duration_text", "category", "channel_name",
     "channel_link", "url"}
)
DYNAMIC_VIDEO_FIELDS: frozenset[str] = frozenset(
    set(Video.model_fields) - STATIC_VIDEO_FIELDS - {"vid", "crawl", "lists", "published"}
)


class Channel(_Record):
    """The `channels` document, `_id` = uid: a channel (uploader) and its latest figures."""

    uid: str
    name: str
    link: str
    avatar_url: str | None = None
    followers: int | None = None
    followers_text: str | None = None
    videos: int | None = None
    videos_text: str | None = None
    plays: int | None = None
    plays_text: str | None = None
    first_visit: datetime
    last_visit: datetime
    selectors: str | None = None  # the selector version that read the head (channel@v1)


class ChannelSnapshot(_Record):
    """One visit's figures for a channel, with the text the site showed next to each."""

    uid: str
    ts: datetime
    followers: int | None = None
    followers_text: str | None = None
    videos: int | None = None
    videos_text: str | None = None
    plays: int | None = None
    plays_text: str | None = None
    run_id: str
    tier: str | None = None


class Snapshot(_Record):
    """One visit's figures for a video: the time series users chart."""

    vid: str
    ts: datetime
    stat_play: int | None = None
    stat_play_text: str | None = None
    stat_cmt: int | None = None
    comment_total: int | None = None
    run_id: str
    worker: str | None = None
    tier: str | None = None


class RunRecord(_Record):
    """The `runs` document: one per `scrape run`, with its outcome counters."""

    run_id: str
    job: str
    site: str
    category: str
    started: datetime
    finished: datetime | None = None
    # "incomplete": done, but some videos failed; the next run of the job retries them.
    status: Literal["running", "finished", "incomplete", "interrupted", "failed"] = "running"
    counters: dict[str, int] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)


class FrontierItem(_Record):
    """A unit of work in the persistent frontier (a catalogue page or a video)."""

    id: str
    job: str
    kind: Literal["catalogue", "video"]
    key: str
    payload: dict[str, Any] = Field(default_factory=dict)
    state: Literal["pending", "claimed", "done", "failed"] = "pending"
    attempts: int = 0
    lease_until: datetime | None = None
    worker: str | None = None
    error: str | None = None
    priority: int = 0


class Tier(_Record):
    """A monitoring tier: videos growing at ``min_rate`` views/h or more are visited every
    ``interval_s`` (the coldest tier has ``min_rate`` 0 and takes the rest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    interval_s: float
    min_rate: float = 0.0


class MonitorJob(_Record):
    """The `monitors` document, `_id` = job: what `scrape monitor` follows and how often."""

    job: str
    site: str
    category: str
    tiers: list[Tier]
    cold_after_s: float
    jitter: float
    catalogue_every_s: float
    pages: int | None = None
    max_videos: int | None = None
    max_comments: int | None = None
    no_media: bool = False
    tracked: list[str] = Field(default_factory=list)
    started: datetime
    until: datetime | None = None
    catalogue: bool = True  # False: a job of channels alone (`--channel` without --category)
    channels: list[str] = Field(default_factory=list)  # uids, kept over restarts
    channel_tiers: list[Tier] = Field(default_factory=list)  # thresholds in followers/hour


class Observation(_Record):
    """A visit's figures as the schedule keeps them; the shown text gives the resolution
    of ``stat_play`` (``jobs.tiers.estimate_growth``)."""

    at: datetime
    stat_play: int | None = None
    stat_play_text: str | None = None
    comment_total: int | None = None


class ScheduleEntry(_Record):
    """A `schedule` document: one monitored video (or channel, or the job's catalogue) and its
    next visit.

    ``due`` names the visit: a claim whose lease lapsed is redone under the same ``due``,
    so its snapshot (``vid:due``) is written once.
    """

    id: str
    job: str
    kind: Literal["catalogue", "video", "channel"]
    key: str
    card: dict[str, Any] = Field(default_factory=dict)
    tier: str
    due: datetime
    first_seen: datetime
    state: Literal["pending", "claimed"] = "pending"
    worker: str | None = None
    lease_until: datetime | None = None
    attempts: int = 0
    visits: int = 0
    last_visit: datetime | None = None
    last_worker: str | None = None
    last_error: str | None = None
    observations: list[Observation] = Field(default_factory=list)
    # Hysteresis: consecutive estimates that put the video in a colder tier than its own.
    cooling: int = 0
    # Tier moves so far, for `scrape status`.
    moved_hotter: int = 0
    moved_colder: int = 0


# --- in-process hand-offs -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentRef:
    """A segment as the play-info API describes it (no `url`: a paywalled preview)."""

    index: int
    size: int
    url: str | None
    fileid: str | None = None


@dataclass(frozen=True, slots=True)
class PlayInfo:
    """The stream chosen from the play-info API, or why there is none."""

    stream_type: str | None
    segments: tuple[SegmentRef, ...] = ()
    unavailable: str | None = None
    seconds: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CommentThread:
    """Every comment of a video, top-level with replies nested, plus the API's counts."""

    comments: tuple[Comment, ...]
    hot_ids: tuple[int, ...]
    source_size: int
    total_size: int
    pages: int
