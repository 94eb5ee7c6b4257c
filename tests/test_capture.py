"""The API replies a visit waits for, held by CDP Fetch in real Chromium and read there."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from scraper.api.comments import parse_comment_page
from scraper.api.play_info import parse_play_info
from scraper.api.tokens import api_matcher
from scraper.browser.chromium import Browser
from scraper.browser.frames import draws_on_demand
from scraper.browser.options import BrowserOptions, browser_options
from scraper.browser.pool import TabPool
from scraper.config import DEFAULT_CHROMIUM_ARGS, HEADLESS_SHELL, Settings, parse_resolve
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
                    # Held replies went on to the page's own scripts unchanged (which
                    # may read them a moment after the visit saw them).
                    got = await tab.evaluate(
                        "new Promise(done => { const look = (n) => {"
                        " const seen = [!!(window.__ups && window.__ups.data),"
                        " !!(window.ykComment && window.ykComment.data)];"
                        " if ((seen[0] && seen[1]) || n > 250) done(JSON.stringify(seen));"
                        " else setTimeout(() => look(n + 1), 20); }; look(0); })")
                    assert json.loads(str(got)) == [True, True]
                    assert truth.subtitle in await tab.html()
            await pool.close()



# A page whose content waits for frames: an animation frame inserts the title, an
# IntersectionObserver the channel link, and the API call is made from a frame too.
FRAME_PAGE = """<html><body><div id=box></div><script>
requestAnimationFrame(() => {
  document.getElementById('box').insertAdjacentHTML('beforeend', '<h1 id=t>by-frame</h1>');
  fetch('/api?vid=X1').then(r => r.text()).then(t => { window.__api = t; });
});
new IntersectionObserver(es => {
  if (es[0].isIntersecting) document.body.insertAdjacentHTML('beforeend', '<a id=io>seen</a>');
}).observe(document.getElementById('box'));
</script></body></html>"""


@pytest.mark.skipif(not Path(HEADLESS_SHELL).is_file(), reason="needs chromium-headless-shell")
async def test_content_that_waits_for_frames_is_read_when_chromium_draws_on_demand() -> None:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=FRAME_PAGE, content_type="text/html")

    async def api(request: web.Request) -> web.Response:
        return web.Response(text=f"reply for {request.query['vid']}")

    app = web.Application()
    app.add_routes([web.get("/", page), web.get("/api", api)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    matcher = api_matcher("frames.test", "/api", vid="X1", vid_params=("vid",))
    opts = BrowserOptions(executable=HEADLESS_SHELL, args=DEFAULT_CHROMIUM_ARGS,
                          resolve=parse_resolve([f"frames.test=127.0.0.1:{port}"]),
                          frames_on_demand=True)
    try:
        async with Browser(opts) as browser:
            pool = TabPool(browser, 2)

            async def visit() -> tuple[str, str]:
                async with pool.tab() as tab:
                    found = await tab.visit("http://frames.test/", capture={"api": matcher})
                    return found.captured["api"].body, await tab.html()

            for body, html in await asyncio.gather(visit(), visit()):
                assert body == "reply for X1"
                assert '<h1 id="t">by-frame</h1>' in html
                assert '<a id="io">seen</a>' in html
            await pool.close()
    finally:
        await runner.cleanup()


def test_only_the_headless_shell_headless_draws_on_demand() -> None:
    assert draws_on_demand("/usr/lib/chromium/chromium-headless-shell", headless=True)
    assert not draws_on_demand("/usr/lib/chromium/chromium-headless-shell", headless=False)
    assert not draws_on_demand("/usr/bin/chromium", headless=True)
    assert not draws_on_demand(None, headless=True)
    # Playwright's download names the shell with an underscore.
    assert draws_on_demand("/cache/chromium_headless_shell-1200/chrome-linux/headless_shell",
                           headless=True)
    shell = Settings(chromium="/usr/lib/chromium/chromium-headless-shell")
    assert browser_options(shell).frames_on_demand
    assert not browser_options(replace(shell, draw_frames=True)).frames_on_demand
    assert not browser_options(replace(shell, headed=True)).frames_on_demand
