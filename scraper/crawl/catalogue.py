"""One catalogue page: render it, read its video cards and the 下一页 link."""

from __future__ import annotations

import asyncio

from ..errors import BrowserError, ScraperError
from ..models import CardInfo
from ..site.extract import extract_items, extract_page
from .context import VideoContext

__all__ = ["read_catalogue_page"]


async def read_catalogue_page(
    ctx: VideoContext, url: str, *, page: int
) -> tuple[list[CardInfo], str | None]:
    """Render one catalogue page and read its cards and the 下一页 link (retrying)."""
    site = ctx.site
    last: ScraperError | None = None
    for attempt in range(max(1, ctx.settings.render_attempts)):
        if attempt:
            await asyncio.sleep(min(ctx.settings.backoff_max_s,
                                    ctx.settings.backoff_base_s * 2 ** attempt))
        try:
            async with ctx.tabs.tab() as tab:
                visit = await tab.visit(url)
                html = await tab.html()
        except BrowserError as exc:
            last = exc
            continue
        if visit.status is not None and visit.status >= 400:
            last = BrowserError(f"{url} answered HTTP {visit.status}")
            continue
        scheme, base = site.profile.scheme, visit.url
        items = await asyncio.to_thread(extract_items, html, site.catalogue,
                                        base_scheme=scheme, base_url=base)
        pager = await asyncio.to_thread(extract_page, html, site.pager,
                                        base_scheme=scheme, base_url=base)
        ctx.stats.selectors_used(items.version, url, fallback=items.fallback,
                                 missing=items.missing_items)
        if not items.items:
            last = BrowserError(f"no video cards found on {url} (selectors {items.version})")
            continue
        await ctx.evidence.offer(site.catalogue[0], html, newest=not items.fallback,
                                 complete=not items.missing_items)
        await ctx.evidence.offer(site.pager[0], html, newest=not pager.fallback,
                                 complete=not pager.missing)
        cards = [CardInfo(page=page, **_card_fields(fields)) for fields in items.items]
        return cards, pager.values.get("next_url")
    raise last or BrowserError(f"cannot load {url}")


def _card_fields(fields: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in fields.items() if k in CardInfo.model_fields and v is not None}
