"""Chromium launched early, while a command imports the crawl: used, or closed unused; its
tabs opened and the crawl's first page loaded meanwhile."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
from collections.abc import AsyncIterator

import psutil
from aiohttp import web

from scraper.browser.early import EarlyLaunch
from scraper.browser.memory import chromium_pids
from scraper.browser.options import BrowserOptions
from scraper.browser.pool import TabPool
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


# --- the crawl's tabs opened, and its first page loaded, during the launch --------------

@contextlib.asynccontextmanager
async def counting_site() -> AsyncIterator[tuple[str, collections.Counter[str]]]:
    """A site on 127.0.0.1 whose pages say their path; yields its URL and the hits by path.
    ``/slow`` answers only as the site closes."""
    hits: collections.Counter[str] = collections.Counter()
    closing = asyncio.Event()

    async def page(request: web.Request) -> web.Response:
        hits[request.path] += 1
        if request.path == "/slow":
            await closing.wait()
        return web.Response(text=f"<p id=x>{request.path}</p>", content_type="text/html")

    app = web.Application()
    app.add_routes([web.get("/{name}", page)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", hits
    finally:
        closing.set()
        await runner.cleanup()


async def test_the_first_page_loads_during_the_launch_and_is_not_loaded_again() -> None:
    async with counting_site() as (base, hits):
        early = EarlyLaunch(options(), tabs=3, first_url=f"{base}/first")
        browser = await early.ready()
        pool = TabPool(browser, 3, ready=early.tabs)
        async with pool.tab() as tab:
            assert tab is early.tabs[0]
            visit = await tab.visit(f"{base}/first")
            assert (visit.url, visit.status) == (f"{base}/first", 200)
            assert "<p id=\"x\">/first</p>" in await tab.html()
            again = await tab.visit(f"{base}/first")  # taken over once, then loaded anew
            assert again.status == 200
        assert hits["/first"] == 2
        # The other tabs have their pages already, in the same context.
        assert all(tab._page is not None for tab in early.tabs[1:])
        assert {tab._context for tab in early.tabs} == {early.tabs[0]._context}
        await pool.close()
        await early.close()
        assert not chromium_pids(browser.marker)


async def test_a_different_first_visit_waits_for_the_preload_then_loads_its_own() -> None:
    async with counting_site() as (base, hits):
        early = EarlyLaunch(options(), tabs=1, first_url=f"{base}/first")
        browser = await early.ready()
        tab = early.tabs[0]
        visit = await tab.visit(f"{base}/other")
        assert visit.url == f"{base}/other"
        assert "<p id=\"x\">/other</p>" in await tab.html()
        assert (hits["/first"], hits["/other"]) == (1, 1)
        await early.close()
        assert not chromium_pids(browser.marker)


async def test_a_preload_nobody_takes_over_is_stopped_with_its_page() -> None:
    async with counting_site() as (base, hits):
        early = EarlyLaunch(options(), tabs=2, first_url=f"{base}/slow")
        browser = await early.ready()
        for _ in range(50):
            if hits["/slow"]:
                break
            await asyncio.sleep(0.05)
        assert hits["/slow"] == 1  # still waiting for its answer
        preload = early.tabs[0]._preload
        assert preload is not None
        await early.close()
        assert preload[1].cancelled()  # stopped, not waited for
        assert early.tabs[0]._page is None
        assert not chromium_pids(browser.marker)
