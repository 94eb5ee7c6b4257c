"""The crawl's own DevTools pipe to Chromium: launch, commands, and a page or browser
that goes away under a command."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest

from scraper.browser.chromium import Browser
from scraper.browser.launch import sweep_profiles
from scraper.browser.memory import chromium_pids
from scraper.browser.options import BrowserOptions
from scraper.browser.pool import TabPool
from scraper.config import DEFAULT_CHROMIUM_ARGS, HEADLESS_SHELL, parse_resolve
from scraper.errors import BrowserError, PageLost
from scraper.progress import Count

from .conftest import CHROMIUM


def options(rep: Any | None = None, **changes: Any) -> BrowserOptions:
    resolve = parse_resolve([rep.resolve]) if rep is not None else ()
    return BrowserOptions(executable=CHROMIUM, args=DEFAULT_CHROMIUM_ARGS, resolve=resolve,
                          **changes)


def renderers(marker: str) -> list[psutil.Process]:
    found = []
    for pid in chromium_pids(marker):
        try:
            if "--type=renderer" in psutil.Process(pid).cmdline():
                found.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return found


async def test_a_visit_reads_the_page_status_url_and_dom(make_replica: Any) -> None:
    async with make_replica(videos=15, faults=False, publication=False) as rep, \
            Browser(options(rep, user_agent="scraper-test/1")) as browser:
        pool = TabPool(browser, 1)
        vid = rep.truth.categories["jrrm"][0]
        truth = rep.truth.video(vid)
        async with pool.tab() as tab:
            visit = await tab.visit(truth.url)
            assert (visit.status, visit.url) == (200, truth.url)
            assert truth.subtitle in await tab.html()
            assert await tab.evaluate("navigator.userAgent") == "scraper-test/1"
            await tab.evaluate("document.cookie = 'probe=yes; path=/'")
            assert (await tab.cookies(fresh=True))["probe"] == "yes"
            missing = await tab.visit(truth.url.replace(vid, "XNOPE0000"))
            assert missing.status == 404
            assert truth.subtitle not in await tab.html()
            with pytest.raises(BrowserError, match="cannot run a script in the page: "
                                                   "ReferenceError"):
                await tab.evaluate("no_such_name + 1")
        await pool.close()


async def test_a_killed_renderer_loses_the_page_and_the_next_visit_opens_another(
    make_replica: Any
) -> None:
    async with make_replica(videos=15, faults=False, publication=False) as rep, \
            Browser(options(rep)) as browser:
        pool = TabPool(browser, 1)
        urls = [rep.truth.video(v).url for v in rep.truth.categories["jrrm"][:2]]
        async with pool.tab() as tab:
            await tab.visit(urls[0])
            assert browser.marker is not None
            for renderer in renderers(browser.marker):
                renderer.kill()
            with pytest.raises(PageLost):
                for _ in range(50):  # the crash reaches us a moment after the kill
                    await tab.html()
                    await asyncio.sleep(0.1)
            visit = await tab.visit(urls[1])
            assert visit.status == 200
            assert rep.truth.video(rep.truth.categories["jrrm"][1]).subtitle in await tab.html()
        assert browser.stats[Count.BROWSER_PAGE_CRASHES] == 1
        await pool.close()


async def test_a_dead_browser_fails_the_command_waiting_for_it(make_replica: Any) -> None:
    async with make_replica(videos=15, faults=False, publication=False) as rep, \
            Browser(options(rep, max_relaunches=0)) as browser:
        pool = TabPool(browser, 1)
        url = rep.truth.video(rep.truth.categories["jrrm"][0]).url
        async with pool.tab() as tab:
            await tab.visit(url)
            assert browser.marker is not None
            main = chromium_pids(browser.marker)[0]
            waiting = asyncio.ensure_future(tab.evaluate("new Promise(() => {})"))
            await asyncio.sleep(0.2)
            os.kill(main, signal.SIGKILL)
            with pytest.raises(PageLost):
                await asyncio.wait_for(waiting, 10)


async def test_a_chromium_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'error while loading shared libraries: libnss3.so'"
                      " >&2\nexit 127\n")
    broken.chmod(0o755)
    with pytest.raises(BrowserError) as raised:
        async with Browser(BrowserOptions(executable=str(broken), args=())):
            pass
    assert str(raised.value) == (f"cannot start Chromium at {broken}: error while loading "
                                 "shared libraries: libnss3.so")
    missing = tmp_path / "nowhere"
    with pytest.raises(BrowserError, match=r"cannot start Chromium at .*nowhere: No such file"):
        async with Browser(BrowserOptions(executable=str(missing), args=())):
            pass


def test_profiles_of_scrapers_that_were_killed_are_swept(tmp_path: Path) -> None:
    dead = tmp_path / "scraper-chromium-999999999-abc"
    ours = tmp_path / f"scraper-chromium-{os.getpid()}-def"
    other = tmp_path / "scraper-chromium-notapid"
    for profile in (dead, ours, other):
        (profile / "Default").mkdir(parents=True)
    assert sweep_profiles(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ours.name, other.name])


FULL_CHROMIUM = "/usr/lib/chromium/chromium"


@pytest.mark.parametrize("executable", [HEADLESS_SHELL, FULL_CHROMIUM])
async def test_a_page_s_dialogs_are_dismissed(executable: str) -> None:
    if not Path(executable).is_file():
        pytest.skip(f"no {executable}")
    page = "data:text/html,<script>alert('hi'); confirm('sure?')</script><p id=x>after</p>"
    async with Browser(BrowserOptions(executable=executable, args=DEFAULT_CHROMIUM_ARGS,
                                      timeout_s=5)) as browser:
        pool = TabPool(browser, 1)
        async with pool.tab() as tab:
            await tab.visit(page)
            assert '<p id="x">after</p>' in await tab.html()
        await pool.close()


def test_a_message_with_half_a_utf16_pair_is_read_and_garbage_is_skipped() -> None:
    from scraper.browser.cdp import _parse

    # JavaScript strings may hold half a surrogate pair (a title cut by slice()); Chromium
    # sends it escaped, which orjson refuses.
    raw = b'{"id": 1, "result": {"value": "a\\ud800b"}}'
    assert _parse(memoryview(raw)) == {"id": 1, "result": {"value": "a\ud800b"}}
    assert _parse(memoryview(b"not json")) is None
