"""The benchmark job done by Crawlee's PlaywrightCrawler (run in bench/.venv-peers).

    python bench/peers/crawlee_job.py --port P --videos N --out videos.jsonl --media DIR

Pages are rendered by the crawler's browser pool; a pre-navigation hook captures the
play-info and comment page-1 responses; comment pages 2..n, the thumbnail and the
segments are fetched with aiohttp (Crawlee's own `send_request` goes through the
Playwright driver's request context, which Chromium's host-resolver rule does not
reach), with retries on 5xx. Crawlee retries a video page whose fields or tokens are
missing (its `max_request_retries`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from crawlee import ConcurrencySettings, Request
from crawlee.crawlers import (
    PlaywrightCrawler,
    PlaywrightCrawlingContext,
    PlaywrightPreNavCrawlingContext,
)
from crawlee.storage_clients import MemoryStorageClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shared

CAPTURE_S = 20.0
HTTP_ATTEMPTS = 6




class Resolver(AbstractResolver):
    """Every *.test host is the replica (what --host-resolver-rules does for Chromium)."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host="127.0.0.1", port=self.port,
                              family=socket.AF_INET, proto=0, flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        return None


class Job:
    def __init__(self, args: argparse.Namespace, http: aiohttp.ClientSession) -> None:
        self.args, self.http, self.media = args, http, Path(args.media)
        self.seen = 0
        self.captures: dict[Any, shared.Capture] = {}
        self.out = open(args.out, "w", encoding="utf-8")

    async def before(self, context: PlaywrightPreNavCrawlingContext) -> None:
        await context.block_requests(extra_url_patterns=["*vthumb.ykimg.test/*"])
        if context.request.label == "video":
            capture = self.captures[context.page] = shared.Capture()
            context.page.on("response", capture.on_response)

    async def catalogue(self, context: PlaywrightCrawlingContext) -> None:
        cards, next_url = shared.catalogue(await context.page.content(), context.request.url)
        requests = []
        for card in cards:
            if self.seen >= self.args.videos:
                break
            self.seen += 1
            requests.append(Request.from_url(card["url"], label="video", user_data={"card": card}))
        if next_url and self.seen < self.args.videos:
            requests.append(Request.from_url(next_url, label="catalogue"))
        await context.add_requests(requests)

    async def video(self, context: PlaywrightCrawlingContext) -> None:
        capture = self.captures.pop(context.page)
        card = dict(context.request.user_data["card"])  # type: ignore[arg-type]
        await asyncio.wait_for(capture.done.wait(), CAPTURE_S)
        fields = shared.video_fields(await context.page.content(), context.request.url)
        if fields is None or capture.ups is None or capture.comments is None:
            raise RuntimeError("title module or tokens missing: render again")
        ups = shared.unwrap_jsonp(capture.ups[1])
        if (ups.get("data", {}).get("error") or {}).get("code") in (-6004, -6005):
            raise RuntimeError("play-info refused the token: render again")
        record = await self.finish(card, fields, ups, capture.comments)
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")

    async def finish(self, card: dict[str, Any], fields: dict[str, Any], ups: Any,
                     comments: tuple[str, str]) -> dict[str, Any]:
        return await shared.build_record(self.fetch, self.media, card, fields, ups, comments)

    async def fetch(self, url: str) -> bytes:
        for attempt in range(HTTP_ATTEMPTS):
            async with self.http.get(url) as response:
                if response.status == 200:
                    return await response.read()
                if response.status < 500 or attempt == HTTP_ATTEMPTS - 1:
                    raise RuntimeError(f"{url}: HTTP {response.status}")
            await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")


async def run(args: argparse.Namespace) -> None:
    c = args.concurrency
    crawler = PlaywrightCrawler(
        browser_type="chromium", headless=True, fingerprint_generator=None,
        browser_launch_options={"executable_path": args.chromium, "chromium_sandbox": False,
                                "args": shared.chromium_args(args.port)},
        goto_options={"wait_until": "domcontentloaded"},
        concurrency_settings=ConcurrencySettings(min_concurrency=c, desired_concurrency=c,
                                                 max_concurrency=c),
        storage_client=MemoryStorageClient(), max_request_retries=3,
        request_handler_timeout=timedelta(seconds=60), configure_logging=False,
    )
    connector = aiohttp.TCPConnector(resolver=Resolver(args.port), limit=32)
    async with aiohttp.ClientSession(connector=connector) as http:
        job = Job(args, http)
        crawler.pre_navigation_hook(job.before)
        crawler.router.default_handler(job.catalogue)
        crawler.router.handler("catalogue")(job.catalogue)
        crawler.router.handler("video")(job.video)
        await crawler.run([shared.CATALOGUE_URL])
        job.out.close()


def main() -> None:
    args = shared.job_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
