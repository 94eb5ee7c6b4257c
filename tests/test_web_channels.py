"""The dashboard's Channels pages over a store filled by a real channel crawl and monitor
rounds, opened in Chromium over both stores: the chart holds exactly the channel's
snapshots, the videos table exactly its stored videos, text from the site shows as text."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from mongomock_motor import AsyncMongoMockClient
from playwright.async_api import Browser

from scraper.jobs.monitor import run_monitor
from scraper.jobs.run import run_crawl
from scraper.jobs.tiers import parse_tiers
from scraper.store.base import Store
from scraper.store.mongo import MongoStore
from scraper.store.sqlite import SqliteStore
from scraper.web.app import make_app
from tests.conftest import MakeReplica
from tests.test_crawl import crawl_settings
from tests.test_monitor import replica_clock
from tests.test_store import make_channel
from tests.test_web import all_docs, chart_points, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

URI = "mongodb://mock/scraper_web_channels"
HOSTILE = '<img src=x onerror="window.__pwned=1"> 频道 <b>b</b>'


@dataclass
class Filled:
    client: AsyncMongoMockClient
    sqlite_path: Path
    uid: str
    artifacts: Path


@pytest.fixture(scope="module")
async def filled(make_replica: MakeReplica, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[Filled]:
    """`run --channel` of a small channel, then two monitor rounds a day apart."""
    tmp = tmp_path_factory.mktemp("web-channels")
    client = AsyncMongoMockClient()
    # The run stamps its snapshot with the wall clock, the monitor with the replica's:
    # starting the replica's clock now keeps the two in one order.
    async with make_replica(videos=15, other_videos=5, channel_videos=1, seed=13,
                            faults=False, segment_kb=4, epoch=time.time() - 60) as rep:
        now = rep.clock.now()
        found = min((rep.truth.channel(u, now) for u in rep.truth.channel_uids()),
                    key=lambda c: (c.videos < 2, c.videos))
        settings = crawl_settings(rep, tmp, no_media=True, max_videos=None,
                                  channels=(found.uid,))
        await run_crawl(settings, store=MongoStore(URI, client=client))
        monitor = replace(settings, categories=(), worker_id="web-test")
        for _ in range(2):
            rep.clock.advance(86400.0)
            await run_monitor(monitor, tiers=parse_tiers("month:30d"),
                              channel_tiers=parse_tiers("all:0s"), once=True,
                              store=MongoStore(URI, client=client), clock=replica_clock(rep))
    async with MongoStore(URI, client=client) as store:
        at = (await store.get_doc("channels", found.uid) or {})["last_visit"]
        await store.save_channel(make_channel("UHOSTILE", at=at + timedelta(hours=1),
                                              name=HOSTILE, followers=1))
        sqlite_path = tmp / "copy.db"
        async with SqliteStore(sqlite_path) as copy:
            for name in ("videos", "channels", "channel_snapshots"):
                async for doc in store.iter_docs(name):
                    await copy.save_doc(name, doc["_id"], doc)
    artifacts = tmp / "artifacts"
    artifacts.mkdir()
    yield Filled(client, sqlite_path, found.uid, artifacts)


@pytest.fixture(params=["mongodb", "sqlite"])
async def dashboard(request: pytest.FixtureRequest, filled: Filled
                    ) -> AsyncIterator[tuple[str, Store, str]]:
    opened = (MongoStore(URI, client=filled.client) if request.param == "mongodb"
              else SqliteStore(filled.sqlite_path))
    async with opened as store:
        runner = web.AppRunner(make_app(store, poll_s=0.2))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}", store, request.param
        finally:
            await runner.cleanup()


async def test_channels_page_lists_every_channel(
    chromium: Browser, dashboard: tuple[str, Store, str], filled: Filled
) -> None:
    url, store, kind = dashboard
    page = await chromium.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(url + "/channels")
    channels = sorted(await all_docs(store, "channels"), key=lambda c: -c["followers"])
    rows = await page.eval_on_selector_all(
        "#channels tr[data-uid]", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    snapshots = await all_docs(store, "channel_snapshots")
    assert [(r[0], r[1], r[2], r[3], int(r[6])) for r in rows] == [
        (c["_id"], c["name"], f"{c['followers']:,}", c["followers_text"],
         sum(s["uid"] == c["_id"] for s in snapshots)) for c in channels]
    assert await page.evaluate("window.__pwned") is None  # the hostile name is text
    await page.click(f"a[href='/channel/{filled.uid}']")
    await page.wait_for_function("Number(document.body.dataset.drawn || 0) > 0")
    assert await page.text_content("#title") == next(
        c["name"] for c in channels if c["_id"] == filled.uid)
    await page.screenshot(path=filled.artifacts / f"channels-{kind}.png", full_page=True)
    assert errors == []
    await page.close()


async def test_channel_page_charts_followers_and_lists_its_videos(
    chromium: Browser, dashboard: tuple[str, Store, str], filled: Filled
) -> None:
    url, store, kind = dashboard
    page, console = await open_page(chromium, f"{url}/channel/{filled.uid}")
    snaps = sorted((s for s in await all_docs(store, "channel_snapshots")
                    if s["uid"] == filled.uid), key=lambda s: s["ts"])
    assert len(snaps) == 3  # the run's visit and two monitor rounds
    (points,) = await chart_points(page)
    assert (points["x"], points["y"]) == (
        [s["ts"].isoformat() for s in snaps], [s["followers"] for s in snaps])
    assert points["y"] == sorted(points["y"]) and points["y"][0] < points["y"][-1]
    assert await page.locator("#snapshots tr").count() == len(snaps) + 1
    channel: dict[str, Any] = await store.get_doc("channels", filled.uid) or {}
    videos = [v for v in await all_docs(store, "videos")
              if v["channel_link"] == channel["link"]]
    shown = await page.eval_on_selector_all("#videos tr[data-vid]", "rows => rows.map(r => "
                                            "[r.dataset.vid, r.cells[1].textContent])")
    assert sorted(map(tuple, shown)) == sorted((v["_id"], v["title"]) for v in videos)
    assert videos and all(f"channel:{filled.uid}" in v["lists"] for v in videos)
    await page.screenshot(path=filled.artifacts / f"channel-{kind}.png", full_page=True)
    assert console.errors == []
    missing = await page.goto(f"{url}/channel/UNOPE")
    assert missing is not None and missing.status == 404
    await page.close()
