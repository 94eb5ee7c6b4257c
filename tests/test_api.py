"""api.py and comments.py: JSON(P) unwrapping, UPS play info, comment pages and client."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from scraper.api.comments import CommentClient, parse_comment_page
from scraper.api.jsonp import unwrap_jsonp
from scraper.api.play_info import parse_play_info
from scraper.config import ResolveRule
from scraper.errors import FetchError, MalformedResponse, TokenRejected, VideoUnavailable
from scraper.models import SegmentRef
from scraper.net.client import HttpClient

# --- unwrap_jsonp -------------------------------------------------------------------

PAYLOAD = {"data": {"note": "a ) ( }catch { \"quoted\" 评论 😀"}, "n": [1, 2.5, None]}
TEXT = json.dumps(PAYLOAD, ensure_ascii=False)


@pytest.mark.parametrize(
    "body",
    [
        TEXT,
        f"  \n{TEXT}\n",
        f"\ufeff{TEXT}",
        f"cb({TEXT})",
        f"cb({TEXT});",
        f"jQuery1124_1529({TEXT});\n",
        f"/**/ cb({TEXT})",
        f"/**/jsonp_17( {TEXT} );",
        f"try{{cb({TEXT});}}catch(e){{}}",
        f" try {{ window.cb ( {TEXT} ) ; }} catch (err) {{ }} ",
        f"/**/ typeof cb === 'function' && cb({TEXT});",
        f"window.__ups_cb\n(\n{TEXT}\n)\n",
    ],
)
def test_unwrap_jsonp_accepts_json_and_wrappers(body: str) -> None:
    assert unwrap_jsonp(body) == PAYLOAD


def test_unwrap_jsonp_accepts_arrays() -> None:
    assert unwrap_jsonp("cb([1, 2])") == [1, 2]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "neither JSON nor JSONP"),
        ("nginx error", "neither JSON nor JSONP"),
        (TEXT[: len(TEXT) // 2], "bad JSON"),
        (f"cb({TEXT[:-3]}", "bad JSON"),
        (f"cb({TEXT}", "unexpected text"),
        (f"cb({TEXT}) alert(1)", "unexpected text"),
        (f"{TEXT} trailing", "unexpected text"),
        ("cb(undefined)", "bad JSON"),
        ("cb()", "bad JSON"),
        ("cb({'a': 1})", "bad JSON"),
    ],
)
def test_unwrap_jsonp_rejects_truncated_and_garbage(body: str, reason: str) -> None:
    with pytest.raises(MalformedResponse, match=reason) as info:
        unwrap_jsonp(body)
    assert len(str(info.value)) < 120


# --- UPS play info ------------------------------------------------------------------


def _seg(n: int, *, url: bool = True) -> dict[str, Any]:
    return {
        "size": 1000 + n,
        "fileid": f"F{n}",
        "key": "k",
        "secret": "s",
        **({"cdn_url": f"http://cdn1.ykcdn.test/s/F{n}.mp4?vkey=v"} if url else {}),
    }


def _ups(streams: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": {
            "video": {"id": 123, "encodeid": "XNDk=", "title": "标题", "seconds": "65.43",
                      "userid": 42, "username": "频道", "tags": ["社会"], "category_id": 91},
            "show": {}, "uploader": {},
            "stream": streams,
        },
        "e": {"code": 0},
    }


def _stream(stream_type: str, segs: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"stream_type": stream_type, "width": 640, "height": 360, "size": 1, "segs": segs,
            **more}


def test_play_info_skips_a_tail_with_the_same_stream_type() -> None:
    tail = _stream("mp4sd", [_seg(9)], channel_type="tail")
    body = _ups([tail, _stream("mp4hd", [_seg(7)]), _stream("mp4sd", [_seg(0), _seg(1)])])
    info = parse_play_info("callback(" + json.dumps(body) + ")")
    assert info.stream_type == "mp4sd"
    assert info.unavailable is None
    assert info.segments == (
        SegmentRef(0, 1000, "http://cdn1.ykcdn.test/s/F0.mp4?vkey=v", "F0"),
        SegmentRef(1, 1001, "http://cdn1.ykcdn.test/s/F1.mp4?vkey=v", "F1"),
    )
    assert info.seconds == 65
    assert info.extra["title"] == "标题"
    assert (info.extra["userid"], info.extra["username"]) == (42, "频道")
    assert info.extra["video_id"] == 123
    assert (info.extra["stream_width"], info.extra["stream_height"]) == (640, 360)


def test_play_info_follows_stream_preference_order() -> None:
    body = _ups([_stream("3gphd", [_seg(3)]), _stream("mp4hd", [_seg(4)])])
    info = parse_play_info(body, streams=("mp4sd", "mp4hd", "3gphd"))
    assert info.stream_type == "mp4hd"
    assert [s.fileid for s in info.segments] == ["F4"]


def test_play_info_without_wanted_stream_is_recorded_not_raised() -> None:
    tail = _stream("mp4sd", [_seg(9)], channel_type="tail")
    body = _ups([tail, _stream("mp4hd", [_seg(1)]), _stream("3gphd", [_seg(2)])])
    info = parse_play_info(json.dumps(body))
    assert info.stream_type is None
    assert info.segments == ()
    assert info.unavailable == "no mp4sd stream (has: mp4hd, 3gphd)"
    assert info.seconds == 65


def test_play_info_marks_paywalled_segments() -> None:
    body = _ups([_stream("mp4sd", [_seg(0), _seg(1, url=False), {**_seg(2), "cdn_url": ""}])])
    info = parse_play_info(body)
    assert [s.url is None for s in info.segments] == [False, True, True]
    assert [s.index for s in info.segments] == [0, 1, 2]


def _ups_error(code: int, note: str) -> str:
    return json.dumps({"data": {"error": {"code": code, "note": note}}, "e": {"code": code}})


@pytest.mark.parametrize(
    ("code", "note", "error", "message"),
    [
        (-6004, "客户端无权播放,201", TokenRejected, "-6004"),
        (-6005, "用户账户异常、请重新登录", TokenRejected, "-6005"),
        (-6001, "视频不存在", VideoUnavailable, "^unknown video$"),
        (-2002, "该视频被设为私密", VideoUnavailable, "^private: 该视频被设为私密$"),
        (-2003, "因版权原因无法观看此视频", VideoUnavailable, "^blocked: 因版权原因"),
        (-9999, "其他", VideoUnavailable, "-9999.*其他"),
    ],
)
def test_play_info_errors(code: int, note: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_play_info(_ups_error(code, note))


_NOT_A_LIST: Any = 5


@pytest.mark.parametrize(
    "body",
    [
        '{"e": {}}',
        '{"data": []}',
        "cb(",
        _ups([_stream("mp4sd", _NOT_A_LIST)]),
        _ups([_stream("mp4sd", [{"size": "big"}])]),
        _ups(_NOT_A_LIST),
    ],
)
def test_play_info_malformed(body: Any) -> None:
    with pytest.raises(MalformedResponse):
        parse_play_info(body)


# --- comment pages ------------------------------------------------------------------


def _c(cid: int, *, parent: int = 0, replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": cid, "userId": 1000 + cid, "content": f"<b>\"{cid}\"</b> 好 😀",
        "createTime": 1_530_000_000_000 + cid, "upCount": cid % 7, "downCount": 1,
        "replyCount": len(replies or []), "parentCommentId": parent,
        "user": {"userName": f"用户{cid}", "userId": 1000 + cid}, "replyList": replies or [],
    }


def _page(
    comments: list[dict[str, Any]],
    *,
    page: int,
    total: int,
    hot: tuple[dict[str, Any], ...] | list[dict[str, Any]] = (),
    size: int = 30,
) -> dict[str, Any]:
    return {
        "code": 0,
        "data": {
            "sourceCommentSize": total, "totalSize": total + 5,
            "totalPage": math.ceil(total / size), "pageSize": size,
            "comment": comments, "currentPage": page, "hot": list(hot),
        },
    }


def test_comment_page_nests_replies() -> None:
    deep = _c(4, parent=3)
    tree = _c(1, replies=[_c(2, parent=1), _c(3, parent=1, replies=[deep])])
    body = "jsonp_1(" + json.dumps(_page([tree, _c(5)], page=1, total=2, hot=[_c(5)])) + ");"
    page = parse_comment_page(body, vid="XNDk")
    assert (page.source_size, page.total_size, page.total_page, page.current_page) == (2, 7, 1, 1)
    assert [c.id for c in page.comments] == [1, 5]
    assert [c.id for c in page.hot] == [5]
    first = page.comments[0]
    assert first.vid == "XNDk"
    assert first.time == datetime(2018, 6, 26, 8, 0, 0, 1000, tzinfo=UTC)
    assert (first.user, first.user_name, first.content) == (1001, "用户1", '<b>"1"</b> 好 😀')
    assert (first.num_up, first.num_down, first.num_reply, first.parent_id) == (1, 1, 2, 0)
    assert [r.id for r in first.replies] == [2, 3]
    assert all(r.parent_id == 1 for r in first.replies)
    assert [(r.id, r.parent_id) for r in first.replies[1].replies] == [(4, 3)]


def test_comment_page_errors() -> None:
    with pytest.raises(TokenRejected, match="缺少接口签名验证参数"):
        parse_comment_page('{"code":-3,"message":"缺少接口签名验证参数"}', vid="X")
    with pytest.raises(FetchError, match=r"-4.*referer") as info:
        parse_comment_page({"code": -4, "message": "bad referer"}, vid="X")
    assert not isinstance(info.value, TokenRejected)
    with pytest.raises(MalformedResponse):
        parse_comment_page(_page([{"id": "x", "createTime": 1}], page=1, total=1), vid="X")
    with pytest.raises(MalformedResponse):
        parse_comment_page({"code": 0, "data": {"comment": {}}}, vid="X")


# --- CommentClient against a small server -------------------------------------------

VIDEO_URL = "http://v.youku.test/v_show/id_XNDk==.html"
APP = "100-DDwODVkv"


@dataclass
class CommentSite:
    """A commentList endpoint whose behaviour each test sets."""

    total: int = 95
    rejected_signs: dict[int, set[str]] = field(default_factory=dict)  # page -> signs
    fail_5xx: dict[int, int] = field(default_factory=dict)  # page -> failures left
    arrivals: int = 0  # comments that arrive before pages >= 2 are served
    requests: list[dict[str, Any]] = field(default_factory=list)

    def ids(self, page: int) -> list[int]:
        newest = self.total + (self.arrivals if page >= 2 else 0)
        ordered = list(range(newest, 0, -1))  # newest first, as the site lists them
        return ordered[(page - 1) * 30 : page * 30]

    async def handle(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        page = int(query["currentPage"])
        self.requests.append({"query": query, "referer": request.headers.get("Referer"),
                              "cookie": request.headers.get("Cookie")})
        if self.fail_5xx.get(page, 0) > 0:
            self.fail_5xx[page] -= 1
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        if query.get("sign") in self.rejected_signs.get(page, set()) or not query.get("time"):
            body: dict[str, Any] = {"code": -3, "message": "缺少接口签名验证参数"}
        else:
            hot = [_c(i) for i in self.ids(1)[:3]] if page == 1 else []
            body = _page([_c(i) for i in self.ids(page)], page=page, total=self.total, hot=hot)
        text = json.dumps(body)
        if "jsoncallback" in query:
            text = f"{query['jsoncallback']}({text});"
        return web.Response(text=text, content_type="application/json")


@pytest.fixture
async def site() -> AsyncIterator[tuple[CommentSite, HttpClient]]:
    state = CommentSite()
    app = web.Application()
    app.router.add_get("/ycp/comment/pc/commentList", state.handle)
    async with TestServer(app, host="127.0.0.1") as srv:
        assert srv.port is not None
        rule = ResolveRule("*.youku.test", "127.0.0.1", srv.port)
        async with HttpClient(resolve=(rule,), timeout_s=5, user_agent="t") as http:
            yield state, http


class Signer:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> tuple[str, str]:
        self.calls += 1
        return f"sig-{self.calls}", str(1_530_000_000 + self.calls)


def _client(http: HttpClient, **kw: Any) -> CommentClient:
    return CommentClient(
        http, url="http://p.comments.youku.test/ycp/comment/pc/commentList", app=APP,
        referer=VIDEO_URL, backoff_base_s=0.001, backoff_max_s=0.01, **kw,
    )


async def test_thread_across_pages_with_a_rejected_sign(
    site: tuple[CommentSite, HttpClient],
) -> None:
    state, http = site
    state.total = 250  # 9 pages
    state.rejected_signs = {5: {"sig-1"}}
    signer = Signer()
    thread = await _client(http, jsoncallback="jsonp_3").fetch_thread(
        "XNDk", first_page=None, signer=signer, cookies={"cna": "abc"}
    )
    assert [c.id for c in thread.comments] == list(range(250, 0, -1))
    assert thread.hot_ids == (250, 249, 248)
    assert (thread.source_size, thread.total_size, thread.pages) == (250, 255, 9)
    assert signer.calls == 2
    page5 = [r["query"]["sign"] for r in state.requests if r["query"]["currentPage"] == "5"]
    assert page5 == ["sig-1", "sig-2"]
    assert all(r["referer"] == VIDEO_URL for r in state.requests)
    assert all(r["cookie"] == "cna=abc" for r in state.requests)
    first = state.requests[0]["query"]
    assert first == {
        "jsoncallback": "jsonp_3", "app": APP, "objectId": "XNDk", "objectType": "1",
        "listType": "0", "currentPage": "1", "pageSize": "30", "sign": "sig-1",
        "time": "1530000001",
    }


async def test_captured_first_page_is_not_fetched_again(
    site: tuple[CommentSite, HttpClient],
) -> None:
    state, http = site
    state.arrivals = 2  # two new comments push ids down into page 2
    first = "cb(" + json.dumps(_page([_c(i) for i in state.ids(1)], page=1, total=95)) + ")"
    signer = Signer()
    thread = await _client(http).fetch_thread("XNDk", first_page=first, signer=signer)
    assert sorted(r["query"]["currentPage"] for r in state.requests) == ["2", "3", "4"]
    # Page 2 now starts at 67: 67 and 66 came on page 1 already and are kept once.
    assert [c.id for c in thread.comments] == list(range(95, 0, -1))
    assert signer.calls == 1


async def test_max_comments_stops_early(site: tuple[CommentSite, HttpClient]) -> None:
    state, http = site
    state.total = 600  # 20 pages
    thread = await _client(http, concurrency=2).fetch_thread(
        "XNDk", first_page=None, signer=Signer(), max_comments=45
    )
    assert [c.id for c in thread.comments] == list(range(600, 555, -1))
    pages = {int(r["query"]["currentPage"]) for r in state.requests}
    assert max(pages) <= 4  # page 2 completes the quota; at most the window ahead was asked


async def test_no_comments_needs_no_sign(site: tuple[CommentSite, HttpClient]) -> None:
    state, http = site
    empty = json.dumps(_page([], page=1, total=0))
    signer = Signer()
    thread = await _client(http).fetch_thread("XNDk", first_page=empty, signer=signer)
    assert (thread.comments, thread.hot_ids, thread.pages) == ((), (), 0)
    assert signer.calls == 0
    assert state.requests == []


async def test_rejected_captured_page_is_fetched(site: tuple[CommentSite, HttpClient]) -> None:
    state, http = site
    state.total = 10
    thread = await _client(http).fetch_thread(
        "XNDk", first_page='{"code":-3,"message":"缺少接口签名验证参数"}', signer=Signer()
    )
    assert len(thread.comments) == 10
    assert [r["query"]["currentPage"] for r in state.requests] == ["1"]


async def test_sign_rejected_for_good_raises(site: tuple[CommentSite, HttpClient]) -> None:
    state, http = site
    state.rejected_signs = {2: {f"sig-{n}" for n in range(1, 10)}}
    signer = Signer()
    with pytest.raises(TokenRejected):
        await _client(http).fetch_thread("XNDk", first_page=None, signer=signer)
    assert signer.calls == 4  # the first sign, then three renewals


async def test_transient_5xx_is_retried(site: tuple[CommentSite, HttpClient]) -> None:
    state, http = site
    state.fail_5xx = {1: 1, 3: 2}
    thread = await _client(http).fetch_thread("XNDk", first_page=None, signer=Signer())
    assert len(thread.comments) == 95
    assert [r["query"]["currentPage"] for r in state.requests].count("3") == 3


async def test_persistent_5xx_fails(site: tuple[CommentSite, HttpClient]) -> None:
    state, http = site
    state.fail_5xx = {2: 10}
    with pytest.raises(FetchError, match="HTTP 502"):
        await _client(http, retries=3).fetch_thread("XNDk", first_page=None, signer=Signer())
    assert [r["query"]["currentPage"] for r in state.requests].count("2") == 3
