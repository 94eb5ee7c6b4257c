"""The browser alone: video visits as `scrape run` makes them, with one thing changed.

Launches `chromium-headless-shell` with the scraper's own flags, reads video URLs from
the catalogue, then visits them over a few tabs and prints the CPU seconds of each
Chromium process kind (and of the Playwright driver) during the visits and the peak PSS
by kind. By default the visits are the scraper's own (`browser/pool.py` over the
DevTools pipe: capture the UPS and comment-page-1 replies held by CDP Fetch
interception, read `outerHTML`). With `--via playwright` the same visits go through
Playwright as the scraper made them before (navigate to `commit`, the same Fetch
capture on a CDP session), and the other options change one thing of that, counting the
driver messages that reached Python per visit. Runs can be compared alternately
(A/B/A/B):

    python bench/visits.py                                   # the scraper's own tabs
    python bench/visits.py --via playwright                  # the same through Playwright
    python bench/visits.py --add-flag=--single-process       # one more Chromium flag
    python bench/visits.py --drop-flag=--process-per-site    # one flag less
    python bench/visits.py --viewport 320x240
    python bench/visits.py --mode events      # Playwright response events instead
    python bench/visits.py --frames always    # Chromium draws every frame
    python bench/visits.py --visits-per-page 20  # tabs get a new page more often
    python bench/visits.py --mode poll        # wait for the page's globals instead
    python bench/visits.py --mode minimize    # windows minimised (hidden) through CDP
    python bench/visits.py --mode pressure    # a memory-pressure signal every 25 visits
    NODE_OPTIONS=--jitless python bench/visits.py --via playwright  # the driver's heap

Figures only: nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import threading
import time
from collections.abc import Coroutine
from profile import kind
from typing import Any

from common import cpu_s, pss_kb, replica, tree
from playwright._impl import connection
from playwright.async_api import BrowserContext, Page, Response, async_playwright

from scraper.api.tokens import api_matcher
from scraper.browser.chromium import Browser
from scraper.browser.frames import FRAME_FLAGS, begin_frame
from scraper.browser.options import BrowserOptions
from scraper.browser.pool import TabPool
from scraper.config import DEFAULT_CHROMIUM_ARGS, HEADLESS_SHELL, parse_resolve

MESSAGES: collections.Counter[str] = collections.Counter()
_dispatch = connection.Connection.dispatch


def _counting_dispatch(self: connection.Connection, msg: dict[str, Any]) -> None:
    method = msg.get("method") or "result"
    if method == "__create__":
        method += ":" + msg["params"]["type"]
    MESSAGES[method] += 1
    _dispatch(self, msg)


connection.Connection.dispatch = _counting_dispatch  # type: ignore[method-assign]


def by_kind(me: int) -> dict[int, tuple[str, float, int]]:
    """Each descendant process: kind, CPU seconds so far, PSS KB."""
    return {pid: (kind(pid) or "?", cpu_s(pid), pss_kb([pid])) for pid in tree(me) if pid != me}


class PeakByKind(threading.Thread):
    def __init__(self, me: int) -> None:
        super().__init__(daemon=True)
        self.me, self.done, self.peak = me, threading.Event(), {}

    def run(self) -> None:
        while not self.done.wait(0.25):
            pss: dict[str, int] = collections.Counter()
            for name, _, kb in by_kind(self.me).values():
                pss[name] += kb
            if sum(pss.values()) > sum(self.peak.values()):
                self.peak = dict(pss)


async def video_urls(context: BrowserContext, count: int) -> list[str]:
    page, urls, n = await context.new_page(), [], 1
    while len(urls) < count:
        suffix = "" if n == 1 else f"/_page225659_{n}_cmodid_225659"
        await page.goto(f"http://news.youku.test/index/jrrm{suffix}")
        found = await page.eval_on_selector_all("div.v-link a", "els => els.map(e => e.href)")
        if not found:
            break
        urls, n = urls + found, n + 1
    await page.close()
    return urls[:count]


async def visit(page: Page, url: str, mode: str) -> bool:
    if mode == "poll":
        await page.goto(url, wait_until="commit")
        await page.wait_for_function("window.__ups && window.__ups.data && "
                                     "window.ykComment && window.ykComment.data")
    elif mode == "events":
        got: dict[str, Response] = {}
        both = asyncio.Event()

        def on_response(response: Response) -> None:
            for name, part in (("ups", "/ups/get.json"), ("comments", "/commentList")):
                if part in response.url:
                    got[name] = response
            if len(got) == 2:
                both.set()

        page.on("response", on_response)
        await page.goto(url, wait_until="commit")
        await asyncio.wait_for(both.wait(), 20)
        await asyncio.gather(*(r.text() for r in got.values()))
        page.remove_listener("response", on_response)
    else:  # the scraper's way: the two replies held by CDP Fetch interception
        state = FETCH[page]
        state["got"], state["both"] = {}, asyncio.Event()
        await page.goto(url, wait_until="commit")
        for _ in range(200):
            try:
                await asyncio.wait_for(state["both"].wait(), 0.1)
                break
            except TimeoutError:
                await frame(state)
    await frame(FETCH.get(page, {}))
    html = await page.evaluate("document.documentElement.outerHTML")
    return 'id="subtitle"' in html


FETCH: dict[Page, dict[str, Any]] = {}


FRAMES = {"on_demand": False, "lock": None}


async def frame(state: dict[str, Any]) -> None:
    """One frame, as the scraper asks for when Chromium draws on demand."""
    if not FRAMES["on_demand"] or "cdp" not in state:
        return
    if FRAMES["lock"] is not None:
        async with FRAMES["lock"]:
            await begin_frame(state["cdp"])
    else:
        await begin_frame(state["cdp"])


async def fetch_capture(context: BrowserContext, page: Page) -> None:
    """Pause only the two API replies at the response stage (CDP Fetch with patterns)
    and read their bodies, instead of a Playwright response event for every request."""
    cdp = await context.new_cdp_session(page)
    state: dict[str, Any] = {"got": {}, "both": asyncio.Event(), "cdp": cdp}
    FETCH[page] = state

    async def paused(event: dict[str, Any]) -> None:
        rid = event["requestId"]
        try:
            body = await cdp.send("Fetch.getResponseBody", {"requestId": rid})
            name = "ups" if "/ups/get.json" in event["request"]["url"] else "comments"
            state["got"][name] = body["body"]
            if len(state["got"]) == 2:
                state["both"].set()
        finally:
            await cdp.send("Fetch.continueRequest", {"requestId": rid})

    cdp.on("Fetch.requestPaused", lambda e: asyncio.ensure_future(paused(e)))
    await cdp.send("Fetch.enable", {"patterns": [
        {"urlPattern": "*//ups.youku.test/ups/get.json*", "requestStage": "Response"},
        {"urlPattern": "*//p.comments.youku.test/ycp/comment/pc/commentList*",
         "requestStage": "Response"}]})


async def tab(context: BrowserContext, urls: asyncio.Queue[str], mode: str,
              pressure: Any, per_page: int) -> int:
    page, ok, done = await context.new_page(), 0, 0
    if mode in ("fetch", "minimize", "pressure"):
        await fetch_capture(context, page)
    if mode == "minimize":
        cdp = await context.new_cdp_session(page)
        window = await cdp.send("Browser.getWindowForTarget")
        await cdp.send("Browser.setWindowBounds", {"windowId": window["windowId"],
                                                   "bounds": {"windowState": "minimized"}})
    while not urls.empty():
        ok += await visit(page, urls.get_nowait(), mode)
        done += 1
        if done % per_page == 0:
            await page.close()
            page = await context.new_page()
            if mode in ("fetch", "minimize", "pressure"):
                await fetch_capture(context, page)
        if pressure is not None and done % 25 == 0:
            await pressure.send("Memory.simulatePressureNotification", {"level": "critical"})
    return ok


async def measured(me: int, tabs: list[Coroutine[Any, Any, int]]
                   ) -> tuple[int, float, dict[str, float], dict[str, int]]:
    """Run the tabs' visits: pages rendered, wall seconds, CPU seconds and peak PSS (KB)
    by process kind over the visits alone."""
    before, peak = by_kind(me), PeakByKind(me)
    peak.start()
    started = time.monotonic()
    ok = sum(await asyncio.gather(*tabs))
    wall = time.monotonic() - started
    peak.done.set()
    cpu: dict[str, float] = collections.Counter()
    for pid, (name, seconds, _) in by_kind(me).items():
        cpu[name] += seconds - before.get(pid, (name, 0.0, 0))[1]
    return ok, wall, cpu, peak.peak


async def via_pool(args: argparse.Namespace, port: int) -> dict[str, Any]:
    """The visits made by the scraper's own tabs (browser/pool.py over the pipe)."""
    flags = tuple(f for f in DEFAULT_CHROMIUM_ARGS if f.split("=")[0] not in args.drop_flag)
    options = BrowserOptions(
        executable=HEADLESS_SHELL, args=(*flags, *args.add_flag),
        resolve=parse_resolve([f"*.test=127.0.0.1:{port}"]), blocked_hosts=("*.ykcdn.test",),
        visits_per_page=args.visits_per_page, frames_on_demand=args.frames != "always")
    me = os.getpid()
    async with Browser(options) as browser:
        pool = TabPool(browser, args.tabs)
        urls: list[str] = []
        async with pool.tab() as first:
            for n in range(1, 100):
                suffix = "" if n == 1 else f"/_page225659_{n}_cmodid_225659"
                await first.visit(f"http://news.youku.test/index/jrrm{suffix}")
                found = await first.evaluate(
                    "[...document.querySelectorAll('div.v-link a')].map(e => e.href)")
                if not isinstance(found, list) or not found or len(urls) >= args.visits:
                    break
                urls += [str(u) for u in found]
        queue: asyncio.Queue[str] = asyncio.Queue()
        for url in urls[:args.visits]:
            queue.put_nowait(url)
        visits = queue.qsize()

        async def one_tab() -> int:
            ok = 0
            while not queue.empty():
                url = queue.get_nowait()
                vid = url.rsplit("id_", 1)[-1].split(".html")[0]
                async with pool.tab() as tab:
                    await tab.visit(url, capture={
                        "ups": api_matcher("ups.youku.test", "/ups/get.json", vid=vid,
                                           vid_params=("vid",)),
                        "comments": api_matcher(
                            "p.comments.youku.test", "/ycp/comment/pc/commentList", vid=vid,
                            vid_params=("objectId",), extra={"currentPage": "1"})})
                    ok += 'id="subtitle"' in await tab.html()
            return ok

        ok, wall, cpu, peak = await measured(me, [one_tab() for _ in range(args.tabs)])
        await pool.close()
    return {
        "via": "cdp", "visits": visits, "rendered": ok, "wall_s": round(wall, 2),
        "cpu_s": {k: round(v, 2) for k, v in cpu.items() if not k.startswith("python")},
        "peak_pss_mb": {k: v // 1024 for k, v in peak.items() if not k.startswith("python")},
        "load": os.getloadavg()[0], "added": args.add_flag, "dropped": args.drop_flag,
        "frames": args.frames, "visits_per_page": args.visits_per_page,
    }


async def main(args: argparse.Namespace, port: int) -> dict[str, Any]:
    flags = [f for f in DEFAULT_CHROMIUM_ARGS if f.split("=")[0] not in args.drop_flag]
    if args.frames != "always":
        FRAMES["on_demand"] = True
        FRAMES["lock"] = None if args.frames == "concurrent" else asyncio.Lock()
        flags += FRAME_FLAGS
    flags += ["--no-sandbox", *args.add_flag,
              f"--host-resolver-rules=MAP *.ykcdn.test ~NOTFOUND, MAP *.test 127.0.0.1:{port}"]
    me = os.getpid()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=HEADLESS_SHELL, args=flags)
        width, _, height = args.viewport.partition("x")
        context = await browser.new_context(
            viewport={"width": int(width), "height": int(height)})
        queue: asyncio.Queue[str] = asyncio.Queue()
        for url in await video_urls(context, args.visits):
            queue.put_nowait(url)
        visits = queue.qsize()
        pressure = await browser.new_browser_cdp_session() if args.mode == "pressure" else None
        MESSAGES.clear()
        ok, wall, cpu, peak = await measured(me, [
            tab(context, queue, args.mode, pressure, args.visits_per_page)
            for _ in range(args.tabs)])
        await browser.close()
    return {
        "via": "playwright", "visits": visits, "rendered": ok, "wall_s": round(wall, 2),
        "cpu_s": {k: round(v, 2) for k, v in cpu.items() if not k.startswith("python")},
        "peak_pss_mb": {k: v // 1024 for k, v in peak.items() if not k.startswith("python")},
        "messages_per_visit": {k: round(v / max(visits, 1), 2) for k, v in MESSAGES.most_common()},
        "load": os.getloadavg()[0], "mode": args.mode, "added": args.add_flag,
        "dropped": args.drop_flag, "viewport": args.viewport, "frames": args.frames,
        "visits_per_page": args.visits_per_page,
        "node_options": os.environ.get("NODE_OPTIONS"),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--visits", type=int, default=120)
    parser.add_argument("--via", choices=["cdp", "playwright"], default="cdp",
                        help="the scraper's own tabs over the DevTools pipe, or Playwright "
                        "(where --mode applies)")
    parser.add_argument("--tabs", type=int, default=4)
    parser.add_argument("--mode", choices=["fetch", "events", "poll", "minimize", "pressure"],
                        default="fetch")
    parser.add_argument("--add-flag", action="append", default=[])
    parser.add_argument("--drop-flag", action="append", default=[],
                        help="a flag of the scraper's, by name (--js-flags)")
    parser.add_argument("--viewport", default="1280x720")
    parser.add_argument("--frames", choices=["on-demand", "concurrent", "always"],
                        default="on-demand", help="Chromium draws only when a tab asks, one "
                        "tab at a time (the scraper's way with the headless shell), or "
                        "without taking turns (it crashes), or always")
    parser.add_argument("--visits-per-page", type=int, default=100,
                        help="visits before a tab's page is replaced (the scraper's default)")
    arguments = parser.parse_args()
    with replica(max(150, arguments.visits)) as replica_port:
        run = via_pool if arguments.via == "cdp" else main
        print(json.dumps(asyncio.run(run(arguments, replica_port)), ensure_ascii=False))
