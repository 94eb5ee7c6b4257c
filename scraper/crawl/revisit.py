"""A known video seen again: its figures as the page shows them now, and new comments.

A revisit renders the page only: the play count from the DOM, ``comment_total`` from
the comment page the page loads itself, and the whole thread only when that total moved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..api.comments import parse_comment_page
from ..errors import FetchError
from ..models import CardInfo, Comment
from ..store.base import Store
from ..store.documents import from_doc
from .context import VideoContext
from .video import Rendered, fetch_comments, render_video

__all__ = ["Revisit", "comment_total_on_page", "revisit_video", "save_new_comments"]

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
    ``last_total`` (None: the stored video's)."""
    rendered = await render_video(ctx, card)
    total = comment_total_on_page(rendered, card.vid)
    if last_total is None:
        last_total = await _stored_total(ctx, card.vid)
    new = 0
    if ctx.settings.max_comments != 0 and (total is None or total != last_total):
        errors: list[str] = []
        thread = await fetch_comments(ctx, card, rendered, errors)
        if thread is not None:
            total = thread.total_size
            new = await save_new_comments(ctx.store, thread.comments)
        for error in errors:
            log.warning("video %s: %s", card.vid, error)
    return Revisit(stat_play=_field(rendered, "stat_play", card.stat_play),
                   stat_play_text=_field(rendered, "stat_play_text", card.stat_play_text),
                   comment_total=total, new_comments=new)


async def _stored_total(ctx: VideoContext, vid: str) -> int | None:
    """The comment total the last full crawl stored: a first revisit after `scrape run`
    then fetches comments only if the site's total moved since."""
    video = await ctx.store.get_video(vid)
    return video.comment_total if video is not None else None


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
