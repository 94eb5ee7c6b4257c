"""What a job crawls: its lists (categories of the site, channels), each a paged list of
videos, and the name every video records for each list it was seen in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import Settings
from ..errors import ConfigError
from ..site.load import Site
from ..site.profile import SiteProfile, channel_list, channel_uid

__all__ = [
    "ALL", "CrawlList", "category_list", "crawl_lists", "first_catalogue_url", "job_lists",
    "lists_label",
]

ALL = "all"  # --category all: every category of the site profile


@dataclass(frozen=True, slots=True)
class CrawlList:
    """One list of videos: a category's catalogue or a channel's video list."""

    kind: Literal["category", "channel"]
    key: str  # the category's CLI name, or the channel's uid

    @property
    def name(self) -> str:
        """What videos record in ``lists``: ``category:today-hot``, ``channel:UMTIz``."""
        return category_list(self.key) if self.kind == "category" else channel_list(self.key)

    def url(self, profile: SiteProfile, page: int = 1) -> str:
        if self.kind == "category":
            return profile.catalogue_url(self.key, page)
        return profile.channel_videos_url(self.key, page)


def category_list(name: str) -> str:
    return f"category:{name}"


def crawl_lists(site: Site, settings: Settings) -> list[CrawlList]:
    """The job's lists, categories first (``all`` is every category of the profile), in
    the order given, each once. Without ``categories``: ``category`` alone, unless
    channels are given."""
    profile = site.profile
    names = settings.categories
    if names is None:
        names = () if settings.channels else (settings.category,)
    categories: dict[str, None] = {}
    for name in names:
        chosen = list(profile.categories) if name == ALL else [profile.category(name).name]
        categories.update(dict.fromkeys(chosen))
    uids = dict.fromkeys(channel_uid(text) for text in settings.channels)
    if uids and not (site.channel and site.channel_videos):
        raise ConfigError(f"site {profile.name}'s selectors have no channel pages: "
                          "--channel is not available for it")
    if uids:
        profile.channel_url("x")  # a profile without channel URLs says so now
    return ([CrawlList("category", name) for name in categories]
            + [CrawlList("channel", uid) for uid in uids])


def first_catalogue_url(site: Site, settings: Settings) -> str | None:
    """The catalogue page a new run of ``settings`` reads first, if it starts with one
    (not with a channel, nor with chosen videos); None for settings the run will reject
    itself."""
    if settings.videos:
        return None
    try:
        lists = crawl_lists(site, settings)
    except ConfigError:
        return None
    first = lists[0] if lists else None
    return first.url(site.profile) if first is not None and first.kind == "category" else None


def lists_label(lists: list[CrawlList]) -> str:
    """The job's lists in one word: ``today-hot``, ``today-hot+channel:UMTIz``."""
    return "+".join(item.key if item.kind == "category" else item.name for item in lists)


def job_lists(site: Site, lists: list[CrawlList]) -> str:
    """The job key's list part: one category's slug as before, else every list's name."""
    if len(lists) == 1 and lists[0].kind == "category":
        return site.profile.category(lists[0].key).slug
    return lists_label(lists)
