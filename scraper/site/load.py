"""A site as one crawl sees it: its profile, the chosen category and selector versions."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from .profile import Category, SiteProfile, load_profile
from .selector_files import SelectorSet, load_selectors

__all__ = ["Site", "load_site"]


@dataclass(frozen=True, slots=True)
class Site:
    profile: SiteProfile
    category: Category
    catalogue: tuple[SelectorSet, ...]
    pager: tuple[SelectorSet, ...]
    video: tuple[SelectorSet, ...]
    # Empty when the selector set has no channel pages (the site then follows no channel).
    channel: tuple[SelectorSet, ...] = ()
    channel_videos: tuple[SelectorSet, ...] = ()


def load_site(settings: Settings) -> Site:
    """Load and validate the profile and every selector file the crawl will use."""
    profile = load_profile(settings.site, selectors_dir=settings.selectors_dir)
    return Site(
        profile=profile,
        category=profile.category(settings.category),
        catalogue=load_selectors(profile, "catalogue"),
        pager=load_selectors(profile, "pager"),
        video=load_selectors(profile, "video"),
        channel=_optional(profile, "channel"),
        channel_videos=_optional(profile, "channel_videos"),
    )


def _optional(profile: SiteProfile, page: str) -> tuple[SelectorSet, ...]:
    """A page type's selectors if the set has that page directory, else none."""
    if not (profile.pages_dir / page).is_dir():
        return ()
    return load_selectors(profile, page)
