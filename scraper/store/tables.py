"""Documents as spreadsheet rows: what ``scrape export --format csv`` writes.

JSON lines keep the nesting; a table cannot. A comment thread becomes one row per comment
and reply (with its ``depth`` and the ``thread`` it belongs to), and a video's nested
fields become counts and joined text, so no cell holds JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

__all__ = ["COMMENT_COLUMNS", "VIDEO_COLUMNS", "Rows", "comment_rows", "table_of", "video_row"]

Rows = Callable[[Mapping[str, Any]], Iterable[Mapping[str, Any]]]

COMMENT_COLUMNS = ["_id", "vid", "id", "thread", "parent_id", "depth", "time", "user",
                   "user_name", "content", "num_up", "num_down", "num_reply"]
_VIDEO_FLAT = ["_id", "vid", "url", "title", "subtitle", "duration_s", "duration_text",
               "stat_play", "stat_play_text", "stat_cmt", "category", "channel_name",
               "channel_link", "thumb_url", "thumb_path", "stream_type", "unavailable",
               "comment_num", "comment_total", "status", "published"]
VIDEO_COLUMNS = [*_VIDEO_FLAT, "segments", "segments_ok", "segments_bytes", "segment_paths",
                 "comment_hot", "crawl_first", "crawl_last", "crawl_run_id", "crawl_worker",
                 "crawl_errors", "crawl_selectors", "lists"]


def comment_rows(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """A stored top-level comment and every reply under it, depth first, one row each."""
    yield from _thread(doc, thread=doc["id"], depth=0)


def _thread(comment: Mapping[str, Any], *, thread: Any, depth: int) -> Iterator[dict[str, Any]]:
    row = {key: comment.get(key) for key in COMMENT_COLUMNS}
    row.update(_id=comment["id"], thread=thread, depth=depth)
    yield row
    for reply in comment.get("replies") or ():
        yield from _thread(reply, thread=thread, depth=depth + 1)


def video_row(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A video with its segments summarised and its crawl record spread over columns."""
    segments = doc.get("segments") or []
    ok = [s for s in segments if s.get("status") == "ok"]
    crawl = doc.get("crawl") or {}
    return {key: doc.get(key) for key in _VIDEO_FLAT} | {
        "segments": len(segments),
        "segments_ok": len(ok),
        "segments_bytes": sum(s.get("size") or 0 for s in ok),
        "segment_paths": " | ".join(doc.get("file_paths") or []),
        "comment_hot": " ".join(str(i) for i in doc.get("comment_hot") or []),
        "crawl_first": crawl.get("first"),
        "crawl_last": crawl.get("last"),
        "crawl_run_id": crawl.get("run_id"),
        "crawl_worker": crawl.get("worker"),
        "crawl_errors": "; ".join(crawl.get("errors") or []),
        "crawl_selectors": " ".join(f"{page}={version}" for page, version
                                    in sorted((crawl.get("selectors") or {}).items())),
        "lists": " | ".join(doc.get("lists") or []),
    }


def table_of(collection: str, columns: list[str]) -> tuple[list[str], Rows]:
    """The columns of ``collection``'s table and what turns a document into its rows
    (a collection with no table of its own: its ``columns``, a row per document)."""
    return _TABLES.get(collection, (columns, _as_is))


def _as_is(doc: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return (doc,)


_TABLES: dict[str, tuple[list[str], Rows]] = {
    "comments": (COMMENT_COLUMNS, comment_rows),
    "videos": (VIDEO_COLUMNS, lambda doc: (video_row(doc),)),
}
