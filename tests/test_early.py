"""Chromium launched early, while a command imports the crawl: used, or closed unused."""

from __future__ import annotations

import asyncio
import os

import psutil

from scraper.browser.early import EarlyLaunch
from scraper.browser.memory import chromium_pids
from scraper.browser.options import BrowserOptions
from scraper.config import DEFAULT_CHROMIUM_ARGS

from .conftest import CHROMIUM


def options() -> BrowserOptions:
    return BrowserOptions(executable=CHROMIUM, args=DEFAULT_CHROMIUM_ARGS)


def our_chromiums() -> set[int]:
    """Browser processes launched by this test process (they carry the marker switch)."""
    found = set()
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if any(arg.startswith("--scraper-browser=") for arg in proc.cmdline()):
                found.add(proc.pid)
        except psutil.Error:
            continue
    return found


async def test_a_launched_browser_serves_pages_and_closes_with_its_launch() -> None:
    early = EarlyLaunch(options())
    browser = await early.ready()
    assert browser.marker is not None
    assert chromium_pids(browser.marker)  # running
    page = await browser.open_page()
    await page.session.send("Page.navigate", {"url": "data:text/html,<p id=x>early</p>"})
    found = await page.session.send("Runtime.evaluate", {
        "expression": "new Promise(r => { const look = () => document.getElementById('x')"
                      " ? r(document.getElementById('x').textContent) : setTimeout(look, 10);"
                      " look(); })", "awaitPromise": True, "returnByValue": True})
    assert found["result"]["value"] == "early"
    await browser.close_page(page, page.context)
    await early.close()
    assert not chromium_pids(browser.marker)
    await early.close()  # twice is harmless


async def test_a_launch_closed_before_it_was_used_leaves_no_chromium() -> None:
    before = our_chromiums()
    for wait_s in (0.0, 0.3):  # cancelled mid-launch, then (likely) just launched
        early = EarlyLaunch(options())
        await asyncio.sleep(wait_s)
        await early.close()
        for _ in range(50):  # a closing Chromium takes a moment to exit
            if our_chromiums() <= before:
                break
            await asyncio.sleep(0.1)
        assert our_chromiums() <= before
