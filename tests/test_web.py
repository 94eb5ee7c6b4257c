"""The dashboard, `scrape plot` and `scrape report` over a store filled by a real crawl.

A replica is crawled (``run_crawl``), then monitored for a few rounds with its clock
moved; the same documents are copied into a directory store, and every page is opened
in Chromium over both stores: charts must hold exactly the stored snapshots, the Videos
table exactly the rows the filters and sort orders select, text from the site must show
as text, and no page may log a console error.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median_low
from typing import Any

import pytest
from aiohttp import ClientSession, web
from mongomock_motor import AsyncMongoMockClient
from PIL import Image
from playwright.async_api import Browser, Page

from scraper.jobs.monitor import run_monitor
from scraper.jobs.run import run_crawl
from scraper.jobs.tiers import parse_tiers
from scraper.models import Comment, CrawlInfo, Snapshot, Video
from scraper.store.base import Store
from scraper.store.mongo import MongoStore
from scraper.store.sqlite import SqliteStore
from scraper.web.app import make_app
from scraper.web.files import write_plot, write_report
from scraper.web.snapshots import Visit, growth_per_hour
from tests.conftest import CHROMIUM
from tests.test_cli import SCRAPE, one_error_line, scrape
from tests.test_crawl import crawl_settings
from tests.test_monitor import growth, replica_clock, split_threshold

pytestmark = [pytest.mark.browser, pytest.mark.slow]

URI = "mongodb://mock/scraper_web"
STEP_S = 72 * 60
PAGE_SIZE = 3
XSS_VID = "XSSvid"
XSS_TITLE = '<img src=x onerror="window.__pwned=1"> 标题 😀 <b>bold</b>'
XSS_SCRIPT = "<script>window.__pwned=2</script>"
XSS_IMG = '<img src=x onerror="window.__pwned=3">'
DOCS = Path(__file__).resolve().parent.parent / "docs"


@dataclass
class Filled:
    client: AsyncMongoMockClient
    dir_path: Path
    replica: Any
    settings: Any
    tiers: Any
    monitored: list[str]
    artifacts: Path


def mongo(client: AsyncMongoMockClient) -> MongoStore:
    return MongoStore(URI, client=client)


@pytest.fixture(scope="module")
async def filled(make_replica: Any, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[Filled]:
    """A crawl of 6 videos with their files, 4 monitor rounds of 5, and hostile text."""
    tmp = tmp_path_factory.mktemp("web")
    client = AsyncMongoMockClient()
    # The crawl stamps its snapshot with the wall clock, the monitor with the replica's:
    # starting the replica's clock now keeps the two in one order.
    # publication=False: the clock moves, the catalogue stays (no new videos); seed 2: of
    # the five monitored videos two grow fast (hot) and three slowly (cold).
    async with make_replica(videos=15, seed=2, faults=False, publication=False, segment_kb=4,
                            epoch=time.time() - 60) as rep:
        settings = crawl_settings(rep, tmp, max_videos=6, concurrency=2)
        outcome = await run_crawl(settings, store=mongo(client))
        assert outcome.stats["videos.failed"] == 0
        vids = rep.truth.categories["jrrm"][:5]
        t0 = rep.clock.now()
        threshold = split_threshold([growth(rep.truth, v, t0, t0 + STEP_S) for v in vids])
        tiers = parse_tiers(f"hot:1h@{threshold},cold:3h")
        monitor = replace(settings, no_media=True, pages=1, max_videos=5,
                          worker_id="web-test")
        for _ in range(4):
            rep.clock.advance(STEP_S)
            await run_monitor(monitor, tiers=tiers, once=True, store=mongo(client),
                              clock=replica_clock(rep))
        async with mongo(client) as store:
            await add_hostile_text(store, vids[0], at=datetime.fromtimestamp(t0, UTC))
            dir_path = tmp / "embedded.db"
            async with SqliteStore(dir_path) as copy:
                for name in ("videos", "comments", "snapshots", "runs", "monitors",
                             "schedule", "frontier"):
                    async for doc in store.iter_docs(name):
                        await copy.save_doc(name, doc["_id"], doc)
        artifacts = tmp / "artifacts"
        artifacts.mkdir()
        yield Filled(client, dir_path, rep, monitor, tiers, vids, artifacts)


async def add_hostile_text(store: Store, vid: str, *, at: datetime) -> None:
    """A video whose title, and a comment thread whose content, are markup."""
    crawl = CrawlInfo(first=at, last=at, run_id="manual")
    await store.save_video(Video(vid=XSS_VID, url="http://v.test/x", title=XSS_TITLE,
                                 stat_play=5, comment_total=2, crawl=crawl, status="partial",
                                 channel_name="<i>chan</i>"))
    for n in range(2):
        await store.add_snapshot(Snapshot(vid=XSS_VID, ts=at + timedelta(hours=n),
                                          stat_play=5 + n, comment_total=2, run_id=f"r{n}"))
    reply = Comment(vid=vid, id=900000002, time=at, content=XSS_IMG, parent_id=900000001)
    await store.save_comments([
        Comment(vid=vid, id=900000001, time=at, content=XSS_SCRIPT, user_name="<u>x</u>",
                num_reply=1, replies=[reply])])


@dataclass
class Dashboard:
    url: str
    store: Store
    kind: str


@pytest.fixture(params=["mongodb", "sqlite"])
async def dashboard(request: pytest.FixtureRequest, filled: Filled) -> AsyncIterator[Dashboard]:
    opened = mongo(filled.client) if request.param == "mongodb" else SqliteStore(filled.dir_path)
    async with opened as store:
        runner = web.AppRunner(make_app(store, poll_s=0.2, page_size=PAGE_SIZE))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield Dashboard(f"http://127.0.0.1:{port}", store, request.param)
        finally:
            await runner.cleanup()


class Console:
    """Every console error and uncaught exception of a page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))


async def open_page(chromium: Browser, url: str) -> tuple[Page, Console]:
    page = await chromium.new_page(viewport={"width": 1280, "height": 900})
    console = Console(page)
    await page.goto(url)
    await page.wait_for_function("Number(document.body.dataset.drawn || 0) > 0")
    return page, console


async def all_docs(store: Store, collection: str) -> list[dict[str, Any]]:
    return [doc async for doc in store.iter_docs(collection)]


async def chart_points(page: Page, chart: str = "chart") -> list[dict[str, Any]]:
    return list(await page.evaluate(
        "(id) => document.getElementById(id).data.map(t => ({name: t.name, x: t.x, y: t.y}))",
        chart))


def expected_points(snaps: list[dict[str, Any]]) -> list[tuple[list[str], list[Any]]]:
    ordered = sorted(snaps, key=lambda s: s["ts"])
    return [([s["ts"].isoformat() for s in ordered if s.get(f) is not None],
             [s[f] for s in ordered if s.get(f) is not None])
            for f in ("stat_play", "comment_total")]


def count_tree(comments: list[dict[str, Any]]) -> int:
    return sum(1 + count_tree(c["replies"]) for c in comments)


# --- Overview --------------------------------------------------------------------------------


async def test_overview_shows_the_store(chromium: Browser, dashboard: Dashboard,
                                        filled: Filled) -> None:
    page, console = await open_page(chromium, dashboard.url + "/")
    store = dashboard.store
    views = sorted(v["stat_play"] for v in await all_docs(store, "videos")
                   if v.get("stat_play") is not None)
    for name, value in (("min", views[0]), ("median", median_low(views)), ("max", views[-1])):
        assert await page.text_content(f"#views-{name}") == f"{value:,}"
    runs = await all_docs(store, "runs")
    table = await page.inner_text("#runs")
    assert runs and all(run["_id"] in table for run in runs)
    for run in runs:
        for name, n in run["counters"].items():
            assert not n or f"{name} {n:,}" in table
    schedule = [e for e in await all_docs(store, "schedule") if e["kind"] == "video"]
    rows = await page.eval_on_selector_all(
        "#tiers tr", "rows => rows.slice(1).map(r => [...r.cells].map(c => c.textContent))")
    tiers = sorted({e["tier"] for e in schedule})
    assert [(r[1], int(r[2])) for r in rows] == [
        (t, sum(e["tier"] == t for e in schedule)) for t in tiers]
    (hourly,) = await chart_points(page, "hourly")
    snaps = await all_docs(store, "snapshots")
    assert sum(hourly["y"]) == len(snaps)
    assert XSS_VID in await page.inner_text("#failures")  # its status is partial
    await page.screenshot(path=filled.artifacts / f"overview-{dashboard.kind}.png",
                          full_page=True)
    if dashboard.kind == "sqlite" and os.environ.get("SCRAPER_UPDATE_DOCS_SCREENSHOT"):
        DOCS.mkdir(exist_ok=True)
        shutil.copy(filled.artifacts / "overview-dir.png", DOCS / "dashboard.png")
    assert console.errors == []
    await page.close()


# --- Video -----------------------------------------------------------------------------------


async def test_each_video_chart_is_its_snapshots(chromium: Browser, dashboard: Dashboard,
                                                 filled: Filled) -> None:
    store = dashboard.store
    snaps = await all_docs(store, "snapshots")
    comments = await all_docs(store, "comments")
    videos = {v["_id"]: v for v in await all_docs(store, "videos")}
    for vid in filled.monitored:
        page, console = await open_page(chromium, f"{dashboard.url}/video/{vid}")
        mine = [s for s in snaps if s["vid"] == vid]
        assert len(mine) >= 2
        points = await chart_points(page)
        assert [(p["x"], p["y"]) for p in points] == expected_points(mine)
        assert await page.locator("#snapshots tr").count() == len(mine) + 1
        assert await page.text_content("#title") == videos[vid]["title"]
        tree = [c for c in comments if c["vid"] == vid]
        assert await page.locator("ul.comments li").count() == count_tree(tree)
        thumb = await page.eval_on_selector("#thumb", "img => img.complete && img.naturalWidth")
        assert thumb and thumb > 0
        assert console.errors == []
        if vid == filled.monitored[0]:
            await page.screenshot(path=filled.artifacts / f"video-{dashboard.kind}.png",
                                  full_page=True)
        await page.close()


async def test_markup_from_the_site_shows_as_text(chromium: Browser, dashboard: Dashboard,
                                                  filled: Filled) -> None:
    page, console = await open_page(chromium, f"{dashboard.url}/video/{filled.monitored[0]}")
    contents = await page.eval_on_selector_all(".content", "els => els.map(e => e.textContent)")
    assert XSS_SCRIPT in contents and XSS_IMG in contents
    assert await page.locator("main img[src=x], main script:not([type])").count() == 0
    nested = page.locator("li[data-comment='900000001'] li[data-comment='900000002'] .content")
    assert await nested.text_content() == XSS_IMG
    await page.goto(f"{dashboard.url}/video/{XSS_VID}")
    assert await page.text_content("#title") == XSS_TITLE
    (views, _) = await chart_points(page)
    assert views["y"] == [5, 6]
    await page.goto(f"{dashboard.url}/videos?q=bold")
    assert await page.text_content("td.title") == XSS_TITLE
    assert await page.evaluate("window.__pwned") is None
    assert console.errors == []
    response = await page.goto(f"{dashboard.url}/videos")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await page.close()


# --- Videos ----------------------------------------------------------------------------------


def sort_rows(videos: list[dict[str, Any]], key: Any, *, desc: bool = True) -> list[str]:
    """MongoDB's order: by key (missing lowest), ties by _id."""
    ordered = sorted(videos, key=lambda v: v["_id"])
    present = [v for v in ordered if key(v) is not None]
    missing = [v for v in ordered if key(v) is None]
    present.sort(key=key, reverse=desc)
    rows = present + missing if desc else missing + present
    return [v["_id"] for v in rows]


async def table_vids(page: Page, url: str) -> list[str]:
    """Every row of every page the pager walks through."""
    vids: list[str] = []
    await page.goto(url)
    while True:
        vids += await page.eval_on_selector_all("tr[data-vid]", "rs => rs.map(r => r.dataset.vid)")
        following = page.locator("a[rel=next]")
        if not await following.count():
            return vids
        await following.click()
        await page.wait_for_load_state()


async def test_filters_and_sort_orders_give_exactly_the_expected_rows(
        chromium: Browser, dashboard: Dashboard, filled: Filled) -> None:
    store = dashboard.store
    videos = await all_docs(store, "videos")
    snaps = await all_docs(store, "snapshots")
    schedule = {e["key"]: e["tier"] for e in await all_docs(store, "schedule")
                if e["kind"] == "video"}
    runs = {r["_id"]: r["category"] for r in await all_docs(store, "runs")}
    runs |= {m["_id"]: m["category"] for m in await all_docs(store, "monitors")}

    def last_two_growth(vid: str) -> float | None:
        mine = sorted((s for s in snaps if s["vid"] == vid), key=lambda s: s["ts"])[-2:]
        visits = [Visit(s["ts"], s.get("stat_play")) for s in mine]
        return growth_per_hour(*visits) if len(visits) == 2 else None

    by = {
        "views": lambda v: v.get("stat_play"), "comments": lambda v: v.get("comment_total"),
        "last": lambda v: v["crawl"]["last"], "growth": lambda v: last_two_growth(v["_id"]),
    }
    page, console = await open_page(chromium, dashboard.url + "/videos")
    await page.screenshot(path=filled.artifacts / f"videos-{dashboard.kind}.png", full_page=True)
    for sort, key in by.items():
        for order in ("desc", "asc"):
            got = await table_vids(page, f"{dashboard.url}/videos?sort={sort}&order={order}")
            if sort == "growth":  # unknown growth comes last either way
                known = [v for v in videos if key(v) is not None]
                want = sort_rows(known, key, desc=order == "desc") + sorted(
                    v["_id"] for v in videos if key(v) is None)
            else:
                want = sort_rows(videos, key, desc=order == "desc")
            assert got == want, (sort, order)
    tag = next(v["category"] for v in videos if schedule.get(v["_id"]) == "hot")
    channel = next(v["channel_name"] for v in videos if v["_id"] == filled.monitored[1])
    word = re.split(r"\s+", videos[0]["title"])[0][:2]
    category = next(iter(set(runs.values())))
    cases: list[tuple[str, Any]] = [
        (f"tag={tag}", lambda v: v.get("category") == tag),
        (f"channel={channel}", lambda v: v.get("channel_name") == channel),
        ("status=partial", lambda v: v["status"] == "partial"),
        ("tier=cold", lambda v: schedule.get(v["_id"]) == "cold"),
        ("tier=hot", lambda v: schedule.get(v["_id"]) == "hot"),
        (f"q={word}", lambda v: word.lower() in v["title"].lower()),
        (f"category={category}", lambda v: f"category:{category}" in v.get("lists", []) or (
            not v.get("lists") and category in runs.get(v["crawl"]["run_id"], "").split("+"))),
        (f"tag={tag}&tier=hot", lambda v: v.get("category") == tag
         and schedule.get(v["_id"]) == "hot"),
    ]
    for query, keep in cases:
        want = sort_rows([v for v in videos if keep(v)], by["views"])
        assert want or query.startswith("tier=")
        got = await table_vids(page, f"{dashboard.url}/videos?{query}")
        assert got == want, query
        total = await page.text_content("#total")
        assert total == f"{len(want)} found", query
    assert console.errors == []
    await page.close()


# --- Live ------------------------------------------------------------------------------------


async def test_an_open_page_follows_a_monitor_round(chromium: Browser, filled: Filled) -> None:
    async with mongo(filled.client) as store:
        runner = web.AppRunner(make_app(store, poll_s=0.2))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            vid = filled.monitored[0]
            page, console = await open_page(chromium, f"{url}/video/{vid}")
            before = len((await chart_points(page))[0]["x"])
            filled.replica.clock.advance(4 * 3600)  # every tier due
            await run_monitor(filled.settings, tiers=filled.tiers, once=True,
                              store=mongo(filled.client), clock=replica_clock(filled.replica))
            # The page redraws whenever the store changes during the round: wait for the
            # drawing that has this video's new snapshot, not for any redraw.
            await page.wait_for_function(
                "(n) => Number(document.body.dataset.drawn) > 1"
                " && document.getElementById('chart').data[0].x.length > n", arg=before)
            snaps = [s for s in await all_docs(store, "snapshots") if s["vid"] == vid]
            points = await chart_points(page)
            assert len(points[0]["x"]) == before + 1
            assert [(p["x"], p["y"]) for p in points] == expected_points(snaps)
            assert (await page.text_content("#live-status") or "").startswith("live: updated")
            assert console.errors == []
            await page.close()
        finally:
            await runner.cleanup()


# --- scrape plot and scrape report -----------------------------------------------------------


async def test_plot_writes_images_of_the_asked_size_and_html_with_the_points(
        chromium: Browser, filled: Filled, tmp_path: Path) -> None:
    vids = filled.monitored[:2]
    async with mongo(filled.client) as store:
        png = await write_plot(store, vids, tmp_path / "p.png", metrics=["views"], width=640,
                               height=360, chromium=CHROMIUM)
        svg = await write_plot(store, vids, tmp_path / "p.svg", metrics=["comments"],
                               chromium=CHROMIUM)
        html = await write_plot(store, vids[:1], tmp_path / "p.html",
                                metrics=["views", "comments"])
        snaps = [s for s in await all_docs(store, "snapshots") if s["vid"] == vids[0]]
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (640, 360)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 10  # axes, lines and labels drawn
    text = svg.read_text(encoding="utf-8")
    assert text.startswith("<svg") and 'width="1000"' in text and 'height="600"' in text
    assert text.count('class="trace scatter') == 2
    page, console = await open_page(chromium, html.as_uri())
    assert [(p["x"], p["y"]) for p in await chart_points(page)] == expected_points(snaps)
    assert console.errors == []
    await page.close()


async def test_report_is_one_file_that_needs_no_network(chromium: Browser, filled: Filled,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    async with mongo(filled.client) as store:
        charted = await write_report(store, out, top=3)
        top = await store.find_page("videos", {}, sort=[("stat_play", -1)], limit=3)
        snaps = await all_docs(store, "snapshots")
    assert charted == 3
    page = await chromium.new_page()
    console = Console(page)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    await page.goto(out.as_uri())
    await page.wait_for_function("Number(document.body.dataset.drawn || 0) > 0")
    assert requests == [out.as_uri()]
    for n, video in enumerate(top, start=1):
        mine = [s for s in snaps if s["vid"] == video["_id"]]
        points = await chart_points(page, f"chart-{n}")
        assert [(p["x"], p["y"]) for p in points] == expected_points(mine)
    await page.screenshot(path=filled.artifacts / "report.png", full_page=True)
    assert console.errors == []
    await page.close()


async def test_plot_and_report_refuse_bad_input_in_one_line(filled: Filled,
                                                            tmp_path: Path) -> None:
    store = str(filled.dir_path)
    rc, _, err = await scrape("plot", filled.monitored[0], "--store", store, "--out",
                              str(tmp_path / "x.gif"), cwd=tmp_path)
    one_error_line(err, 2, rc, "name a .html, .png or .svg file")
    rc, _, err = await scrape("plot", "nosuchvid", "--store", store, "--out",
                              str(tmp_path / "x.html"), cwd=tmp_path)
    one_error_line(err, 2, rc, "no snapshots of nosuchvid")
    rc, _, err = await scrape("plot", filled.monitored[0], "--store", store, "--since", "soon",
                              "--out", str(tmp_path / "x.html"), cwd=tmp_path)
    one_error_line(err, 2, rc, "bad --since")
    rc, _, err = await scrape("report", "--store", store, "--out",
                              str(tmp_path / "missing" / "r.html"), cwd=tmp_path)
    one_error_line(err, 2, rc, "cannot write")
    rc, _, err = await scrape("report", "--store", store, "--out", str(tmp_path / "r.html"),
                              cwd=tmp_path)
    assert rc == 0 and "(7 video charts)" in err, err


async def test_dashboard_command_serves_warns_and_stops(filled: Filled, tmp_path: Path) -> None:
    """`scrape dashboard` on all interfaces: a warning, the URL, pages, then Ctrl-C."""
    proc = await asyncio.create_subprocess_exec(
        SCRAPE, "dashboard", "--store", str(filled.dir_path), "--host", "0.0.0.0",
        "--port", "0", cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "MONGODB_URI": ""})
    assert proc.stderr is not None
    try:
        warning = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
        assert "warning: listening on 0.0.0.0" in warning
        ready = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
        port = re.search(r"at http://0\.0\.0\.0:(\d+)/", ready)
        assert port, ready
        async with ClientSession() as http, http.get(
                f"http://127.0.0.1:{port[1]}/videos?q=bold") as response:
            assert response.status == 200
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            body = await response.text()
        assert "&lt;img src=x onerror=" in body and "<img src=x" not in body
    finally:
        proc.send_signal(signal.SIGINT)
        rest = (await asyncio.wait_for(proc.stderr.read(), 60)).decode()
        await proc.wait()
    one_error_line(rest, 130, proc.returncode, "dashboard stopped")
