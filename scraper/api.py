"""The site's JSON(P) endpoints: unwrapping, UPS play info, and comment pagination.

Parsing here is pure (``unwrap_jsonp``, ``parse_play_info``, ``parse_comment_page``);
``CommentClient`` does the I/O for comment pages 2..n with tokens the browser produced.
API refusals become ``TokenRejected`` (re-obtain the token), bodies that do not parse
become ``MalformedResponse``, and videos that cannot play become ``VideoUnavailable``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pydantic

from .errors import FetchError, MalformedResponse, TokenRejected, VideoUnavailable
from .models import Comment, CommentThread, PlayInfo, SegmentRef
from .net import HttpClient, backoff_delay

__all__ = [
    "CommentClient",
    "CommentPage",
    "Signer",
    "parse_comment_page",
    "parse_play_info",
    "unwrap_jsonp",
]

log = logging.getLogger(__name__)

Signer = Callable[[], Awaitable[tuple[str, str]]]
"""Returns a fresh ``(sign, time)`` pair for the comment API, read from the browser."""

# --- JSON(P) ----------------------------------------------------------------------

# What may precede the JSON value: `/**/`, `try{`, `typeof cb === 'function' && `, `cb(`.
_JSONP_HEAD = re.compile(
    r"""\s*(?:/\*.*?\*/\s*)?(?:try\s*\{\s*)?
        (?:typeof\s+[\w$.]+\s*===?\s*(['"])function\1\s*&&\s*)?
        [A-Za-z_$][\w$.]*\s*\(\s*""",
    re.VERBOSE | re.DOTALL,
)
# What may follow it: `)`, `;`, `}catch(e){}`.
_JSONP_TAIL = re.compile(r"\s*\)\s*;?\s*(?:\}\s*catch\s*\(\s*[\w$]*\s*\)\s*\{[^}]*\}\s*;?\s*)?")
_DECODER = json.JSONDecoder()


def unwrap_jsonp(text: str) -> Any:
    """Parse plain JSON or a JSONP call such as ``/**/ cb({...});``; ``MalformedResponse`` else."""
    body = text.lstrip("\ufeff").strip()
    if not body:
        raise MalformedResponse("empty body")
    if body[0] in "{[":
        return _decode(body, 0, tail=None)
    head = _JSONP_HEAD.match(body)
    if head is None:
        raise MalformedResponse(f"neither JSON nor JSONP: starts {body[:40]!r}")
    return _decode(body, head.end(), tail=_JSONP_TAIL)


def _decode(body: str, start: int, *, tail: re.Pattern[str] | None) -> Any:
    try:
        value, end = _DECODER.raw_decode(body, start)
    except json.JSONDecodeError as exc:
        raise MalformedResponse(f"bad JSON at char {exc.pos}: {exc.msg}") from exc
    rest = body[end:]
    if (tail.fullmatch(rest) is None) if tail else rest.strip():
        raise MalformedResponse(f"unexpected text after JSON: {rest[:40]!r}")
    return value


def _load(body: str | Any) -> Any:
    return unwrap_jsonp(body) if isinstance(body, str) else body


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedResponse(f"{what}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponse(f"{what}: expected an array, got {type(value).__name__}")
    return value


def _int(value: Any, what: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    try:
        return int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError) as exc:
        raise MalformedResponse(f"{what}: expected a number, got {value!r}") from exc


# --- UPS play info ------------------------------------------------------------------

_VIDEO_EXTRA = ("title", "userid", "username", "encodeid", "logo", "tags", "category_id")
_STREAM_EXTRA = ("width", "height", "size")


def parse_play_info(body: str | Any, *, streams: tuple[str, ...] = ("mp4sd",)) -> PlayInfo:
    """Choose the first of ``streams`` (in preference order) from a UPS reply.

    Raises ``TokenRejected`` for -6004/-6005 and ``VideoUnavailable`` for other API
    errors. A reply without a wanted stream is not an error: it is returned with
    ``stream_type=None`` and ``unavailable`` saying what the video has instead.
    """
    data = _obj(_obj(_load(body), "UPS reply").get("data"), "UPS data")
    if (error := data.get("error")) is not None:
        _raise_ups_error(_obj(error, "UPS error"))
    video = _obj(data.get("video", {}), "UPS video")
    seconds = None if video.get("seconds") is None else _int(video["seconds"], "video.seconds")
    extra = {key: video[key] for key in _VIDEO_EXTRA if key in video}
    if "id" in video:
        extra["video_id"] = video["id"]
    candidates = [
        _obj(s, "UPS stream")
        for s in _list(data.get("stream"), "UPS streams")
        if not (isinstance(s, dict) and s.get("channel_type") == "tail")
    ]
    chosen = _choose_stream(candidates, streams)
    if chosen is None:
        has = ", ".join(dict.fromkeys(str(s.get("stream_type")) for s in candidates)) or "none"
        unavailable = f"no {'/'.join(streams)} stream (has: {has})"
        return PlayInfo(stream_type=None, unavailable=unavailable, seconds=seconds, extra=extra)
    extra.update({f"stream_{k}": chosen[k] for k in _STREAM_EXTRA if k in chosen})
    segs = _list(chosen.get("segs"), "UPS segs")
    return PlayInfo(
        stream_type=str(chosen["stream_type"]),
        segments=tuple(_segment(i, _obj(s, "UPS seg")) for i, s in enumerate(segs)),
        seconds=seconds,
        extra=extra,
    )


def _raise_ups_error(error: dict[str, Any]) -> None:
    code = _int(error.get("code"), "error.code", default=0)
    note = str(error.get("note") or "")
    if code in (-6004, -6005):
        raise TokenRejected(f"UPS refused the token ({code}: {note})")
    if code == -6001:
        raise VideoUnavailable("unknown video")
    if "私密" in note:
        raise VideoUnavailable(f"private: {note}")
    if "版权" in note:
        raise VideoUnavailable(f"blocked: {note}")
    raise VideoUnavailable(f"UPS error {code}: {note}")


def _choose_stream(
    candidates: list[dict[str, Any]], wanted: tuple[str, ...]
) -> dict[str, Any] | None:
    for stream_type in wanted:
        for stream in candidates:
            if stream.get("stream_type") == stream_type:
                return stream
    return None


def _segment(index: int, seg: dict[str, Any]) -> SegmentRef:
    return SegmentRef(
        index=index,
        size=_int(seg.get("size"), "seg.size"),
        url=seg.get("cdn_url") or None,
        fileid=seg.get("fileid") or None,
    )


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
    reply = _obj(_load(body), "comment reply")
    code = _int(reply.get("code"), "code", default=0)
    if code == -3:
        raise TokenRejected(f"comment sign rejected: {reply.get('message')}")
    if code != 0:
        raise FetchError(f"comment API error {code}: {reply.get('message')}")
    data = _obj(reply.get("data"), "comment data")
    page_size = data.get("pageSize")
    return CommentPage(
        comments=_comments(data.get("comment"), vid),
        hot=_comments(data.get("hot"), vid),
        source_size=_int(data.get("sourceCommentSize"), "sourceCommentSize", default=0),
        total_size=_int(data.get("totalSize"), "totalSize", default=0),
        total_page=_int(data.get("totalPage"), "totalPage", default=0),
        current_page=_int(data.get("currentPage"), "currentPage", default=1),
        page_size=None if page_size is None else _int(page_size, "pageSize"),
    )


def _comments(items: Any, vid: str) -> tuple[Comment, ...]:
    return tuple(_comment(_obj(item, "comment"), vid) for item in _list(items, "comments"))


def _comment(raw: dict[str, Any], vid: str) -> Comment:
    user = raw.get("user")
    created = _int(raw.get("createTime"), "createTime")
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
