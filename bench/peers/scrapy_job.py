"""The benchmark job done by Scrapy + scrapy-playwright (run in bench/.venv-peers).

    python bench/peers/scrapy_job.py --port P --videos N --out videos.jsonl --media DIR

Pages are rendered by scrapy-playwright; the play-info and comment page-1 responses are
captured with a page `response` handler; comment pages 2..n, the thumbnail and the
segments go through Scrapy's own downloader (retries, redirects), reaching the replica
as an HTTP proxy since Scrapy has no per-host resolve override.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shared

RENDER_ATTEMPTS = 3
CAPTURE_S = 20.0


def abort_request(request: Any) -> bool:
    """scrapy-playwright's documented way to skip what nobody reads."""
    return request.resource_type in ("image", "media", "font")




class YoukuSpider(scrapy.Spider):
    name = "youku"

    def __init__(self, *, port: int, videos: int, media: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.port, self.videos, self.media = port, videos, Path(media)
        self.proxy = f"http://127.0.0.1:{port}"
        self.seen = 0

    async def start(self) -> Any:
        yield scrapy.Request(shared.CATALOGUE_URL, meta={"playwright": True},
                             callback=self.parse_catalogue)

    def parse_catalogue(self, response: Any) -> Any:
        cards, next_url = shared.catalogue(response.text, response.url)
        for card in cards:
            if self.seen >= self.videos:
                return
            self.seen += 1
            yield self.video_request(card, attempt=1)
        if next_url and self.seen < self.videos:
            yield scrapy.Request(next_url, meta={"playwright": True},
                                 callback=self.parse_catalogue, priority=-1)

    def video_request(self, card: dict[str, Any], *, attempt: int) -> scrapy.Request:
        capture = shared.Capture()
        return scrapy.Request(
            card["url"], callback=self.parse_video, errback=self.close_page, dont_filter=True,
            cb_kwargs={"card": card, "capture": capture, "attempt": attempt},
            meta={"playwright": True, "playwright_include_page": True,
                  "playwright_page_goto_kwargs": {"wait_until": "domcontentloaded"},
                  "playwright_page_event_handlers": {"response": capture.on_response}})

    async def parse_video(self, response: Any, card: dict[str, Any], capture: shared.Capture,
                          attempt: int) -> Any:
        page = response.meta["playwright_page"]
        try:
            await asyncio.wait_for(capture.done.wait(), CAPTURE_S)
            html = await page.content()
        except TimeoutError:
            html = ""
        finally:
            await page.close()
        fields = shared.video_fields(html, response.url) if html else None
        ups = shared.unwrap_jsonp(capture.ups[1]) if capture.ups else None
        refused = ups is None or (ups.get("data", {}).get("error") or {}).get("code") in (
            -6004, -6005)
        if fields is None or refused or capture.comments is None:
            if attempt < RENDER_ATTEMPTS:
                yield self.video_request(card, attempt=attempt + 1)
            else:
                self.logger.warning("video %s failed after %d renders", card["vid"], attempt)
            return
        yield await self.finish(card, fields, ups, capture.comments)

    async def close_page(self, failure: Any) -> None:
        page = failure.request.meta.get("playwright_page")
        if page is not None:
            await page.close()

    async def finish(self, card: dict[str, Any], fields: dict[str, Any], ups: Any,
                     comments: tuple[str, str]) -> dict[str, Any]:
        return await shared.build_record(self.fetch, self.media, card, fields, ups, comments)

    async def fetch(self, url: str) -> bytes:
        request = scrapy.Request(url, meta={"proxy": self.proxy}, dont_filter=True)
        response = await self.crawler.engine.download_async(request)
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
        return bytes(response.body)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
    return {
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": args.chromium, "headless": True,
                                      "args": shared.chromium_args(args.port)},
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": args.concurrency,
        "PLAYWRIGHT_ABORT_REQUEST": abort_request,
        "CONCURRENT_REQUESTS": max(32, args.concurrency * 2),
        "CONCURRENT_REQUESTS_PER_DOMAIN": max(16, args.concurrency),
        "RETRY_TIMES": 5, "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False, "LOG_LEVEL": "WARNING",
        "FEEDS": {args.out: {"format": "jsonlines", "encoding": "utf-8"}},
    }


def main() -> None:
    args = shared.job_args()
    process = CrawlerProcess(settings(args))
    process.crawl(YoukuSpider, port=args.port, videos=args.videos, media=args.media)
    process.start()


if __name__ == "__main__":
    main()
