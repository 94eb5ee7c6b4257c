"""A local HTML file opened in headless Chromium, and what a script there returns.

``scrape plot`` uses it to turn a chart page into a PNG or SVG with the chart library's
own export, in the Chromium the scraper already drives.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from ..config import DEFAULT_CHROMIUM_ARGS, driver_environment
from ..errors import BrowserError
from .pool import first_line

__all__ = ["evaluate_file"]

# The crawl's flags without its --blink-settings, which turn images off: a chart export
# draws its SVG through an image.
_ARGS = [arg for arg in DEFAULT_CHROMIUM_ARGS if not arg.startswith("--blink-settings")]


async def evaluate_file(
    path: Path, expression: str, *, executable: str | None, timeout_s: float = 60.0
) -> Any:
    """Open ``path`` (a file needing no network), wait for it to load, and return what
    ``expression`` evaluates to there (awaited, if it is a promise)."""
    driver_environment()
    url = (await asyncio.to_thread(path.resolve)).as_uri()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=executable, args=_ARGS)
            try:
                page = await browser.new_page()
                page.set_default_timeout(timeout_s * 1000)
                await page.goto(url, wait_until="load")
                async with asyncio.timeout(timeout_s):  # evaluate itself has no deadline
                    return await page.evaluate(expression)
            finally:
                await browser.close()
    except PlaywrightError as exc:
        raise BrowserError(f"cannot render {path}: {first_line(exc)}") from exc
    except TimeoutError as exc:
        raise BrowserError(f"cannot render {path}: no answer within {timeout_s:g} s") from exc
