"""One catalogue page: render it, read its video cards and the 下一页 link."""

from __future__ import annotations

import asyncio

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ..errors import BrowserError, SelectorDrift
from ..models import CardInfo
from ..site.extract import extract_items, extract_page
from .context import VideoContext

__all__ = ["read_catalogue_page"]


async def read_catalogue_page(
    ctx: VideoContext, url: str, *, page: int
) -> tuple[list[CardInfo], str | None]:
    """Render one catalogue page and read its cards and the 下一页 link, retrying a page
    that did not render or showed no cards (a fault of one response) with jittered
    backoff; ``SelectorDrift`` when it rendered every time but no selector found cards."""
    settings = ctx.settings
    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, settings.render_attempts)),
        wait=wait_random_exponential(multiplier=settings.backoff_base_s,
                                     max=settings.backoff_max_s),
        retry=retry_if_exception_type((BrowserError, SelectorDrift)), reraise=True)
    async for attempt in retrying:
        with attempt:
            return await _read_once(ctx, url, page=page)
    raise AssertionError("tenacity either returns or re-raises")


async def _read_once(
    ctx: VideoContext, url: str, *, page: int
) -> tuple[list[CardInfo], str | None]:
    site = ctx.site
    async with ctx.tabs.tab() as tab:
        visit = await tab.visit(url)
        html = await tab.html()
    if visit.status is not None and visit.status >= 400:
        raise BrowserError(f"{url} answered HTTP {visit.status}")
    scheme, base = site.profile.scheme, visit.url
    items = await asyncio.to_thread(extract_items, html, site.catalogue,
                                    base_scheme=scheme, base_url=base)
    pager = await asyncio.to_thread(extract_page, html, site.pager,
                                    base_scheme=scheme, base_url=base)
    ctx.stats.selectors_used(items.version, url, fallback=items.fallback,
                             missing=items.missing_items)
    if not items.items:
        raise SelectorDrift(
            f"the catalogue answered but no selector version finds video cards on {url} "
            f"(tried {', '.join(s.label for s in site.catalogue)}): the site's markup "
            "changed; run `scrape refresh-selectors` to repair the selectors")
    await ctx.evidence.offer(site.catalogue[0], html, newest=not items.fallback,
                             complete=not items.missing_items)
    await ctx.evidence.offer(site.pager[0], html, newest=not pager.fallback,
                             complete=not pager.missing)
    cards = [CardInfo(page=page, **_card_fields(fields)) for fields in items.items]
    return cards, pager.values.get("next_url")


def _card_fields(fields: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in fields.items() if k in CardInfo.model_fields and v is not None}
