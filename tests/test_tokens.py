"""Recognising the site's own API requests and reading their tokens."""

from __future__ import annotations

import base64

from scraper.api.tokens import (
    CommentSign,
    SignJar,
    api_matcher,
    comment_sign_from_url,
    numeric_id,
    vid_forms,
)


def encode(number: int) -> str:
    return "X" + base64.b64encode(str(number * 4).encode()).decode().rstrip("=")


def test_vid_round_trip() -> None:
    vid = encode(891913010)
    assert vid == "XMzU2NzY1MjA0MA"
    assert numeric_id(vid) == 891913010
    assert numeric_id(vid + "==") == 891913010
    assert numeric_id("Xnot-base64!") is None
    assert vid_forms(vid) == {vid, vid + "==", "891913010"}


def test_matcher_needs_host_path_and_video() -> None:
    vid = encode(12345)
    match = api_matcher("ups.youku.test", "/ups/get.json", vid=vid, vid_params=("vid",))
    assert match(f"http://ups.youku.test/ups/get.json?vid={vid}%3D%3D&ckey=1")
    assert match("http://ups.youku.test/ups/get.json?vid=12345")
    assert not match(f"http://ups.youku.test/ups/get.json?vid={encode(999)}")
    assert not match(f"http://other.test/ups/get.json?vid={vid}")
    page1 = api_matcher("c.test", "/list", vid=vid, vid_params=("objectId",),
                        extra={"currentPage": "1"})
    assert page1(f"http://c.test/list?objectId={vid}&currentPage=1")
    assert not page1(f"http://c.test/list?objectId={vid}&currentPage=2")


def test_matcher_glob_lets_the_browser_hold_only_its_host_and_path() -> None:
    match = api_matcher("ups.youku.test", "/ups/get.json", vid=encode(1), vid_params=("vid",))
    assert match.url_glob == "*//ups.youku.test*/ups/get.json*"
    odd = api_matcher("a.test", "/x*y?z", vid=encode(1), vid_params=("vid",))
    assert odd.url_glob == "*//a.test*/x\\*y\\?z*"


def test_sign_read_from_request_and_kept_fresh() -> None:
    sign = comment_sign_from_url("http://c.test/l?app=1&sign=abc&time=1700000000")
    assert sign is not None and (sign.sign, sign.time) == ("abc", "1700000000")
    assert comment_sign_from_url("http://c.test/l?app=1") is None
    jar = SignJar()
    jar.offer(sign)
    assert jar.current() is sign
    stale = CommentSign("old", "1", captured_at=sign.captured_at - 1000)
    jar.offer(stale)
    assert jar.current() is sign
    jar.discard(sign)
    assert jar.current() is None
