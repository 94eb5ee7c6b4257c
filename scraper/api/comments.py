"""The comment API: ``commentList`` pages parsed, and whole threads fetched.

Parsing is pure (``parse_comment_page``, on top of ``api.py``'s JSON(P) unwrapping);
``CommentClient`` does the I/O for comment pages 2..n with tokens the browser produced.
A rejected sign becomes ``TokenRejected`` (renewed through the ``Signer``), bodies that
do not parse become ``MalformedResponse``, other API errors ``FetchError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pydantic

from ..errors import FetchError, MalformedResponse, TokenRejected
from ..models import Comment, CommentThread
from ..net.client import HttpClient, backoff_delay
from .jsonp import as_int, as_list, as_object, load_body

__all__ = [
    "CommentClient",
    "CommentPage",
    "Signer",
    "parse_comment_page",
]

log = logging.getLogger(__name__)

Signer = Callable[[], Awaitable[tuple[str, str]]]
"""Returns a fresh ``(sign, time)`` pair for the comment API, read from the browser."""

# --- comment pages ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommentPage:
    """One page of ``commentList``: top-level comments (replies nested) and the counts."""

    comments: tuple[Comment, ...]
    hot: tuple[Comment, ...]
    source_size: int
    total_size: int
    total_page: int
    current_page: int
    page_size: int | None = None


def parse_comment_page(body: str | Any, *, vid: str) -> CommentPage:
    """Parse one ``commentList`` reply; ``code`` -3 (bad sign) raises ``TokenRejected``."""
    reply = as_object(load_body(body), "comment reply")
    code = as_int(reply.get("code"), "code", default=0)
    if code == -3:
        raise TokenRejected(f"comment sign rejected: {reply.get('message')}")
    if code != 0:
        raise FetchError(f"comment API error {code}: {reply.get('message')}")
    data = as_object(reply.get("data"), "comment data")
    page_size = data.get("pageSize")
    return CommentPage(
        comments=_comments(data.get("comment"), vid),
        hot=_comments(data.get("hot"), vid),
        source_size=as_int(data.get("sourceCommentSize"), "sourceCommentSize", default=0),
        total_size=as_int(data.get("totalSize"), "totalSize", default=0),
        total_page=as_int(data.get("totalPage"), "totalPage", default=0),
        current_page=as_int(data.get("currentPage"), "currentPage", default=1),
        page_size=None if page_size is None else as_int(page_size, "pageSize"),
    )


def _comments(items: Any, vid: str) -> tuple[Comment, ...]:
    return tuple(_comment(as_object(item, "comment"), vid) for item in as_list(items, "comments"))


def _comment(raw: dict[str, Any], vid: str) -> Comment:
    user = raw.get("user")
    created = as_int(raw.get("createTime"), "createTime")
    try:
        return Comment(
            vid=vid,
            id=raw.get("id"),
            time=datetime.fromtimestamp(created / 1000, tz=UTC),
            user=raw.get("userId"),
            user_name=user.get("userName") if isinstance(user, dict) else None,
            content=raw.get("content") or "",
            num_up=raw.get("upCount") or 0,
            num_down=raw.get("downCount") or 0,
            num_reply=raw.get("replyCount") or 0,
            parent_id=raw.get("parentCommentId") or 0,
            replies=list(_comments(raw.get("replyList"), vid)),
        )
    except (pydantic.ValidationError, OverflowError, OSError, ValueError) as exc:
        raise MalformedResponse(f"comment {raw.get('id')!r}: {exc}") from exc


class _Signature:
    """The current ``(sign, time)``, renewed once however many pages it failed on."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        self._lock = asyncio.Lock()
        self._value: tuple[str, str] | None = None
        self._generation = 0

    async def get(self) -> tuple[int, tuple[str, str]]:
        async with self._lock:
            if self._value is None:
                self._value = await self._signer()
                self._generation += 1
            return self._generation, self._value

    async def renew(self, generation: int) -> None:
        async with self._lock:
            if generation == self._generation:
                self._value = await self._signer()
                self._generation += 1


@dataclass(frozen=True, slots=True)
class _ThreadRequest:
    vid: str
    signature: _Signature
    headers: Mapping[str, str]
    cookies: Mapping[str, str] | None


class CommentClient:
    """Fetches a video's whole comment thread from ``commentList``.

    Page 1 usually comes from the browser (its script signed the request); pages 2..n
    are fetched here, ``concurrency`` at a time, with the browser's ``(sign, time)``.
    A rejected sign is renewed through ``signer`` (up to ``sign_retries`` times a page);
    other failures (network, 5xx, bad body) are retried ``retries`` times with backoff.
    """

    def __init__(
        self,
        http: HttpClient,
        *,
        url: str,
        app: str,
        page_size: int = 30,
        referer: str | None = None,
        jsoncallback: str | None = None,
        concurrency: int = 4,
        retries: int = 3,
        sign_retries: int = 3,
        backoff_base_s: float = 0.25,
        backoff_max_s: float = 4.0,
    ) -> None:
        self._http = http
        self._url = url
        self._app = app
        self._page_size = page_size
        self._referer = referer
        self._jsoncallback = jsoncallback
        self._concurrency = max(1, concurrency)
        self._retries = max(1, retries)
        self._sign_retries = sign_retries
        self._backoff = (backoff_base_s, backoff_max_s)

    async def fetch_thread(
        self,
        vid: str,
        *,
        first_page: str | None,
        signer: Signer,
        max_comments: int | None = None,
        cookies: Mapping[str, str] | None = None,
        referer: str | None = None,
    ) -> CommentThread:
        """All top-level comments of ``vid`` in page order, deduplicated by id.

        ``first_page`` is the page-1 body the browser captured (None: fetch it too).
        ``referer`` overrides the client's (it must be the video page URL).
        """
        referer = referer or self._referer
        request = _ThreadRequest(
            vid=vid,
            signature=_Signature(signer),
            headers={"Referer": referer} if referer else {},
            cookies=cookies,
        )
        first = await self._first_page(request, first_page)
        page_size = first.page_size or self._page_size
        collected = _Collector(max_comments)
        if collected.add(first):
            await self._fetch_in_order(
                range(2, first.total_page + 1),
                lambda n: self._fetch_page(request, n, page_size),
                collected.add,
            )
        return CommentThread(
            comments=collected.comments(),
            hot_ids=tuple(c.id for c in first.hot),
            source_size=first.source_size,
            total_size=first.total_size,
            pages=first.total_page,
        )

    async def _first_page(self, request: _ThreadRequest, body: str | None) -> CommentPage:
        if body is not None:
            try:
                return parse_comment_page(body, vid=request.vid)
            except FetchError as exc:
                log.info("captured comment page 1 of %s unusable (%s)", request.vid, exc)
        return await self._fetch_page(request, 1, self._page_size)

    async def _fetch_in_order(
        self,
        numbers: Iterable[int],
        fetch: Callable[[int], Coroutine[Any, Any, CommentPage]],
        accept: Callable[[CommentPage], bool],
    ) -> None:
        """Fetch pages ``concurrency`` ahead; hand them to ``accept`` in order while it says so."""
        queue = iter(numbers)
        window: deque[asyncio.Task[CommentPage]] = deque()

        def launch() -> None:
            number = next(queue, None)
            if number is not None:
                window.append(asyncio.create_task(fetch(number)))

        try:
            for _ in range(self._concurrency):
                launch()
            while window:
                if not accept(await window.popleft()):
                    return
                launch()
        finally:
            for task in window:
                task.cancel()
            await asyncio.gather(*window, return_exceptions=True)

    async def _fetch_page(
        self, request: _ThreadRequest, number: int, page_size: int
    ) -> CommentPage:
        failures = rejections = 0
        while True:
            generation, (sign, time) = await request.signature.get()
            try:
                return await self._request_page(request, number, page_size, sign, time)
            except TokenRejected:
                rejections += 1
                if rejections > self._sign_retries:
                    raise
                log.debug("comment sign rejected on %s page %d; renewing", request.vid, number)
                await request.signature.renew(generation)
            except FetchError as exc:
                failures += 1
                if failures >= self._retries:
                    raise
                log.debug("comment page %d of %s failed (%s); retrying", number, request.vid, exc)
                base_s, max_s = self._backoff
                await asyncio.sleep(backoff_delay(failures - 1, base_s=base_s, max_s=max_s))

    async def _request_page(
        self, request: _ThreadRequest, number: int, page_size: int, sign: str, time: str
    ) -> CommentPage:
        params = {
            "app": self._app,
            "objectId": request.vid,
            "objectType": "1",
            "listType": "0",
            "currentPage": str(number),
            "pageSize": str(page_size),
            "sign": sign,
            "time": time,
        }
        if self._jsoncallback:
            params = {"jsoncallback": self._jsoncallback, **params}
        status, body = await self._http.get_text(
            self._url, params=params, headers=request.headers, cookies=request.cookies
        )
        if status >= 500:
            raise FetchError(f"GET {self._url} page {number}: HTTP {status}")
        try:
            return parse_comment_page(body, vid=request.vid)
        except MalformedResponse as exc:
            if status != 200:
                raise FetchError(f"GET {self._url} page {number}: HTTP {status}") from exc
            raise


class _Collector:
    """Top-level comments in page order, each id once, up to ``limit``."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._by_id: dict[int, Comment] = {}

    def add(self, page: CommentPage) -> bool:
        """Take a page's new comments; False once the limit is reached."""
        for comment in page.comments:
            if self._full():
                break
            self._by_id.setdefault(comment.id, comment)
        return not self._full()

    def _full(self) -> bool:
        return self._limit is not None and len(self._by_id) >= self._limit

    def comments(self) -> tuple[Comment, ...]:
        return tuple(self._by_id.values())
