"""Repair evidence kept from successful runs: element fingerprints per selector field.

After a page is read with the newest selector version and no field missing, the
fingerprints of the elements each field read are saved in the store (collection
``fingerprints``, one document per site, page type and field). ``refresh-selectors``
reads them back to relocate fields a redesign broke. A few pages per run are enough;
``Keeper`` samples them so the crawl pays for it only at the start.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from ..site.selector_files import SelectorSet
from ..store.base import Store
from .fingerprint import Fingerprint, fingerprint_field, from_json, to_json

__all__ = ["COLLECTION", "Keeper", "recall", "remember"]

COLLECTION = "fingerprints"
_MAX_PRINTS = 20


def _doc_id(selector_set: str, page: str, field: str) -> str:
    return f"{selector_set}:{page}:{field}"


def compute(html: str, selectors: SelectorSet) -> dict[str, list[Fingerprint]]:
    """Fingerprints of every field on one page that the selectors read well."""
    return {name: fingerprint_field(html, spec, items_xpath=selectors.items)
            for name, spec in selectors.fields.items()}


async def remember(store: Store, selector_set: str, selectors: SelectorSet, html: str) -> None:
    """Add this page's fingerprints to those kept for each field (newest first, bounded)."""
    found = await asyncio.to_thread(compute, html, selectors)
    for name, prints in found.items():
        if not prints:
            continue
        doc_id = _doc_id(selector_set, selectors.page, name)
        old = await store.get_doc(COLLECTION, doc_id)
        kept = [to_json(p) for p in prints]
        kept += [p for p in (old or {}).get("prints", []) if p not in kept]
        await store.save_doc(COLLECTION, doc_id, {
            "set": selector_set, "page": selectors.page, "field": name,
            "version": selectors.label, "prints": kept[:_MAX_PRINTS],
            "updated": datetime.now(UTC),
        })


async def recall(store: Store, selector_set: str, page: str) -> dict[str, list[Fingerprint]]:
    """The fingerprints kept for each field of one page type."""
    docs = await store.find_docs(COLLECTION, {"set": selector_set, "page": page})
    out: dict[str, list[Fingerprint]] = {}
    for doc in docs:
        prints = []
        for raw in doc.get("prints", []):
            try:
                prints.append(from_json(raw))
            except ValueError:
                continue  # a print from an older format: worthless, not fatal
        out[str(doc["field"])] = prints
    return out


class Keeper:
    """Remembers fingerprints from the first few good pages of each type in a run."""

    def __init__(self, store: Store, selector_set: str, *, per_page_type: int = 3) -> None:
        self._store = store
        self._set = selector_set
        self._limit = per_page_type
        self._seen: Counter[str] = Counter()

    async def offer(self, selectors: SelectorSet, html: str, *, newest: bool,
                    complete: bool) -> None:
        """Keep this page's evidence if it was read by the newest version, fully."""
        if not (newest and complete) or self._seen[selectors.page] >= self._limit:
            return
        self._seen[selectors.page] += 1
        await remember(self._store, self._set, selectors, html)

    def __repr__(self) -> str:
        return f"Keeper({self._set!r}, seen={dict(self._seen)!r})"
