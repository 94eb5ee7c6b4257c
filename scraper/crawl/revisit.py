"""A known video seen again: its figures as the page shows them now, and new comments.

A revisit renders the page only: the play count from the DOM, ``comment_total`` from
the comment page the page loads itself, and the whole thread only when that total moved.
The stored video takes those figures, as a re-run of `scrape run` would give it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..api.comments import parse_comment_page
from ..errors import FetchError
from ..models import CardInfo, Comment, CommentThread, Video
from ..store.base import Store
from ..store.documents import from_doc
from .context import VideoContext
from .video import Rendered, fetch_comments, render_video

__all__ = [
    "Revisit",
    "comment_total_on_page",
    "revisit_video",
    "save_new_comments",
    "with_figures",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Revisit:
    """What one revisit saw."""

    stat_play: int | None
    stat_play_text: str | None
    comment_total: int | None
    new_comments: int


async def revisit_video(
    ctx: VideoContext, card: CardInfo, *, last_total: int | None
) -> Revisit:
    """Figures from the page as it is now; comments only if their total moved since
    ``last_total`` (None: the stored video's). The stored video takes the new figures."""
    rendered = await render_video(ctx, card)
    stored = await ctx.store.get_video(card.vid)
    total = comment_total_on_page(rendered, card.vid)
    if last_total is None and stored is not None:
        # A first revisit after `scrape run` fetches comments only if the total moved since.
        last_total = stored.comment_total
    new, thread = 0, None
    if ctx.settings.max_comments != 0 and (total is None or total != last_total):
        errors: list[str] = []
        thread = await fetch_comments(ctx, card, rendered, errors)
        if thread is not None:
            total = thread.total_size
            new = await save_new_comments(ctx.store, thread.comments)
        for error in errors:
            log.warning("video %s: %s", card.vid, error)
    seen = Revisit(stat_play=_field(rendered, "stat_play", card.stat_play),
                   stat_play_text=_field(rendered, "stat_play_text", card.stat_play_text),
                   comment_total=total, new_comments=new)
    if stored is not None:
        await ctx.store.save_video(with_figures(ctx, stored, card, seen, thread))
    return seen


def with_figures(
    ctx: VideoContext, stored: Video, card: CardInfo, seen: Revisit, thread: CommentThread | None
) -> Video:
    """The stored video with this visit's figures; ``Store.save_video`` then moves them as
    a re-run of `scrape run` does (static fields and ``crawl.first`` stay)."""
    figures: dict[str, Any] = {
        "stat_play": seen.stat_play, "stat_play_text": seen.stat_play_text,
        "stat_cmt": card.stat_cmt, "comment_total": seen.comment_total}
    if thread is not None:
        figures |= {"comment_num": thread.source_size, "comment_hot": list(thread.hot_ids)}
    crawl = stored.crawl.model_copy(update={
        "last": datetime.now(UTC), "run_id": ctx.run.run_id, "worker": ctx.settings.worker_id})
    kept = {name: value for name, value in figures.items() if value is not None}
    return stored.model_copy(update={**kept, "crawl": crawl})


def _field(rendered: Rendered, name: str, fallback: Any) -> Any:
    value = rendered.fields.get(name)
    return fallback if value is None else value


def comment_total_on_page(rendered: Rendered, vid: str) -> int | None:
    """``totalSize`` of the comment page the video page loaded itself, if it did."""
    if rendered.comments_body is None:
        return None
    try:
        return parse_comment_page(rendered.comments_body, vid=vid).total_size
    except FetchError as exc:
        log.info("video %s: captured comment page unusable (%s)", vid, exc)
        return None


async def save_new_comments(store: Store, comments: Sequence[Comment]) -> int:
    """Upsert the comments that are new or changed (a new reply); returns how many."""
    if not comments:
        return 0
    stored = await store.find_docs("comments", {"vid": comments[0].vid})
    known = {doc["_id"]: from_doc(Comment, doc) for doc in stored}
    fresh = [comment for comment in comments if known.get(comment.id) != comment]
    if fresh:
        await store.save_comments(fresh)
    return len(fresh)
