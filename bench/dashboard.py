"""Benchmark the dashboard's Videos page over a large synthetic store.

Fills a store with N videos and M snapshots (spread over the videos, an hour apart),
starts the dashboard app in-process and times GET /videos for: the first page of each
sort order, a deep page, and filters (tag, channel, tier-free title search, catalogue
category). The first
request of a process also reads every snapshot once (views gained per hour); it is
timed apart ("warm-up"). Prints one JSON line per request kind: the median and the
maximum milliseconds of R requests. Figures only: nothing here asserts a target.

The directory store is filled by writing its files directly in its own layout (one
JSON file per document), without the store's per-file fsync, which would take hours at
this size; reading them back is the store's own code. With SCRAPER_BENCH_MONGODB_URI
the documents go to a new database (bench_XXXXXXXX) of that MongoDB server instead; drop
it afterwards.

    python bench/dashboard.py                         # 100,000 videos, 1,000,000 snapshots
    python bench/dashboard.py --videos 20000 --snapshots 200000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from scraper.store.base import Store
from scraper.store.sqlite_ops import in_write, put
from scraper.store.sqlite_schema import open_file
from scraper.store.target import open_store
from scraper.web.app import make_app

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TAGS = ["社会", "娱乐", "科技", "体育", "财经", "未分类"]


def video(n: int, rng: random.Random) -> dict[str, Any]:
    vid = f"XB{n:08d}"
    at = T0 + timedelta(minutes=n % 10_000)
    return {
        "_id": vid, "vid": vid, "url": f"http://v.test/{vid}", "title": f"视频 {n} title {n % 97}",
        "stat_play": rng.randrange(0, 5_000_000), "comment_total": rng.randrange(0, 5000),
        "category": TAGS[n % len(TAGS)], "channel_name": f"channel {n % 500}",
        "status": "ok" if n % 50 else "partial", "segments": [], "comment_hot": [],
        "crawl": {"first": at, "last": at, "errors": [], "selectors": {}, "run_id": "bench"},
        "lists": ["category:military" if n % 3 == 0 else "category:today-hot"],
    }


# The one run that "crawled" every video, through two catalogues.
RUN = {"_id": "bench", "job": "youku-replica:bench", "site": "youku-replica",
       "category": "today-hot+military", "started": T0, "status": "done"}


def snapshots(videos: int, total: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    per = max(1, total // videos)
    for n in range(min(total, videos * per)):
        vid, k = f"XB{n // per:08d}", n % per
        yield {"_id": f"{vid}:{k}", "vid": vid, "ts": T0 + timedelta(hours=k),
               "stat_play": 1000 * k + rng.randrange(0, 900), "comment_total": k,
               "run_id": "bench", "tier": "hot"}


def fill_sqlite(path: Path, videos: int, snaps: int) -> None:
    """Large transactions through the store's own file functions (the bench alone)."""
    rng = random.Random(1)
    writer, _ = open_file(path)
    for name, docs in (("videos", (video(n, rng) for n in range(videos))),
                       ("snapshots", snapshots(videos, snaps, rng)), ("runs", iter([RUN]))):
        batch: list[dict[str, Any]] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == 10_000:
                in_write(writer, put, name, batch)
                batch = []
        if batch:
            in_write(writer, put, name, batch)
    writer.close()


async def fill_mongo(store: Store, videos: int, snaps: int) -> None:
    rng = random.Random(1)
    for n in range(videos):
        doc = video(n, rng)
        await store.save_doc("videos", doc["_id"], doc)
    for doc in snapshots(videos, snaps, rng):
        await store.save_doc("snapshots", doc["_id"], doc)
    await store.save_doc("runs", RUN["_id"], RUN)


QUERIES = {
    "views, page 1": "sort=views",
    "views, page 1000": "sort=views&page=1000",
    "comments, page 1": "sort=comments",
    "last visit, page 1": "sort=last",
    "views/h, page 1": "sort=growth",
    "views/h, page 1000": "sort=growth&page=1000",
    "tag filter": "tag=科技&sort=views",
    "channel filter": "channel=channel%207",
    "title search": "q=title%2042",
    "category filter (a third of the videos)": "category=military&sort=views",
}


async def measure(store: Store, repeats: int) -> list[dict[str, Any]]:
    runner = web.AppRunner(make_app(store))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/videos?"
    results = []
    try:
        async with ClientSession() as http:
            results.append({"request": "warm-up (first page, reads every snapshot)",
                            "ms": await _timed(http, base + "sort=views")})
            for label, query in QUERIES.items():
                times = [await _timed(http, base + query) for _ in range(repeats)]
                results.append({"request": label, "median_ms": round(statistics.median(times)),
                                "max_ms": round(max(times))})
    finally:
        await runner.cleanup()
    return results


async def _timed(http: ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with http.get(url) as response:
        await response.read()
        assert response.status == 200, url
    return (time.perf_counter() - started) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    uri = os.environ.get("SCRAPER_BENCH_MONGODB_URI")
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        started = time.perf_counter()
        if uri:
            target = uri.rstrip("/") + f"/bench_{uuid.uuid4().hex[:8]}"
            async with open_store(target) as store:
                await fill_mongo(store, args.videos, args.snapshots)
        else:
            target = str(Path(tmp) / "store.db")
            fill_sqlite(Path(target), args.videos, args.snapshots)
        filled_s = time.perf_counter() - started
        started = time.perf_counter()
        async with open_store(target) as store:
            opened_s = time.perf_counter() - started
            results = await measure(store, args.repeats)
    head = {"store": "mongodb" if uri else "sqlite", "videos": args.videos,
            "snapshots": args.snapshots, "fill_s": round(filled_s, 1),
            "load_s": round(opened_s, 1)}
    for line in results:
        print(json.dumps(head | line, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
