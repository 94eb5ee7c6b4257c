"""What both peer crawlers share, so they differ only in their framework.

The job is the one `scrape run` does: the today-hot catalogue rendered page by page
(following 下一页), each video page rendered so the site's own scripts call the play-info
API and comment page 1 (both responses captured), comment pages 2..n fetched with the
sign and time read from the captured request URL, the thumbnail and the mp4sd segments
downloaded over HTTP, one JSON line per video.

Runs in bench/.venv-peers (parsel comes with Scrapy); imports nothing from scraper/.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from parsel import Selector

__all__ = [
    "CATALOGUE_URL",
    "catalogue",
    "chromium_args",
    "comment_page_url",
    "comment_tree",
    "is_comments",
    "is_ups",
    "play_segments",
    "save_file",
    "unwrap_jsonp",
    "video_fields",
]

CATALOGUE_URL = "http://news.youku.test/index/jrrm"
CHROMIUM = "/usr/bin/chromium-headless-shell"
_VID = re.compile(r"id_([A-Za-z0-9]+)")
_JSONP = re.compile(r"^[\s;]*[\w$.]+\s*\((.*)\)\s*;?\s*$", re.DOTALL)


def job_args() -> argparse.Namespace:
    """A peer job's command line (what bench/compare.py passes); makes the media folder."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--videos", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--media", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    Path(args.media).mkdir(parents=True, exist_ok=True)
    return args


def chromium_args(port: int) -> list[str]:
    """What Debian's Chromium needs here, and the rule that maps *.test to the replica."""
    return ["--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-sync", f"--host-resolver-rules=MAP *.test 127.0.0.1:{port}"]


def vid_of(url: str) -> str | None:
    found = _VID.search(url)
    return found[1] if found else None


def catalogue(html: str, url: str) -> tuple[list[dict[str, Any]], str | None]:
    """The cards of one rendered catalogue page, and the 下一页 URL (None on the last)."""
    sel = Selector(text=html)
    cards = []
    for card in sel.css("div.v"):
        href = urljoin(url, card.css("div.v-link > a::attr(href)").get(""))
        cards.append({
            "vid": vid_of(href), "url": href,
            "title": card.css("div.v-link > a::attr(title)").get(),
            "thumb_url": urljoin(url, card.css("div.v-thumb > img::attr(src)").get("")),
            "duration_text": card.css("span.v-time::text").get(),
        })
    nxt = sel.xpath('//span[has-class("next")]/a[@title="下一页"]/@href').get()
    return cards, urljoin(url, nxt) if nxt else None


def video_fields(html: str, url: str) -> dict[str, Any] | None:
    """The title module's fields from the rendered DOM; None when the channel link is
    missing (a transient fault of the site: render the page again)."""
    sel = Selector(text=html)
    link = sel.css("#module_basic_sub > a[href*='/i/']")
    if not link:
        return None
    return {
        "subtitle": sel.css("#subtitle::attr(title)").get(),
        "channel_name": "".join(link.css("::text").getall()).strip(),
        "channel_link": urljoin(url, link.attrib["href"]),
        "tag": sel.css("span[data-sn=tags] a.v-tag::text").get(),
        "views_text": sel.css("span.play-count::text").get(),
    }


def is_ups(url: str) -> bool:
    return urlsplit(url).path == "/ups/get.json"


def is_comments(url: str) -> bool:
    return urlsplit(url).path == "/ycp/comment/pc/commentList"


def unwrap_jsonp(text: str) -> Any:
    text = text.strip()
    if text[:1] in "{[":
        return json.loads(text)
    found = _JSONP.match(text)
    if found is None:
        raise ValueError(f"not JSONP: {text[:40]!r}")
    return json.loads(found[1])


def play_segments(ups: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """(why the video is unavailable or None, the real mp4sd stream's segments)."""
    data = ups.get("data") or {}
    if data.get("error"):
        return str(data["error"].get("note")), []
    streams = [s for s in data.get("stream", [])
               if s.get("stream_type") == "mp4sd" and s.get("channel_type") != "tail"]
    if not streams:
        return "no mp4sd stream", []
    return None, [{"index": i, "size": seg["size"], "url": seg.get("cdn_url")}
                  for i, seg in enumerate(streams[0]["segs"])]


def comment_page_url(first: str, page: int) -> str:
    """Page ``page`` of the thread whose page 1 the comment script requested at ``first``,
    with the script's own sign and time; no JSONP callback."""
    parts = urlsplit(first)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "jsoncallback"]
    query = [(k, str(page) if k == "currentPage" else v) for k, v in query]
    return urlunsplit(parts._replace(query=urlencode(query)))


def comment_tree(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": c["id"], "content": c["content"], "user_name": c["user"]["userName"],
             "up": c["upCount"], "replies": comment_tree(c.get("replyList") or [])}
            for c in comments]


def save_file(media: Path, name: str, body: bytes) -> str:
    """Write a downloaded file; returns its sha256."""
    (media / name).write_bytes(body)
    return hashlib.sha256(body).hexdigest()


async def build_record(
    fetch: Callable[[str], Awaitable[bytes]], media: Path, card: dict[str, Any],
    fields: dict[str, Any], ups: Any, comments: tuple[str, str],
) -> dict[str, Any]:
    """The rest of one video after its page rendered, the same for both peers: the
    thumbnail, the segments and comment pages 2..n fetched at once, then the record."""
    unavailable, segments = play_segments(ups)
    first = unwrap_jsonp(comments[1])["data"]
    pages = range(2, int(first["totalPage"]) + 1)
    results = await asyncio.gather(
        fetch(card["thumb_url"]),
        *(fetch(seg["url"]) for seg in segments if seg["url"] and not unavailable),
        *(fetch(comment_page_url(comments[0], n)) for n in pages))
    thumb, rest = results[0], list(results[1:])
    record = {**card, **fields, "unavailable": unavailable,
              "thumb_sha256": save_file(media, f"{card['vid']}.jpg", thumb)}
    record["segments"] = []
    for seg in segments if not unavailable else []:
        body = rest.pop(0) if seg["url"] else None
        name = f"{card['vid']}_{seg['index']}.mp4"
        record["segments"].append({"index": seg["index"], "size": seg["size"],
                                   "sha256": body and save_file(media, name, body)})
    listed = list(first["comment"])
    for body in rest:
        listed += unwrap_jsonp(body.decode())["data"]["comment"]
    record.update(comment_num=first["sourceCommentSize"], comment_total=first["totalSize"],
                  comment_hot=[c["id"] for c in first["hot"]],
                  comments=comment_tree(listed))
    return record

class Capture:
    """The play-info and comment page-1 responses one video page's scripts made."""

    def __init__(self) -> None:
        self.ups: tuple[str, str] | None = None
        self.comments: tuple[str, str] | None = None
        self.done = asyncio.Event()

    async def on_response(self, response: Any) -> None:
        url = response.url
        if is_ups(url) and self.ups is None:
            self.ups = (url, await response.text())
        elif is_comments(url) and self.comments is None:
            self.comments = (url, await response.text())
        if self.ups and self.comments:
            self.done.set()
