"""``scrape refresh-selectors``: check the current selectors on live pages, repair drift.

1. Render a sample of catalogue and video pages of the category in Chromium (and, with
   ``--channel``, each channel's home and first list page: ``channel_samples``).
2. Gather what is already known about them: the videos stored by earlier runs (static
   fields exactly, counts as a range since they only grow), the pager's expected page
   number and next-page URL, and the element fingerprints kept by earlier runs.
3. For each page type, check every field of the newest version; relocate the broken ones
   (``relocate.py``) and, with ``--write``, save the repairs as a new version file.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..api.tokens import api_matcher
from ..browser.options import browser_options
from ..browser.pool import Browser, TabPool
from ..config import Settings
from ..errors import BrowserError, ConfigError, SiteUnreachable
from ..models import Video
from ..site.load import Site, load_site
from ..site.profile import channel_uid
from ..site.selector_files import SelectorSet
from ..site.selector_writer import write_version
from ..store.base import Store
from ..store.target import open_store
from .channel_samples import (
    ChannelPages,
    channel_head_sample,
    sample_channels,
    stored_channels,
)
from .evidence import recall
from .relocate import (
    Between,
    Repair,
    Sample,
    check_fields,
    relocate,
    repaired_fields,
    repaired_items,
)

__all__ = ["PageReport", "RefreshReport", "refresh_selectors"]

log = logging.getLogger(__name__)

# A count stored earlier may have grown since; this bounds how much we accept.
_GROWTH = 3


@dataclass(frozen=True, slots=True)
class PageReport:
    """One page type: the version checked, each field's outcome, the file written."""

    page: str
    version: str
    repairs: tuple[Repair, ...]
    written: str | None
    samples: int
    required: frozenset[str]

    @property
    def unrepaired_required(self) -> list[str]:
        return [r.field for r in self.repairs
                if r.status == "unrepaired" and r.field in self.required]


@dataclass(frozen=True, slots=True)
class RefreshReport:
    pages: tuple[PageReport, ...]
    known_videos: int

    @property
    def failed(self) -> list[str]:
        return [f"{p.page}.{f}" for p in self.pages for f in p.unrepaired_required]

    @property
    def gone(self) -> list[str]:
        """Optional fields whose element is on no sample any more (left out when written)."""
        return [f"{p.page}.{r.field}" for p in self.pages for r in p.repairs
                if r.status == "gone"]


async def refresh_selectors(settings: Settings, *, sample: int, write: bool) -> RefreshReport:
    """Check and repair every page type's selectors against live pages."""
    site = load_site(settings)
    options = browser_options(settings, blocked_hosts=site.profile.media_hosts)
    async with open_store(settings.store) as store, Browser(options) as browser:
        tabs = TabPool(browser, min(settings.concurrency, 4))
        try:
            pages = max(2, sample // 3)
            catalogue_pages = await sample_catalogue(site, settings, tabs, pages=pages)
            uids = [channel_uid(text) for text in settings.channels]
            if uids and not (site.channel and site.channel_videos):
                raise ConfigError(f"selector set {site.profile.selector_set} has no channel "
                                  "pages to check")
            channel_pages = await sample_channels(site, lambda url: _render(tabs, url), uids)
            lists = [(p.list_url, p.videos, 1) for p in channel_pages if p.videos]
            stored = await stored_videos(store, [*catalogue_pages, *lists])
            vids = list(stored) or linked_vids(site, catalogue_pages)
            video_pages = await sample_videos(site, tabs, vids[:sample])
        finally:
            await tabs.close()
        reports = []
        sampled = {n for _, _, n in catalogue_pages}
        for selectors, samples in (
            (site.catalogue, [catalogue_sample(url, html, stored) for url, html, _ in
                              catalogue_pages]),
            (site.pager, [pager_sample(site, settings, url, html, n, sampled=sampled)
                          for url, html, n in catalogue_pages]),
            (site.video, [video_sample(url, html, stored.get(vid)) for vid, url, html in
                          video_pages]),
        ):
            reports.append(await repair_page(store, site, selectors, samples, write=write))
        if channel_pages:
            reports += await repair_channel_pages(store, site, channel_pages, stored,
                                                  write=write)
    return RefreshReport(pages=tuple(reports), known_videos=len(stored))


async def repair_channel_pages(
    store: Store, site: Site, pages: Sequence[ChannelPages], stored: Mapping[str, Video], *,
    write: bool,
) -> list[PageReport]:
    """The channel head and the channel list, checked (and repaired) like the others."""
    channels = await stored_channels(store, [p.uid for p in pages])
    lists = [(p.list_url, p.videos, 1) for p in pages if p.videos]
    heads = [channel_head_sample(p.home_url, p.home, channels.get(p.uid))
             for p in pages if p.home]
    items = [catalogue_sample(url, html, stored) for url, html, _ in lists]
    return [await repair_page(store, site, site.channel, heads, write=write),
            await repair_page(store, site, site.channel_videos, items, write=write)]


# --- sampling live pages --------------------------------------------------------------


async def sample_catalogue(
    site: Site, settings: Settings, tabs: TabPool, *, pages: int
) -> list[tuple[str, str, int]]:
    """The first catalogue pages of the category, by URL template (the pager may be broken)."""
    urls = [(site.profile.catalogue_url(settings.category, n), n) for n in range(1, pages + 1)]
    out = await asyncio.gather(*(_render(tabs, url) for url, _ in urls))
    return [(url, html, n) for (url, n), html in zip(urls, out, strict=True) if html]


async def sample_videos(
    site: Site, tabs: TabPool, vids: Sequence[str]
) -> list[tuple[str, str, str]]:
    async def one(vid: str) -> tuple[str, str, str]:
        url = site.profile.video_url(vid)
        ups = api_matcher(site.profile.hosts["ups"], site.profile.ups_path, vid=vid,
                          vid_params=("vid",))
        return vid, url, await _render(tabs, url, capture={"ups": ups})

    found = await asyncio.gather(*(one(vid) for vid in vids))
    return [entry for entry in found if entry[2]]


def linked_vids(site: Site, catalogue_pages: Sequence[tuple[str, str, int]]) -> list[str]:
    """Videos the catalogue links to, read from links shaped like the profile's video URL
    (used when the store knows no video yet, so video pages can still be checked)."""
    head, _, tail = site.profile.video_path.partition("{vid}")
    pattern = re.compile(re.escape(head) + r"([A-Za-z0-9_-]+?)(?:==)?" + re.escape(
        tail.removeprefix("==")))
    found = (m[1] for _, html, _ in catalogue_pages for m in pattern.finditer(html))
    return list(dict.fromkeys(found))


async def _render(tabs: TabPool, url: str, *, capture: Mapping[str, Any] | None = None) -> str:
    """The page's rendered DOM after its scripts ran, or "" when it cannot be loaded."""
    try:
        async with tabs.tab() as tab:
            await tab.visit(url, capture=capture)
            await asyncio.sleep(0.3)  # late inserts (bigpipe modules) land after the API call
            return await tab.html()
    except BrowserError as exc:
        log.warning("skipping %s: %s", url, exc)
        return ""


async def stored_videos(
    store: Store, catalogue_pages: Sequence[tuple[str, str, int]]
) -> dict[str, Video]:
    """Stored videos that appear on the sampled catalogue pages, in page order."""
    html = "\n".join(page for _, page, _ in catalogue_pages)
    found: dict[str, Video] = {}
    async for doc in store.iter_docs("videos"):
        vid = str(doc["_id"])
        if vid in html:
            video = await store.get_video(vid)
            if video is not None:
                found[vid] = video
    return dict(sorted(found.items(), key=lambda kv: html.index(kv[0])))


# --- what is known about each sampled page ----------------------------------------------


def grown(value: int | None) -> Between | None:
    return None if value is None else Between(value, value * _GROWTH + 10_000)


def catalogue_sample(url: str, html: str, stored: Mapping[str, Video]) -> Sample:
    items = []
    for vid, video in stored.items():
        if vid not in html:
            continue
        known: dict[str, Any] = {"vid": vid, "url": video.url, "title": video.title,
                                 "thumb_url": video.thumb_url,
                                 "duration_text": video.duration_text,
                                 "duration_s": video.duration_s}
        for name, value in (("stat_play", grown(video.stat_play)),
                            ("stat_cmt", grown(video.stat_cmt))):
            if value is not None:
                known[name] = value
        items.append({k: v for k, v in known.items() if v is not None})
    return Sample(html=html, url=url, known={"items": items})


def pager_sample(site: Site, settings: Settings, url: str, html: str, page: int, *,
                 sampled: Set[int] = frozenset()) -> Sample:
    """What the page implies, as facts: its own number (it was loaded by it) and the next
    page's URL when that page was loaded too or this one links to it; otherwise the next
    page is unknown (this may be the last page, or link to it only through a script)."""
    following = site.profile.catalogue_url(settings.category, page + 1)
    path = following.split("://", 1)[-1].split("/", 1)[-1]
    known: dict[str, Any] = {"current": page}
    if page + 1 in sampled or f"/{path}" in html:
        known["next_url"] = following
    return Sample(html=html, url=url, known=known)


def video_sample(url: str, html: str, video: Video | None) -> Sample:
    if video is None:
        return Sample(html=html, url=url, known={})
    known: dict[str, Any] = {"subtitle": video.subtitle, "channel_name": video.channel_name,
                             "channel_link": video.channel_link, "category": video.category}
    if (count := grown(video.stat_play)) is not None:
        known["stat_play"] = count
    return Sample(html=html, url=url, known={k: v for k, v in known.items() if v is not None})


# --- checking, repairing, writing -------------------------------------------------------


async def repair_page(
    store: Store, site: Site, versions: tuple[SelectorSet, ...], samples: list[Sample], *,
    write: bool,
) -> PageReport:
    newest = versions[0]
    required = frozenset(n for n, f in newest.fields.items() if f.required) | {"items"}
    if not samples:
        raise SiteUnreachable(f"no {newest.page} page could be loaded to check its selectors")
    prints = await recall(store, site.profile.selector_set, newest.page)
    scheme = site.profile.scheme
    ok = await asyncio.to_thread(check_fields, newest, samples, scheme=scheme)
    if all(ok.values()):
        repairs = tuple(_ok(newest, name, len(samples)) for name in ok)
        return PageReport(newest.page, newest.label, repairs, None, len(samples), required)
    found = await asyncio.to_thread(relocate, newest, samples, scheme=scheme,
                                    fingerprints=prints)
    repairs = tuple(found)
    for repair in repairs:
        if repair.status == "gone":
            log.warning("%s.%s is gone: %s", newest.page, repair.field, repair.reason)
    written = None
    if write and any(r.status in ("repaired", "gone") for r in repairs):
        written = str(write_new_version(newest, repairs))
    return PageReport(newest.page, newest.label, repairs, written, len(samples), required)


def _ok(selectors: SelectorSet, name: str, pages: int) -> Repair:
    spec = selectors.fields.get(name)
    old = spec.xpath if spec else (selectors.items or "")
    return Repair(field=name, old_xpath=old, status="ok", new_xpath=None, new_regex=None,
                  confidence=1.0, pages_agreeing=pages, pages_checked=pages, reason="")


def write_new_version(newest: SelectorSet, repairs: Sequence[Repair]) -> Path:
    fixed = [r.field for r in repairs if r.status == "repaired"]
    gone = [r.field for r in repairs if r.status == "gone"]
    reason = f"refresh-selectors {datetime.now(UTC):%Y-%m-%d %H:%M}Z: " + "; ".join(
        part for part in (", ".join(fixed) and "relocated " + ", ".join(fixed),
                          ", ".join(gone) and "dropped (gone) " + ", ".join(gone)) if part)
    return write_version(newest, reason=reason, fields=repaired_fields(newest, repairs),
                         derived_from=newest.version, items=repaired_items(newest, repairs))
