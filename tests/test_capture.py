"""The API replies a visit waits for, held by CDP Fetch in real Chromium and read there."""

from __future__ import annotations

import json
from typing import Any

from scraper.api.comments import parse_comment_page
from scraper.api.play_info import parse_play_info
from scraper.api.tokens import api_matcher
from scraper.browser.chromium import Browser
from scraper.browser.options import BrowserOptions
from scraper.browser.pool import TabPool
from scraper.config import DEFAULT_CHROMIUM_ARGS, parse_resolve
from scraper.models import PlayInfo

from .conftest import CHROMIUM


def options(rep: Any) -> BrowserOptions:
    return BrowserOptions(executable=CHROMIUM, resolve=parse_resolve([rep.resolve]),
                          args=DEFAULT_CHROMIUM_ARGS)


def matchers(vid: str, *, comments_vid: str | None = None) -> dict[str, Any]:
    return {
        "ups": api_matcher("ups.youku.test", "/ups/get.json", vid=vid, vid_params=("vid",)),
        "comments": api_matcher("p.comments.youku.test", "/ycp/comment/pc/commentList",
                                vid=comments_vid or vid, vid_params=("objectId",),
                                extra={"currentPage": "1"}),
    }


async def test_replies_are_read_and_the_page_still_gets_them(make_replica: Any) -> None:
    async with make_replica(videos=15, faults=False, publication=False) as rep:
        vids = rep.truth.categories["jrrm"][:3]
        async with Browser(options(rep)) as browser:
            pool = TabPool(browser, 1)
            for n, vid in enumerate(vids):
                truth = rep.truth.video(vid)
                # The second visit wants the comments of another video: the glob holds
                # the reply, the matcher lets it go untouched.
                other = vids[0] if n == 1 else None
                async with pool.tab() as tab:
                    visit = await tab.visit(truth.url, capture=matchers(vid, comments_vid=other),
                                            wait_s=5 if other else None)
                    play = parse_play_info(visit.captured["ups"].body)
                    assert visit.captured["ups"].status == 200
                    assert isinstance(play, PlayInfo)
                    assert play.seconds == truth.duration_s
                    assert [s.fileid for s in play.segments] == [
                        s.fileid for s in truth.segments]
                    if other:
                        assert "comments" not in visit.captured
                    else:
                        page = parse_comment_page(visit.captured["comments"].body, vid=vid)
                        truth_ids = [c.id for c in rep.truth.comments(vid, rep.clock.now())]
                        assert [c.id for c in page.comments] == truth_ids[:len(page.comments)]
                        assert page.total_size == rep.truth.comment_counts(
                            vid, rep.clock.now())[1]
                    # Held replies went on to the page's own scripts unchanged.
                    got = await tab.evaluate(
                        "JSON.stringify([!!(window.__ups && window.__ups.data),"
                        " !!(window.ykComment && window.ykComment.data)])")
                    assert json.loads(str(got)) == [True, True]
                    assert truth.subtitle in await tab.html()
            await pool.close()

