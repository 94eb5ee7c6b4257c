"""How long reading a page with the selectors takes: figures only, nothing asserted.

The pages are the unit tests' own (tests/test_extract.py): a catalogue page of 15 cards
padded with 60 KB of script and style, as a real page has, and a rendered video page.
Prints the best of 30 runs of each extraction, in milliseconds.

    python bench/extract.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from common import ROOT  # noqa: F401  (puts the repository on sys.path)

from scraper.site.extract import extract_items, extract_page
from scraper.site.profile import load_profile
from scraper.site.selector_files import load_selectors
from tests.test_extract import card, catalogue, video_page


def best_ms(run: Callable[[], object], repeat: int = 30) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 2)


def main() -> None:
    profile = load_profile("youku-replica", selectors_dir=None)
    cards_v, pager_v, video_v = (load_selectors(profile, kind)
                                 for kind in ("catalogue", "pager", "video"))
    cards = [card(f"XMT{i:06d}", f"标题 {i}", f"{i:032x}", "01:05", "2.2万", "1,322")
             for i in range(15)]
    html = catalogue(cards) + "<!--" + "x" * 60_000 + "-->"
    page = video_page()
    print(json.dumps({
        "catalogue_cards_ms": best_ms(lambda: extract_items(html, cards_v, base_scheme="http")),
        "pager_ms": best_ms(lambda: extract_page(html, pager_v, base_scheme="http")),
        "video_page_ms": best_ms(lambda: extract_page(page, video_v, base_scheme="http")),
    }))


if __name__ == "__main__":
    main()
