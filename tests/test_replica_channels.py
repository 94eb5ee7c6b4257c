"""The replica's channels (spec section 11): pages, publication over the clock, truth."""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import time
from typing import Any

import pytest
from parsel import Selector
from PIL import Image
from playwright.async_api import Browser

from tests.conftest import MakeReplica
from tests.fixtures.replica import (
    CHANNEL_PAGE_SIZE,
    Replica,
    ReplicaConfig,
    Truth,
    TruthChannel,
    encode_vid,
)
from tests.fixtures.replica.__main__ import parse
from tests.fixtures.replica.api import segment_url
from tests.fixtures.replica.wording import count_text
from tests.test_replica import comment_page, get, title_payload, ups

FROZEN: dict[str, Any] = {"faults": False, "videos": 30, "segment_kb": 16}
DAY = 86400.0


def home(uid: str) -> str:
    return f"http://i.youku.test/i/{uid}=="


def videos_url(uid: str, page: int | None = None) -> str:
    return f"http://i.youku.test/i/{uid}/videos" + ("" if page is None else f"?page={page}")


def figures(head: Selector) -> dict[str, str]:
    """The 2018 head's figures by label: 粉丝, 视频, 播放."""
    return {
        li.css("label::text").get(""): li.css("span.num::text").get("")
        for li in head.css("ul.channel-stats > li")
    }


def expected_figures(found: TruthChannel) -> dict[str, str]:
    return {"粉丝": found.followers_text, "视频": found.videos_text, "播放": found.plays_text}


async def page_sel(rep: Replica, url: str) -> Selector:
    status, _, body = await get(rep, url)
    assert status == 200, url
    return Selector(body.decode())


def biggest(truth: Truth, t: float) -> TruthChannel:
    """The channel with the most videos at ``t``."""
    found = [truth.channel(uid, t) for uid in truth.channel_uids()]
    return max((c for c in found if c), key=lambda c: c.videos)


def first_published(truth: Truth, t0: float, *, listed: bool) -> str:
    """The first playable video published after ``t0`` that a catalogue lists (or not)."""
    return next(
        v for v in truth.published_between(t0, t0 + 30 * DAY)
        if (truth.video(v).category is not None) is listed and truth.video(v).status == "ok"
    )  # fmt: skip


# -- truth -----------------------------------------------------------------------------------
def test_truth_channels_own_every_video_newest_first() -> None:
    truth = Truth(ReplicaConfig(videos=150))
    t = truth.epoch
    uids = truth.channel_uids()
    assert len(uids) == len(set(uids)) >= 20
    assert all(u.startswith("U") and "=" not in u for u in uids)
    channels = [truth.channel(uid + "==", t) for uid in uids]
    owned = [v for c in channels if c for v in c.vids]
    listed = {v for vids in truth.categories.values() for v in vids}
    assert len(owned) == len(set(owned)) and listed < set(owned)
    for found in channels:
        assert found is not None
        published = [truth.video(v).published for v in found.vids]
        assert published == sorted(published, reverse=True) and max(published) <= t
        assert all(truth.video(v).channel_uid == found.uid for v in found.vids)
        assert found.videos == len(found.vids) and found.videos_text == count_text(found.videos)
        assert found.plays == sum(truth.views(v, t) for v in found.vids)
        assert (found.followers_text, found.plays_text) == (
            count_text(found.followers), count_text(found.plays),
        )  # fmt: skip
        numeric = truth.video(found.vids[0]).channel_numeric
        assert found.link == f"http://i.youku.test/i/{found.uid}=="
        assert found.avatar_url == f"http://static.youku.test/avatar/{numeric}?w=100"
        off = [v for v in found.vids if truth.video(v).category is None]
        assert len(off) == 6  # ReplicaConfig.channel_videos, all published before the epoch
        assert all(truth.video(v).page is None is truth.video(v).position for v in off)
    assert truth.channel("UMTIzNDU2Nzg5", t) is None
    assert count_text(310_000_000) == "3.1亿" and count_text(1204) == "1,204"
    assert any(c and c.plays_text.endswith("亿") for c in channels)


def test_truth_publication_spreads_new_videos_over_the_days_after_the_epoch() -> None:
    truth = Truth(ReplicaConfig(videos=150))
    t0 = truth.epoch
    later = truth.published_between(t0, t0 + 7 * DAY)
    times = [truth.video(v).published for v in later]
    assert times == sorted(times) and all(t0 < t <= t0 + 7 * DAY for t in times)
    gaps = [b - a for a, b in zip([t0, *times], times, strict=False)]
    assert all(20 * 60 <= g <= 60 * 60 for g in gaps) and 7 * 24 <= len(later) <= 7 * 72
    kinds = {truth.video(v).category for v in later}
    assert None in kinds and "jrrm" in kinds
    for vid in later[:5]:  # findable before publication, visible only from it on
        published = truth.video(vid).published
        assert truth.find(vid) is not None and not truth.visible(vid, published - 1)
        assert truth.visible(vid, published) and truth.views(vid, published - 1) == 0
        assert truth.comment_counts(vid, published - 1) == (0, 0, 0)
        if truth.video(vid).category is None:
            assert truth.video(vid).page is None and truth.video(vid).position is None
    assert truth.catalogue("jrrm") == truth.categories["jrrm"] == truth.catalogue("jrrm", t0)
    frozen = Truth(ReplicaConfig(videos=150, publication=False, channel_videos=0))
    assert frozen.published_between(t0, t0 + 30 * DAY) == []
    assert frozen.catalogue("jrrm", t0 + 30 * DAY) == frozen.categories["jrrm"]
    assert all(frozen.video(v).category for uid in frozen.channel_uids()
               for v in (frozen.channel(uid, t0 + DAY) or pytest.fail(uid)).vids)  # fmt: skip


# -- channel home ------------------------------------------------------------------------------
async def test_channel_home_ships_its_figures_only_in_a_script_payload(replica: Replica) -> None:
    truth, now = replica.truth, replica.clock.now()
    found = max((truth.channel(u, now) for u in truth.channel_uids()), key=lambda c: c.plays)
    assert found.plays_text.endswith("亿")  # 10^8 and up: the huge video's channel
    for url in (home(found.uid), f"http://i.youku.test/i/{found.uid}"):
        status, _, body = await get(replica, url)
        assert status == 200
        html = body.decode()
        plain = Selector(html)
        text = "".join(plain.xpath("//body//text()[not(ancestor::script)]").getall())
        assert not plain.css("span.num, h1.channel-name") and found.plays_text not in text
        head = Selector(title_payload(html)).css("div.channel-head")
        assert head.css("h1.channel-name::text").get() == found.name
        assert head.css("img.channel-avatar::attr(src)").get() == found.avatar_url[5:]
        assert figures(head) == expected_figures(found)
        assert list(figures(head)) == ["粉丝", "视频", "播放"]
    for unknown in ("UMTIzNDU2Nzg5==", "UMTIzNDU2Nzg5/videos", "nope"):
        assert (await get(replica, f"http://i.youku.test/i/{unknown}"))[0] == 404


async def test_rendered_channel_home_has_the_figures(browser: Browser, replica: Replica) -> None:
    truth, now = replica.truth, replica.clock.now()
    found = biggest(truth, now)
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(home(found.uid))
        await page.wait_for_selector("div.channel-head ul.channel-stats li span.num")
        rendered = Selector(await page.content())
        head = rendered.css("code#bpmodule-channel-head-code > div.channel-head")
    finally:
        await context.close()
    assert head.css("h1.channel-name::text").get() == found.name
    assert figures(head) == expected_figures(found)


async def test_avatar_is_a_square_jpeg(replica: Replica) -> None:
    found = biggest(replica.truth, replica.clock.now())
    status, headers, body = await get(replica, found.avatar_url)
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body)).size == (100, 100)
    assert (await get(replica, "http://static.youku.test/avatar/123?w=100"))[0] == 404


# -- the video list ----------------------------------------------------------------------------
async def test_channel_videos_paginate_newest_first(replica: Replica) -> None:
    truth, now = replica.truth, replica.clock.now()
    found = biggest(truth, now)
    assert found.videos > 2 * CHANNEL_PAGE_SIZE
    url: str | None = videos_url(found.uid)
    seen: list[str] = []
    pages = 0
    while url:
        sel = await page_sel(replica, url)
        cards = sel.css("ul.channel-videos > li.vcard")
        pages += 1
        assert sel.css("span.current::text").get() == str(pages)
        for card in cards:
            href = card.css("a.vcard-link::attr(href)").get("")
            vid = re.fullmatch(r"//v\.youku\.test/v_show/id_(X[A-Za-z0-9+/]+)==\.html", href)
            assert vid, href
            tv = truth.video(vid[1])
            assert card.css("a.vcard-link::attr(title)").get() == tv.title
            assert card.css("span.vcard-time::text").get() == tv.duration_text
            assert card.css("span.vcard-pub::text").get() == tv.published_date
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", tv.published_date)
            assert card.css("span.vcard-plays::text").get() == truth.views_text(tv.vid, now)
            seen.append(tv.vid)
        nxt = sel.css('div.LPageBar span.next > a[title="下一页"]::attr(href)').get()
        assert (nxt is None) == (len(cards) < CHANNEL_PAGE_SIZE or len(seen) == found.videos)
        url = f"http:{nxt}" if nxt else None
    assert seen == list(found.vids) and pages == -(-found.videos // CHANNEL_PAGE_SIZE)
    with_padding = f"http://i.youku.test/i/{found.uid}==/videos"
    for same in (videos_url(found.uid, 1), videos_url(found.uid) + "?page=x", with_padding):
        got = (await page_sel(replica, same)).css("a.vcard-link::attr(href)").getall()
        assert len(got) == CHANNEL_PAGE_SIZE and got[0].endswith(f"{found.vids[0]}==.html")
    past = await page_sel(replica, videos_url(found.uid, pages + 1))
    assert not past.css("li.vcard") and not past.css("span.next")
    assert past.css("div.channel-empty::text").get() == "暂无视频"
    assert (await get(replica, videos_url("UMTIzNDU2Nzg5")))[0] == 404


# -- publication over the clock --------------------------------------------------------------
async def test_a_video_exists_only_from_its_publication_on(make_replica: MakeReplica) -> None:
    async with make_replica(**FROZEN) as rep:
        truth, t0 = rep.truth, rep.clock.now()
        for listed in (True, False):
            vid = first_published(truth, rep.clock.now(), listed=listed)
            tv = truth.video(vid)
            rep.clock.set(tv.published - 1)
            assert not await shown_everywhere(rep, vid, expected=False)
            rep.clock.set(tv.published)
            assert await shown_everywhere(rep, vid, expected=True)
        assert rep.clock.now() > t0


async def shown_everywhere(rep: Replica, vid: str, *, expected: bool) -> bool:
    """Whether ``vid`` is out: its pages, APIs, channel list and catalogue agree on it."""
    truth, now = rep.truth, rep.clock.now()
    tv = truth.video(vid)
    page = await get(rep, tv.url)
    upsd = (await ups(rep, vid))["data"]
    comments = await comment_page(rep, vid, 1)
    thumb = await get(rep, tv.thumb_url)
    segment = await get(rep, segment_url(tv, tv.segments[0], int(time.time())))
    sel = await page_sel(rep, videos_url(tv.channel_uid))
    top = sel.css("li.vcard a.vcard-link::attr(href)").get("")
    head = Selector(title_payload((await get(rep, home(tv.channel_uid)))[2].decode()))
    channel = truth.channel(tv.channel_uid, now)
    assert channel is not None and figures(head) == expected_figures(channel)
    out = [
        page[0] == 200,
        "error" not in upsd,
        comments["code"] == 0,
        thumb[0] == 200,
        segment[0] == 200 and hashlib.sha256(segment[2]).hexdigest() == tv.segments[0].sha256,
        top.endswith(f"{vid}==.html"),
        channel.vids[:1] == (vid,),
    ]
    if tv.category is not None:
        catalogue = await page_sel(rep, f"http://news.youku.test/index/{tv.category}")
        first_card = catalogue.css("div.v-link > a::attr(href)").get("")
        out.append(first_card.endswith(f"{vid}==.html"))
        out.append(truth.page_vids(tv.category, 1, now)[:1] == [vid])
    else:
        assert all(vid not in truth.catalogue(s, now) for s in truth.categories)
    assert out == [expected] * len(out), out
    if not expected:
        assert upsd["error"]["code"] == -6001 and page[0] == 404
    return expected


async def test_followers_and_plays_grow_with_the_clock(make_replica: MakeReplica) -> None:
    async with make_replica(**FROZEN) as rep:
        truth = rep.truth
        uid = biggest(truth, rep.clock.now()).uid
        seen = []
        for step in range(4):
            if step:
                rep.clock.advance(DAY / 2)
            found = truth.channel(uid, rep.clock.now())
            assert found is not None
            head = Selector(title_payload((await get(rep, home(uid)))[2].decode()))
            assert figures(head) == expected_figures(found)
            seen.append((found.followers, found.plays, found.videos))
        for before, after in itertools.pairwise(seen):
            assert after[0] > before[0] and after[1] > before[1] and after[2] >= before[2]
        again = Truth(rep.config).channel(uid, rep.clock.now())
        assert again == truth.channel(uid, rep.clock.now())


async def test_frozen_replica_keeps_catalogue_and_channels(make_replica: MakeReplica) -> None:
    async with make_replica(publication=False, **FROZEN) as rep:
        truth, t0 = rep.truth, rep.clock.now()
        uid = biggest(truth, t0).uid
        before = await page_sel(rep, "http://news.youku.test/index/jrrm")
        vids_before = truth.channel(uid, t0)
        rep.clock.advance(10 * DAY)
        after = await page_sel(rep, "http://news.youku.test/index/jrrm")
        hrefs = "div.v-link > a::attr(href)"
        assert before.css(hrefs).getall() == after.css(hrefs).getall()
        found = truth.channel(uid, rep.clock.now())
        assert vids_before and found and found.vids == vids_before.vids
        assert found.followers > vids_before.followers


def test_command_line_replica_takes_the_channel_knobs() -> None:
    config = parse(["--publication", "off", "--channel-videos", "2"])
    assert (config.publication, config.channel_videos) == (False, 2)
    assert (parse([]).publication, parse([]).channel_videos) == (True, 6)


# -- videos outside every catalogue ----------------------------------------------------------
async def test_off_catalogue_videos_play_and_have_comments(replica: Replica) -> None:
    truth, now = replica.truth, replica.clock.now()
    vid = next(
        v for uid in truth.channel_uids() for v in (truth.channel(uid, now) or pytest.fail()).vids
        if truth.video(v).category is None and truth.video(v).status == "ok"
        and truth.comment_counts(v, now)[0] > 0
    )  # fmt: skip
    tv = truth.video(vid)
    html = (await get(replica, tv.url))[2].decode()
    assert f"videoId2: '{vid}=='" in html and "catId: '91', catName: '资讯'" in html
    assert Selector(title_payload(html)).css("span#subtitle::attr(title)").get() == tv.subtitle
    data = (await ups(replica, vid))["data"]
    assert data["video"]["encodeid"] == f"{vid}==" and data["uploader"]["uid"] == tv.channel_uid
    assert [s["stream_type"] for s in data["stream"]] == [s.stream_type for s in tv.streams]
    comments = (await comment_page(replica, vid, 1))["data"]
    assert comments["totalSize"] == truth.comment_counts(vid, now)[1]
    assert truth.find(str(tv.numeric_id)) == tv and encode_vid(tv.numeric_id) == vid


# -- redesign --------------------------------------------------------------------------------------
async def test_redesigns_rename_channel_markup_not_data(make_replica: MakeReplica) -> None:
    async with make_replica(**FROZEN) as rep:
        now = rep.clock.now()
        found = biggest(rep.truth, now)
        vids = list(found.vids[:CHANNEL_PAGE_SIZE])
        want = [found.followers_text, found.videos_text, found.plays_text]
        for name, read_head, read_list in (
            ("redesign", _redesign_head, _redesign_list),
            ("redesign2", _redesign2_head, _redesign2_list),
        ):
            rep.layout = name
            html = (await get(rep, home(found.uid)))[2].decode()
            head = Selector(title_payload(html))
            assert not head.css(".channel-head, .channel-stats, span.num")
            assert read_head(head) == (found.name, want)
            sel = await page_sel(rep, videos_url(found.uid))
            assert not sel.css("ul.channel-videos, li.vcard, div.LPageBar")
            assert read_list(sel) == [
                (v, rep.truth.video(v).title, rep.truth.video(v).published_date) for v in vids
            ]


def _redesign_head(head: Selector) -> tuple[str, list[str]]:
    counts = head.css(".uploader__stat::attr(data-count)").getall()
    return head.css("h1.uploader__name::text").get(""), counts


def _redesign_list(sel: Selector) -> list[tuple[str, str, str]]:
    return [
        (li.attrib["data-vid"], li.css("a.upload__link::text").get(""),
         li.css("time.upload__date::attr(datetime)").get(""))
        for li in sel.css("ol.uploads__list > li.upload")
    ]  # fmt: skip


def _redesign2_head(head: Selector) -> tuple[str, list[str]]:
    dds = head.css("dl.owner-card-figures dd::text").getall()
    counts = [re.sub(r"[人个次]$", "", d) for d in dds]
    return head.css("h2.owner-card-title::text").get(""), counts


def _redesign2_list(sel: Selector) -> list[tuple[str, str, str]]:
    out = []
    for clip in sel.css("article.up-clip"):
        href = clip.css("h4 a::attr(href)").get("")
        vid = href.removeprefix("//v.youku.test/v_show/id_").removesuffix("==.html")
        date = clip.css("span.up-clip-date::text").get("").removeprefix("发布于 ")
        out.append((vid, clip.css("h4 a::text").get(""), date))
    return out
