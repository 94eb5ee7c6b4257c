"""``scrape debug URL``: one page, headed, with every field's element outlined.

It prints field -> value as the current selector versions read it, saves a full-page
screenshot with the overlays and a Playwright trace (``playwright show-trace``), and
with ``--pause`` opens the Playwright Inspector on the live page.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .browser.inspection import Inspection, inspect
from .browser.options import browser_options
from .config import Settings
from .errors import ConfigError, FetchError
from .site.extract import extract_items, extract_page
from .site.load import load_site
from .site.profile import SiteProfile
from .site.selector_files import SelectorSet, load_selectors, native_xpath

__all__ = ["DebugReport", "debug_page", "page_types_for"]

_VARIABLE = re.compile(r"\$([A-Za-z_][\w-]*)")
_COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#9a6324",
           "#800000", "#808000", "#000075")


@dataclass(frozen=True, slots=True)
class DebugReport:
    url: str
    values: dict[str, Any]
    versions: dict[str, str]
    outlined: dict[str, int]
    labels: list[str]
    screenshot: Path
    trace: Path


def page_types_for(profile: SiteProfile, url: str) -> tuple[str, ...]:
    """Which selector pages apply to ``url``, from its host."""
    host = urlsplit(url).hostname or ""
    if host == profile.hosts["video"]:
        return ("video",)
    if host == profile.hosts["catalogue"]:
        return ("catalogue", "pager")
    raise ConfigError(f"{url}: not a catalogue ({profile.hosts['catalogue']}) or video "
                      f"({profile.hosts['video']}) page of site {profile.name}")


async def debug_page(settings: Settings, url: str, *, out_dir: Path, pause: bool) -> DebugReport:
    """Open ``url`` headed, outline what each selector field matches, save the evidence."""
    site = load_site(replace(settings, headed=True))
    profile = site.profile
    url = profile.absolute(url)
    kinds = page_types_for(profile, url)
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    shot, trace = out_dir / "page.png", out_dir / "trace.zip"
    options = replace(browser_options(settings, blocked_hosts=profile.media_hosts),
                      headless=False)
    values: dict[str, Any] = {}
    versions: dict[str, str] = {}
    outlined: dict[str, int] = {}
    async with inspect(options, url, trace=trace) as page:
        if page.status is not None and page.status >= 400:
            raise FetchError(f"{url} answered HTTP {page.status}: no page to inspect")
        html = await page.html()
        for n, kind in enumerate(kinds):
            sets = load_selectors(profile, kind)
            versions[kind], found = read(html, sets, scheme=profile.scheme, url=url)
            values.update({f"{kind}.{k}": v for k, v in found.items()})
            chosen = next(s for s in sets if s.label == versions[kind])
            outlined.update(await outline(page, chosen, offset=n * 4))
        await page.place_labels()
        labels = await page.labels()
        await page.screenshot(shot)
        if pause:
            await page.pause()
    return DebugReport(url=url, values=values, versions=versions, outlined=outlined,
                       labels=labels, screenshot=shot, trace=trace)


def read(html: str, sets: tuple[SelectorSet, ...], *, scheme: str,
         url: str) -> tuple[str, dict[str, Any]]:
    """The version used and field -> value; a list page shows its first item."""
    if sets[0].items:
        items = extract_items(html, sets, base_scheme=scheme, base_url=url)
        first = items.items[0] if items.items else {}
        return items.version, {"items": len(items.items), **first}
    page = extract_page(html, sets, base_scheme=scheme, base_url=url)
    return page.version, {**page.values, **{f"missing:{m}": None for m in page.missing}}


async def outline(page: Inspection, selectors: SelectorSet, *, offset: int) -> dict[str, int]:
    items = native_xpath(selectors.items) if selectors.items else None
    counts = {}
    for i, (name, spec) in enumerate(selectors.fields.items()):
        color = _COLORS[(i + offset) % len(_COLORS)]
        xpath = browser_xpath(spec.xpath, spec.vars)
        counts[name] = await page.outline(name, xpath, items=items, color=color)
    return counts


def browser_xpath(xpath: str, variables: Mapping[str, Any]) -> str:
    """The XPath as a browser's document.evaluate takes it: no has-class(), no $vars."""
    def literal(match: re.Match[str]) -> str:
        value = str(variables[match[1]])
        return f"'{value}'" if "'" not in value else f'"{value}"'

    return native_xpath(_VARIABLE.sub(literal, xpath) if variables else xpath)
