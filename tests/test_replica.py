"""The replica site itself: markup, tokens, APIs, media, faults and clock against its truth."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import math
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from parsel import Selector
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page

from tests.conftest import MakeReplica
from tests.fixtures.replica import Replica, ReplicaConfig, Truth, TruthComment, encode_vid, signing
from tests.fixtures.replica.config import FAULT_NAMES
from tests.fixtures.replica.faults import Faults
from tests.fixtures.replica.wording import count_text

REPO = Path(__file__).resolve().parent.parent
VIDEO_REFERER = "http://v.youku.test/v_show/id_x==.html"
UPS = "http://ups.youku.test/ups/get.json"
COMMENTS = "http://p.comments.youku.test/ycp/comment/pc/commentList"
CNA = "AbCdEfGhIjKlMnOpQrStUv+/"
NO_FAULTS: dict[str, Any] = {"faults": False, "videos": 30, "segment_kb": 16}


# -- helpers ---------------------------------------------------------------------------------
async def get(rep: Replica, url: str, **kwargs: Any) -> tuple[int, Mapping[str, str], bytes]:
    """One GET through the replica resolver, without a cookie jar or redirects."""
    async with rep.session(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.get(url, allow_redirects=False, **kwargs) as resp:
            return resp.status, resp.headers.copy(), await resp.read()


def unwrap(text: bytes, callback: str) -> Any:
    match = re.fullmatch(rf"{re.escape(callback)}\((.*)\)", text.decode(), re.S)
    assert match, text[:200]
    return json.loads(match[1])


async def ups(
    rep: Replica, vid: str, *, cna: str = CNA, utid: str | None = None, p_sck: bool = True,
    referer: str | None = VIDEO_REFERER, ts: int | None = None, ckey: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    ts = int(time.time()) if ts is None else ts
    cookie = "; ".join(
        p for p in (f"cna={cna}" if cna else "", "P_sck=s3cr3t" if p_sck else "") if p
    )
    headers = {"Cookie": cookie, **({"Referer": referer} if referer else {})}
    params = {
        "vid": vid, "ccode": "0503", "client_ip": "192.168.1.1", "client_ts": str(ts),
        "utid": cna if utid is None else utid, "callback": "cb_1",
        "ckey": ckey or signing.ckey(vid, str(ts), cna),
    }  # fmt: skip
    status, _, body = await get(rep, UPS, params=params, headers=headers)
    assert status == 200
    return dict(unwrap(body, "cb_1"))


async def comment_page(
    rep: Replica, object_id: str, page: int, *, referer: str | None = VIDEO_REFERER,
    t: int | None = None, sign: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    t = int(time.time()) if t is None else t
    params = {
        "jsoncallback": "jsonp_7", "app": signing.COMMENT_APP, "objectId": object_id,
        "objectType": "1", "listType": "0", "currentPage": str(page), "pageSize": "30",
        "time": str(t), "sign": signing.comment_sign(str(t)) if sign is None else sign,
    }  # fmt: skip
    headers = {"Referer": referer} if referer else {}
    status, _, body = await get(rep, COMMENTS, params=params, headers=headers)
    assert status == 200
    return dict(unwrap(body, "jsonp_7"))


def title_payload(html: str) -> str:
    """The title module's HTML, as shipped inside the page's script payload."""
    match = re.search(r'"html":("(?:[^"\\]|\\.)*")\}\);</script>', html)
    assert match
    return str(json.loads(match[1]))


def first(truth: Truth, cond: Any, slugs: tuple[str, ...] = ("jrrm", "jkjs", "jsqy")) -> str:
    for slug in slugs:
        for vid in truth.categories[slug]:
            if cond(truth.video(vid)):
                return vid
    raise AssertionError("no video matches")


@asynccontextmanager
async def rendered(browser: Browser, url: str) -> AsyncIterator[tuple[BrowserContext, Page]]:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(url)
        await page.wait_for_function(
            "window.__ups && window.__ups.data && window.ykComment && window.ykComment.data",
            timeout=10_000,
        )
        yield context, page
    finally:
        await context.close()


@contextmanager
def layout(rep: Replica, name: Any) -> Iterator[None]:
    before = rep.layout
    rep.layout = name
    try:
        yield
    finally:
        rep.layout = before


def flatten(comments: list[TruthComment] | tuple[TruthComment, ...]) -> list[TruthComment]:
    return [x for c in comments for x in (c, *flatten(c.replies))]


# -- truth -----------------------------------------------------------------------------------
def test_truth_is_deterministic_and_distributed() -> None:
    truth = Truth(ReplicaConfig())
    assert truth.category_pages("jrrm") == 67 and len(truth.page_vids("jrrm", 67)) == 15
    assert truth.category_pages("jkjs") == 3 and len(truth.page_vids("jkjs", 3)) == 10
    videos = [truth.video(v) for vids in truth.categories.values() for v in vids]
    again = Truth(ReplicaConfig())
    assert [again.video(v.vid) for v in videos[:50]] == videos[:50]
    statuses = {s: sum(v.status == s for v in videos) for s in ("private", "blocked", "no_mp4sd")}
    assert all(n >= 1 for n in statuses.values()), statuses
    assert 0.03 < sum(len(v.segments) > 1 for v in videos) / len(videos) < 0.12
    assert any(s.paywalled for v in videos for s in v.segments)
    tails = [s for v in videos for s in v.streams if s.channel_type == "tail"]
    assert any(t.stream_type == "mp4sd" for t in tails)
    assert any(v.tag is None for v in videos) and any(v.thumb_size[0] < 110 for v in videos)
    pages = [truth.comment_counts(v.vid, truth.epoch)[2] for v in videos]
    assert pages.count(0) > len(videos) // 10 and max(pages) >= 10
    assert {count_text(9876), count_text(22_345), count_text(1_049_999)} == {
        "9,876",
        "2.2万",
        "104万",
    }
    assert count_text(123_456_789) == "1.2亿"


# -- catalogue -------------------------------------------------------------------------------
async def test_catalogue_cards_and_pager(replica: Replica) -> None:
    truth, now = replica.truth, replica.clock.now()
    status, _, body = await get(replica, "http://news.youku.test/index/jrrm")
    assert status == 200
    sel = Selector(body.decode())
    assert sel.css('script[src="//log.mmstat.test/eg.js"]')
    cards = sel.css("div.v")
    assert len(cards) == 15
    for card, vid in zip(cards, truth.page_vids("jrrm", 1), strict=True):
        tv = truth.video(vid)
        assert (
            card.css("div.v-link > a::attr(href)").get() == f"//v.youku.test/v_show/id_{vid}==.html"
        )
        assert card.css("div.v-link > a::attr(title)").get() == tv.title
        assert card.css("div.v-meta-title > a::text").get() == tv.title
        assert (
            card.css("div.v-thumb > img::attr(src)").get() == f"//vthumb.ykimg.test/{tv.thumb_hex}"
        )
        assert card.css("span.v-time::text").get() == tv.duration_text
        assert card.css("span.v-num::text").getall() == [
            truth.views_text(vid, now),
            count_text(truth.comment_counts(vid, now)[1]),
        ]
    assert sel.css("div.LPageBar span.pages span.current::text").get() == "1"
    nxt = sel.css('div.page_index span.next > a[title="下一页"]')
    assert nxt.attrib["href"] == "//news.youku.test/index/jrrm/_page225659_2_cmodid_225659"
    assert nxt.attrib["onclick"] == "nova_update('m_225659',this.href);return false;"


async def test_catalogue_last_page_fragment_and_404(replica: Replica) -> None:
    last = replica.truth.category_pages("jkjs")
    url = f"http://news.youku.test/index/jkjs/_page225660_{last}_cmodid_225660"
    status, _, body = await get(replica, url)
    sel = Selector(body.decode())
    assert status == 200 and len(sel.css("div.v")) == 10 == len(replica.truth.page_vids("jkjs", 3))
    assert not sel.css("span.next") and sel.css('a[title="末页"]')
    assert sel.css("span.current::text").get() == str(last)
    status, headers, body = await get(replica, url, params={"__ajax": "1"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert body.startswith(b'<div class="mod mod-new" id="m_225660">') and b"<html" not in body
    for bad in (
        "/index/jkjs/_page225660_4_cmodid_225660",
        "/index/nope",
        "/index/jkjs/_page1_2_cmodid_1",
    ):
        assert (await get(replica, "http://news.youku.test" + bad))[0] == 404
    assert (await get(replica, "http://unknown.test/index/jrrm"))[0] == 404


async def test_redesign_changes_markup_not_data(make_replica: MakeReplica) -> None:
    async with make_replica(layout="redesign", **NO_FAULTS) as rep:
        truth, now = rep.truth, rep.clock.now()
        body = (await get(rep, "http://news.youku.test/index/jrrm"))[2].decode()
        sel = Selector(body)
        assert not sel.css("div.v, div.LPageBar, span.v-time") and 'title="下一页"' not in body
        cards = sel.css("li.feed-card")
        assert len(cards) == 15
        for card, vid in zip(cards, truth.page_vids("jrrm", 1), strict=True):
            tv = truth.video(vid)
            assert card.attrib["data-vid"] == vid
            assert card.css("h3.feed-card__title a::text").get() == tv.title
            assert card.css("a.feed-card__cover::attr(data-duration)").get() == tv.duration_text
            assert card.css(".stat--views::attr(data-count)").get() == truth.views_text(vid, now)
        nxt = sel.xpath('//nav[@class="pager"]/a[text()="下一页"]/@href').get()
        assert nxt == "//news.youku.test/index/jrrm/_page225659_2_cmodid_225659"
        vid = first(truth, lambda v: v.tag and v.subtitle != v.title)
        tv = truth.video(vid)
        page = (await get(rep, f"http://v.youku.test/v_show/id_{vid}"))[2].decode()
        module = Selector(title_payload(page))
        assert module.css("h1.vinfo__title::text").get() == tv.subtitle
        assert not module.css("h1[title], #subtitle, #module_basic_sub")
        assert module.css(".vinfo__channel-name::text").get() == tv.channel_name
        assert module.css("a.vinfo__tag::text").get() == tv.tag
        assert module.css(".vinfo__views::attr(data-views)").get() == truth.views_text(vid, now)
        rep.layout = "2018"
        assert Selector((await get(rep, "http://news.youku.test/index/jrrm"))[2].decode()).css(
            "div.v"
        )


# -- video page ------------------------------------------------------------------------------
async def test_video_page_plain_get(replica: Replica) -> None:
    truth = replica.truth
    vid = truth.categories["jrrm"][0]
    tv = truth.video(vid)
    for suffix in ("", "==", ".html", "==.html"):
        status, headers, body = await get(replica, f"http://v.youku.test/v_show/id_{vid}{suffix}")
        assert status == 200
    html = body.decode()
    assert not Selector(html).css("#subtitle") and 'id="subtitle"' not in html
    assert Selector(html).css("code#bpmodule-playpage-lefttitle-code").get() is not None
    assert Selector(title_payload(html)).css("span#subtitle::attr(title)").get() == tv.subtitle
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("P_sck=") and "HttpOnly" in cookie and "Domain=.youku.test" in cookie
    assert f"videoId: '{tv.numeric_id}', videoId2: '{vid}=='" in html
    for src in ("//static.youku.test/player/ykplayer.min.js", "//log.mmstat.test/eg.js"):
        assert f'src="{src}"' in html
    assert (await get(replica, f"http://v.youku.test/v_show/id_{encode_vid(12345)}==.html"))[
        0
    ] == 404


async def test_rendered_title_module_and_page_tokens(browser: Browser, replica: Replica) -> None:
    truth, now = replica.truth, replica.clock.now()
    vid = first(truth, lambda v: v.tag and v.status == "ok" and v.segments)
    tv = truth.video(vid)
    for _ in range(5):  # the missing_channel_link fault is per request: a retry succeeds
        async with rendered(browser, tv.url) as (context, page):
            sel = Selector(await page.content())
            cookies = {c["name"]: c for c in await context.cookies()}
        if sel.css("#module_basic_sub > a[target]"):
            break
    subtitle = sel.css("code#bpmodule-playpage-lefttitle-code h1 > span#subtitle")
    assert subtitle.attrib["title"] == tv.subtitle and subtitle.css("::text").get() == tv.subtitle
    link = sel.css("div.desc > span#module_basic_sub > a")[0]
    assert link.attrib["href"] == f"//i.youku.test/i/{tv.channel_uid}=="
    assert link.css("img").attrib["alt"] == ""
    assert link.xpath("text()").get() == f"\n    {tv.channel_name}\n"
    assert sel.css("span#module_basic_sub > a.v-sub-btn::text").get() == "+订阅"
    assert sel.css('span[data-sn="tags"] > a.v-tag::text').get() == tv.tag
    assert sel.css("span.play-count::text").get() == truth.views_text(vid, now)
    assert re.fullmatch(r"[A-Za-z0-9+/]{24}", cookies["cna"]["value"])
    assert cookies["cna"]["domain"] == ".youku.test" and cookies["P_sck"]["httpOnly"]
    assert {"__ysuid", "xreferrer"} <= set(cookies)


async def test_player_and_comment_scripts(browser: Browser, replica: Replica) -> None:
    truth, now = replica.truth, replica.clock.now()
    vid = first(truth, lambda v: v.status == "ok" and len(v.segments) > 1)
    async with rendered(browser, truth.video(vid).url) as (context, page):
        up = await page.evaluate("window.__ups")
        yk = await page.evaluate("window.ykComment")
        cookies = {c["name"]: c["value"] for c in await context.cookies()}
    assert up["vid"] == vid and up["utid"] == cookies["cna"]
    assert up["ckey"] == signing.ckey(vid, str(up["client_ts"]), cookies["cna"])
    [sd] = [
        s
        for s in up["data"]["data"]["stream"]
        if s["stream_type"] == "mp4sd" and "channel_type" not in s
    ]
    assert [(g["size"], g["fileid"], "cdn_url" in g) for g in sd["segs"]] == [
        (s.size, s.fileid, not s.paywalled) for s in truth.video(vid).segments
    ]
    assert (yk["app"], yk["objectId"], yk["sign"]) == (
        "100-DDwODVkv", vid, signing.comment_sign(yk["time"]),
    )  # fmt: skip
    data = yk["data"]["data"]
    assert (
        data["sourceCommentSize"],
        data["totalSize"],
        data["totalPage"],
    ) == truth.comment_counts(vid, now)
    # the ckey the page computed may be replayed: 3 uses in all, then -6005
    headers = {
        "Cookie": f"cna={cookies['cna']}; P_sck={cookies['P_sck']}",
        "Referer": truth.video(vid).url,
    }
    params = {k: str(up[k]) for k in ("vid", "ckey", "client_ts", "utid")} | {"ccode": "0503"}
    codes = []
    for _ in range(3):
        body = json.loads((await get(replica, UPS, params=params, headers=headers))[2])
        codes.append(body["data"].get("error", {}).get("code", 0))
    assert codes == [0, 0, -6005]


# -- UPS ---------------------------------------------------------------------------------------
async def test_ups_rejections(replica: Replica) -> None:
    truth = replica.truth
    vid = first(truth, lambda v: v.status == "ok")

    async def code(**kwargs: Any) -> tuple[int, str]:
        err = (await ups(replica, kwargs.pop("vid", vid), **kwargs))["data"].get("error")
        return (err["code"], err["note"]) if err else (0, "")

    assert await code() == (0, "")
    assert await code(referer=None) == (-6004, "客户端无权播放,201")
    assert (await code(referer="http://news.youku.test/index/jrrm"))[0] == -6004
    assert (await code(utid="Zz" * 12))[0] == -6004
    assert (await code(cna=""))[0] == -6004
    assert await code(p_sck=False) == (-6005, "用户账户异常、请重新登录")
    assert (await code(ckey="112#AAAAAAAAAAAAAAAAAAAAAA=="))[0] == -6005
    assert (await code(ts=int(time.time()) - 700))[0] == -6005
    assert (await code(ts=int(time.time()) - 500))[0] == 0
    assert (await code(vid=encode_vid(12345)))[0] == -6001
    private = first(truth, lambda v: v.status == "private")
    blocked = first(truth, lambda v: v.status == "blocked")
    assert "该视频被设为私密" in (await code(vid=private))[1]
    assert "因版权原因无法观看此视频" in (await code(vid=blocked))[1]


async def test_ups_streams_match_truth(replica: Replica) -> None:
    truth = replica.truth
    for vid in (
        first(truth, lambda v: any(s.channel_type for s in v.streams)),
        first(truth, lambda v: any(s.paywalled for s in v.segments)),
        first(truth, lambda v: v.status == "no_mp4sd"),
    ):
        tv = truth.video(vid)
        data = (await ups(replica, vid))["data"]
        assert data["video"]["encodeid"] == f"{vid}==" and data["video"]["title"] == tv.subtitle
        assert data["video"]["tags"] == ([tv.tag] if tv.tag else [])
        got = [
            (s["stream_type"], s.get("channel_type"), s["size"], len(s["segs"]))
            for s in data["stream"]
        ]
        assert got == [(s.stream_type, s.channel_type, s.size, len(s.segments)) for s in tv.streams]
        for stream, truth_stream in zip(data["stream"], tv.streams, strict=True):
            for seg, ts in zip(stream["segs"], truth_stream.segments, strict=True):
                assert ("cdn_url" in seg) is not ts.paywalled
                assert seg.get("cdn_url", "http://cdn").startswith("http://cdn")


# -- comments ----------------------------------------------------------------------------------
async def test_comment_sign_and_referer_rules(replica: Replica) -> None:
    vid = replica.truth.categories["jrrm"][0]
    bad = {"code": -3, "message": "缺少接口签名验证参数"}
    assert await comment_page(replica, vid, 1, sign="") == bad
    assert await comment_page(replica, vid, 1, sign="0" * 32) == bad
    assert await comment_page(replica, vid, 1, t=int(time.time()) - 400) == bad
    assert await comment_page(replica, vid, 1, t=int(time.time()) + 400) == bad
    assert (await comment_page(replica, vid, 1, t=int(time.time()) - 200))["code"] == 0
    assert (await comment_page(replica, vid, 1, referer=None))["code"] == -4
    assert (await comment_page(replica, vid, 2, referer=None))["code"] == 0


async def test_comment_pages_match_truth(replica: Replica) -> None:
    truth, now = replica.truth, replica.clock.now()
    vid = max(truth.categories["jrrm"], key=lambda v: truth.comment_counts(v, now)[1])
    source, total, pages = truth.comment_counts(vid, now)
    assert pages == math.ceil(source / 30) >= 10 and 500 <= total
    served: list[dict[str, Any]] = []
    for page in range(1, pages + 2):
        body = await comment_page(replica, str(truth.video(vid).numeric_id), page)
        data = body["data"]
        assert (data["sourceCommentSize"], data["totalSize"], data["totalPage"]) == (
            source,
            total,
            pages,
        )
        assert len(data["hot"]) == (len(truth.hot_ids(vid, now)) if page == 1 else 0)
        if page == 1:
            assert [c["id"] for c in data["hot"]] == truth.hot_ids(vid, now)
        served += data["comment"]
        assert len(data["comment"]) == (
            30 if page < pages else source - 30 * (pages - 1) if page == pages else 0
        )
    expected = truth.comments(vid, now)
    assert [c["id"] for c in served] == [c.id for c in expected]

    def flat(items: list[dict[str, Any]], parent: int) -> list[tuple[int, int, str, int]]:
        out = []
        for c in items:
            assert c["parentCommentId"] == parent and c["replyCount"] == len(c["replyList"])
            out.append((c["id"], c["createTime"], c["content"], c["user"]["userName"] != ""))
            out += flat(c["replyList"], c["id"])
        return out

    assert flat(served, 0) == [(c.id, c.create_ms, c.content, True) for c in flatten(expected)]
    assert len(flatten(expected)) == total
    assert any(c["replyList"] and c["replyList"][0]["replyList"] for c in served)  # depth 3
    assert any("<b>" in c.content or '"' in c.content for c in flatten(expected))


# -- clock -------------------------------------------------------------------------------------
async def test_clock_grows_views_and_comments(make_replica: MakeReplica) -> None:
    async with make_replica(**NO_FAULTS) as rep:
        truth, vids = rep.truth, rep.truth.page_vids("jrrm", 1)
        t0 = rep.clock.now()
        before = {v: (truth.views(v, t0), truth.comment_counts(v, t0)) for v in vids}
        async with rep.session() as session:
            async with session.post(
                "http://news.youku.test/__replica/clock?advance=172800"
            ) as resp:
                assert (await resp.json())["now"] == t0 + 172800 == rep.clock.now()
        t1 = rep.clock.now()
        assert all(truth.views(v, t1) > before[v][0] for v in vids)
        assert all(truth.comment_counts(v, t1)[1] >= before[v][1][1] for v in vids)
        grew = [v for v in vids if truth.comment_counts(v, t1)[1] > before[v][1][1]]
        assert grew
        cards = Selector((await get(rep, "http://news.youku.test/index/jrrm"))[2].decode()).css(
            "div.v"
        )
        # Videos published in those two days now lead the catalogue (section 11).
        shown = truth.page_vids("jrrm", 1, t1)
        assert shown != vids and shown[0] in truth.published_between(t0, t1)
        for card, vid in zip(cards, shown, strict=True):
            assert card.css("span.v-num::text").getall() == [
                truth.views_text(vid, t1),
                count_text(truth.comment_counts(vid, t1)[1]),
            ]
        data = (await comment_page(rep, grew[0], 1))["data"]
        assert data["totalSize"] == truth.comment_counts(grew[0], t1)[1] > before[grew[0]][1][1]
        with pytest.raises(ValueError):
            rep.clock.advance(-1)


# -- segments and thumbnails ---------------------------------------------------------------------
async def test_segments_bytes_ranges_and_vkey(make_replica: MakeReplica) -> None:
    async with make_replica(**NO_FAULTS) as rep:
        vid = first(rep.truth, lambda v: len(v.segments) > 1 and not v.segments[-1].paywalled)
        [sd] = [
            s for s in (await ups(rep, vid))["data"]["stream"]
            if s["stream_type"] == "mp4sd" and "channel_type" not in s
        ]  # fmt: skip
        for seg, truth_seg in zip(sd["segs"], rep.truth.video(vid).segments, strict=True):
            status, headers, body = await get(rep, seg["cdn_url"])
            assert status == 200 and headers["Content-Type"] == "video/mp4"
            assert int(headers["Content-Length"]) == len(body) == truth_seg.size
            assert body[4:8] == b"ftyp" and body[36:40] == b"mdat"
            assert hashlib.sha256(body).hexdigest() == truth_seg.sha256
        url = sd["segs"][0]["cdn_url"]
        whole = rep.truth.video(vid).segments[0].body.content()
        for header, span in (("bytes=10-99", (10, 100)), ("bytes=1000-", (1000, len(whole)))):
            status, headers, part = await get(rep, url, headers={"Range": header})
            assert status == 206 and part == whole[span[0] : span[1]]
            assert headers["Content-Range"] == f"bytes {span[0]}-{span[1] - 1}/{len(whole)}"
        assert (await get(rep, url.replace("cdn1.", "vali.").replace("cdn2.", "vali.")))[0] == 200
        assert (await get(rep, url[:-4] + "0000"))[0] == 403
        old = int(time.time()) - 20000
        path = rep.truth.video(vid).segments[0].path
        vkey = signing.vkey(path, old, 18000)
        stale = f"http://cdn1.ykcdn.test{path}?ups_ts={old}&expire=18000&vkey={vkey}"
        assert (await get(rep, stale))[0] == 403


async def test_thumbnails_are_jpegs_of_truth_size(replica: Replica) -> None:
    truth = replica.truth
    for vid in (
        first(truth, lambda v: v.thumb_size[0] >= 200),
        first(truth, lambda v: v.thumb_size[0] < 110),
    ):
        tv = truth.video(vid)
        status, headers, body = await get(replica, tv.thumb_url)
        assert status == 200 and headers["Content-Type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
        assert Image.open(io.BytesIO(body)).size == tv.thumb_size
    assert (await get(replica, "http://vthumb.ykimg.test/" + "0" * 32))[0] == 404


# -- faults ------------------------------------------------------------------------------------
async def test_fault_counters(make_replica: MakeReplica) -> None:
    rates = {
        "segment_302": 1.0,
        "segment_502": 0.0,
        "missing_channel_link": 1.0,
        "catalogue_500": 1.0,
    }
    async with make_replica(videos=15, fault_rates=rates, tracker="missing", slow_s=0.05) as rep:
        vid = first(rep.truth, lambda v: v.status == "ok" and bool(v.segments))
        page = (await get(rep, f"http://v.youku.test/v_show/id_{vid}==.html"))[2].decode()
        assert "i.youku.test/i/" not in title_payload(page)
        url = next(
            s for s in (await ups(rep, vid))["data"]["stream"] if s["stream_type"] == "mp4sd"
        )
        status, headers, _ = await get(rep, url["segs"][0]["cdn_url"])
        assert status == 302 and headers["Location"].startswith("http://vali.ykcdn.test/")
        assert (await get(rep, headers["Location"]))[0] == 200
        statuses = [(await get(rep, "http://news.youku.test/index/jrrm"))[0] for _ in range(2)]
        assert statuses == [500, 200]
        assert (await get(rep, "http://log.mmstat.test/eg.js"))[0] == 404
        admin = json.loads((await get(rep, "http://any.youku.test/__replica/faults"))[2])
        assert admin == rep.faults.counts and set(admin) == set(FAULT_NAMES)
        assert {k: admin[k] > 0 for k in admin} == {
            "segment_302": True, "segment_502": False, "missing_channel_link": True,
            "tracker_missing": True, "tracker_slow": False, "catalogue_500": True, "slow": True,
            "page_hang": False, "page_500": False,
        }  # fmt: skip
        rep.faults.enabled = False
        page = (await get(rep, f"http://v.youku.test/v_show/id_{vid}==.html"))[2].decode()
        assert "i.youku.test/i/" in title_payload(page)
        assert rep.faults.counts["missing_channel_link"] == admin["missing_channel_link"]


async def test_segment_502_and_slow_tracker(make_replica: MakeReplica) -> None:
    config = {"videos": 15, "fault_rates": {"segment_302": 0.0, "segment_502": 1.0}}
    async with make_replica(tracker="slow", tracker_delay_s=0.3, **config) as rep:
        vid = first(rep.truth, lambda v: v.status == "ok" and bool(v.segments))
        seg = next(
            s for s in (await ups(rep, vid))["data"]["stream"] if s["stream_type"] == "mp4sd"
        )
        status, headers, body = await get(rep, seg["segs"][0]["cdn_url"])
        assert status == 502 and b"<center>nginx</center>" in body and headers["Server"] == "nginx"
        assert rep.faults.counts["segment_502"] == 1
        started = time.perf_counter()
        status, headers, body = await get(rep, "http://log.mmstat.test/eg.js")
        assert time.perf_counter() - started >= 0.3 and rep.faults.counts["tracker_slow"] == 1
        cna = re.fullmatch(
            r'window.goldlog=\(window.goldlog\|\|\{\}\);goldlog.Etag="(.{24})";.*', body.decode()
        )
        assert (
            cna
            and headers["ETag"] == f'"{cna[1]}"'
            and "Domain=.mmstat.test" in headers["Set-Cookie"]
        )


def test_sticky_502s_fail_three_times_in_a_row() -> None:
    faults = Faults(ReplicaConfig(seed=3))
    runs = set()
    for n in range(30):
        faults.rates["segment_502"] = 1.0
        assert faults.segment_502(f"/p{n}")
        faults.rates["segment_502"] = 0.0
        runs.add(sum(faults.segment_502(f"/p{n}") for _ in range(4)))
    assert runs == {0, 2}


# -- CLI ---------------------------------------------------------------------------------------
async def test_cli_serves_until_terminated() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fixtures.replica", "--port", str(port), "--videos", "30",
        "--faults", "off", cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        assert (
            line
            == f"replica serving on http://127.0.0.1:{port} (resolve '*.test=127.0.0.1:{port}')"
        )
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/index/jrrm/_page225659_2_cmodid_225659"
            async with session.get(url, headers={"Host": "news.youku.test"}) as resp:
                assert resp.status == 200 and 'id="m_225659"' in await resp.text()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0


async def test_pager_swaps_module_and_redesign_renders(browser: Browser, replica: Replica) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto("http://news.youku.test/index/jrrm")
        await page.wait_for_function("document.cookie.indexOf('cna=') >= 0", timeout=5000)
        await page.click('span.next > a[title="下一页"]')
        await page.wait_for_function("document.querySelector('span.current').textContent == '2'")
        hrefs = await page.eval_on_selector_all("div.v-link > a", "as => as.map(a => a.href)")
        assert page.url == "http://news.youku.test/index/jrrm"
        assert hrefs == [replica.truth.video(v).url for v in replica.truth.page_vids("jrrm", 2)]
    finally:
        await context.close()
    tv = replica.truth.video(first(replica.truth, lambda v: v.status == "ok"))
    with layout(replica, "redesign"):
        async with rendered(browser, tv.url) as (_, page):
            title = await page.text_content("[data-slot=video-info] h1.vinfo__title")
            ups_ok = await page.evaluate("!window.__ups.data.data.error")
    assert (title, ups_ok) == (tv.subtitle, True)
