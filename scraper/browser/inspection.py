"""``scrape debug``'s view of one page: overlays, a screenshot, a trace, the Inspector.

The crawl drives Chromium over its DevTools pipe; this one page goes through Playwright,
for its trace and its Inspector. Its Playwright errors stop here (``playwright_errors``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Browser as PWBrowser
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, async_playwright

from ..config import driver_environment
from .options import BrowserOptions, launch_args
from .playwright_map import playwright_errors

__all__ = ["Inspection", "inspect"]


@contextlib.asynccontextmanager
async def inspect(options: BrowserOptions, url: str, *, trace: Path) -> AsyncIterator[Inspection]:
    """Open ``url`` in a Chromium launched with ``options``, traced, for ``scrape debug``."""
    driver_environment()
    async with async_playwright() as pw:
        with playwright_errors("cannot start Chromium"):
            browser = await pw.chromium.launch(
                executable_path=options.executable, headless=options.headless,
                slow_mo=options.slow_mo_ms or None,
                args=launch_args(options, "--scraper-debug"))
        try:
            async with _traced(browser, options, url, trace=trace) as page:
                yield page
        finally:
            with contextlib.suppress(PlaywrightError):
                await browser.close()


@contextlib.asynccontextmanager
async def _traced(browser: PWBrowser, options: BrowserOptions, url: str, *,
                  trace: Path) -> AsyncIterator[Inspection]:
    with playwright_errors("cannot open a browser context"):
        context = await browser.new_context(user_agent=options.user_agent)
        context.set_default_timeout(options.timeout_s * 1000)
    try:
        with playwright_errors(f"cannot inspect {url}", navigating=True):
            await context.tracing.start(screenshots=True, snapshots=True)
            page = await context.new_page()
            response = await page.goto(url, wait_until="domcontentloaded")
            with contextlib.suppress(PlaywrightError):  # a page that never idles is fine
                await page.wait_for_load_state("networkidle", timeout=5000)
        yield Inspection(page, status=response.status if response else None)
        with playwright_errors(f"cannot save the trace of {url}"):
            await context.tracing.stop(path=str(trace))
    finally:
        with contextlib.suppress(PlaywrightError):
            await context.close()


# Draws a labelled box over every node an XPath selects (attributes and text nodes
# are shown by their element). Plain XPath 1.0 only: has-class() is spelled out first.
_OVERLAY_JS = """([label, xpath, itemsXpath, color]) => {
  const roots = [];
  if (itemsXpath) {
    const r = document.evaluate(itemsXpath, document, null, 7, null);
    for (let i = 0; i < r.snapshotLength; i++) roots.push(r.snapshotItem(i));
  } else { roots.push(document); }
  let count = 0;
  for (const root of roots) {
    const r = document.evaluate(xpath, root, null, 7, null);
    for (let i = 0; i < r.snapshotLength; i++) {
      let node = r.snapshotItem(i);
      if (node.nodeType === 2) node = node.ownerElement;
      else if (node.nodeType !== 1) node = node.parentElement;
      if (!node) continue;
      const box = node.getBoundingClientRect();
      const div = document.createElement("div");
      div.className = "scraper-overlay";
      div.setAttribute("data-scraper-label", label);
      div.style.cssText = `position:absolute;left:${box.left + scrollX}px;` +
        `top:${box.top + scrollY}px;width:${Math.max(box.width, 4)}px;` +
        `height:${Math.max(box.height, 4)}px;outline:2px solid ${color};` +
        "z-index:2147483647;pointer-events:none;";
      const tag = document.createElement("span");
      tag.textContent = label;
      tag.style.cssText = `position:absolute;top:-14px;left:0;font:11px monospace;` +
        `background:${color};color:#fff;padding:0 2px;white-space:nowrap;`;
      div.appendChild(tag);
      document.body.appendChild(div);
      count++;
    }
  }
  return count;
}"""


# Moves each overlay's label, in document order, to the free spot nearest to where it was
# drawn (a few rows up or down, a few label widths aside), so that no two labels cover
# each other: neighbouring fields, or two fields of one element, printed as one word
# ("duration_sext"). Far from everything else, a free row always exists.
_PLACE_LABELS_JS = """() => {
  const placed = [];
  const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom &&
    b.top < a.bottom;
  const near = [];
  for (let row = -6; row <= 6; row++)
    for (let col = -2; col <= 3; col++) near.push([row, col, Math.abs(row) + 1.5 * Math.abs(col)]);
  near.sort((a, b) => a[2] - b[2]);
  for (let row = 7; row < 400; row++) near.push([row, 0, 0], [-row, 0, 0]);
  for (const tag of document.querySelectorAll(".scraper-overlay > span")) {
    const top = parseFloat(tag.style.top), left = parseFloat(tag.style.left);
    const first = tag.getBoundingClientRect();
    for (const [row, col] of near) {
      const dy = row * (first.height + 1), dx = col * (first.width + 2);
      const box = {left: first.left + dx, right: first.right + dx, top: first.top + dy,
                   bottom: first.bottom + dy};
      if (box.top + scrollY < 0 || box.left + scrollX < 0) continue;  // off the page
      if (!placed.some(other => hit(box, other))) {
        tag.style.top = `${top + dy}px`;
        tag.style.left = `${left + dx}px`;
        placed.push(box);
        break;
      }
    }
  }
  return placed.length;
}"""

_LABEL_BOXES_JS = """() => Array.from(document.querySelectorAll(".scraper-overlay > span"))
  .map(tag => { const b = tag.getBoundingClientRect();
    return [tag.textContent, b.left + scrollX, b.top + scrollY, b.width, b.height]; })"""


class Inspection:
    """One page under ``scrape debug``: overlays, a screenshot, the Inspector."""

    def __init__(self, page: Page, *, status: int | None) -> None:
        self._page = page
        self.status = status  # the page's HTTP status (None: not from the network)

    async def html(self) -> str:
        with playwright_errors("cannot read the page"):
            return str(await self._page.evaluate("document.documentElement.outerHTML"))

    async def outline(self, label: str, xpath: str, *, items: str | None, color: str) -> int:
        """Outline what ``xpath`` selects (inside each ``items`` node); returns how many."""
        with playwright_errors(f"cannot outline {label}"):
            return int(await self._page.evaluate(_OVERLAY_JS, [label, xpath, items, color]))

    async def place_labels(self) -> None:
        """Move labels apart so that none covers another."""
        with playwright_errors("cannot place the labels"):
            await self._page.evaluate(_PLACE_LABELS_JS)

    async def label_boxes(self) -> list[tuple[str, float, float, float, float]]:
        """Each label as drawn: its text, left, top, width and height in page pixels."""
        with playwright_errors("cannot read the labels"):
            boxes = await self._page.evaluate(_LABEL_BOXES_JS)
        return [(str(t), float(x), float(y), float(w), float(h)) for t, x, y, w, h in boxes]

    async def labels(self) -> list[str]:
        """The overlay labels now in the page (what a test checks)."""
        script = ("Array.from(document.querySelectorAll('.scraper-overlay'))"
                  ".map(e => e.getAttribute('data-scraper-label'))")
        with playwright_errors("cannot read overlays"):
            return [str(v) for v in await self._page.evaluate(script)]

    async def screenshot(self, path: Path) -> None:
        with playwright_errors("cannot take a screenshot"):
            await self._page.screenshot(path=str(path), full_page=True)

    async def pause(self) -> None:
        """Open the Playwright Inspector and wait until the user resumes."""
        with playwright_errors("the Inspector failed"):
            await self._page.pause()
