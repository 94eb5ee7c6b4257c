"""`scrape debug`: a headed page with labelled overlays, a screenshot and a trace."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scraper.store.target import open_store

pytestmark = [pytest.mark.browser]

SCRAPE = str(Path(sys.executable).parent / "scrape")


async def run(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (Debian xvfb)")
async def test_debug_saves_screenshot_trace_and_overlays(make_replica: Any, tmp_path: Path
                                                          ) -> None:
    # Without faults: a missing channel link would leave its fields nothing to outline.
    async with make_replica(videos=15, faults=False, publication=False) as replica:
        await _debug_saves_screenshot_trace_and_overlays(replica, tmp_path)


async def _debug_saves_screenshot_trace_and_overlays(replica: Any, tmp_path: Path) -> None:
    vid = replica.truth.categories["jrrm"][0]
    url = f"http://v.youku.test/v_show/id_{vid}==.html"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    rc, out, err = await run("xvfb-run", "-a", SCRAPE, "debug", url, "--resolve", replica.resolve,
                             "--out", str(tmp_path / "dbg"), cwd=tmp_path, env=env)
    assert rc == 0, err
    truth = replica.truth.video(vid)
    assert f"video.subtitle        {truth.subtitle!r}" in out
    overlays = next(line for line in out.splitlines() if line.startswith("overlays: "))
    assert {"subtitle", "channel_name", "channel_link"} <= set(overlays[10:].split(", "))
    shot = (tmp_path / "dbg" / "page.png").read_bytes()
    assert shot.startswith(b"\x89PNG")
    with zipfile.ZipFile(tmp_path / "dbg" / "trace.zip") as trace:
        text = b"".join(trace.read(n) for n in trace.namelist() if n.endswith(".trace"))
    assert b"data-scraper-label" in text


async def test_debug_without_display_says_how(replica: Any, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    rc, _, err = await run(SCRAPE, "debug", "http://v.youku.test/v_show/id_X==.html",
                           "--resolve", replica.resolve, cwd=tmp_path, env=env)
    assert rc == 2
    assert err.strip().splitlines()[-1].startswith("scrape: error: ")
    assert "xvfb-run" in err and "Traceback" not in err


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (Debian xvfb)")
async def test_headed_run_under_xvfb(replica: Any, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    rc, _, err = await run("xvfb-run", "-a", SCRAPE, "-q", "run", "--headed", "--slow-mo", "10",
                           "--max-videos", "3", "--no-media", "--resolve", replica.resolve,
                           "--store", str(tmp_path / "store"), cwd=tmp_path, env=env)
    assert rc == 0, err
    assert "Stored 3 videos" in err
    async with open_store(str(tmp_path / "store")) as store:
        assert await store.count("videos") == 3


def _overlapping(boxes: list[tuple[str, float, float, float, float]]) -> list[tuple[str, str]]:
    return [(a[0], b[0]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a[1] < b[1] + b[3] and b[1] < a[1] + a[3] and a[2] < b[2] + b[4]
            and b[2] < a[2] + a[4]]


@pytest.mark.parametrize("page", ["catalogue", "video"])
async def test_labels_of_neighbouring_fields_do_not_overlap(
    chromium_path: str, make_replica: Any, tmp_path: Path, page: str
) -> None:
    # A replica of its own without faults: the session replica's random
    # missing_channel_link would drop the very fields whose labels clash.
    async with make_replica(videos=15, faults=False, publication=False) as replica:
        await _labels_do_not_overlap(chromium_path, replica, tmp_path, page)


async def _labels_do_not_overlap(chromium_path: str, replica: Any, tmp_path: Path,
                                 page: str) -> None:
    from scraper.browser.inspection import inspect
    from scraper.browser.options import BrowserOptions
    from scraper.config import DEFAULT_CHROMIUM_ARGS, parse_resolve
    from scraper.debug import outline, page_types_for
    from scraper.site.profile import load_profile
    from scraper.site.selector_files import load_selectors

    profile = load_profile("youku-replica", selectors_dir=None)
    vid = replica.truth.categories["jrrm"][0]
    url = profile.absolute(f"//v.youku.test/v_show/id_{vid}==.html" if page == "video"
                           else "//news.youku.test/index/jrrm")
    options = BrowserOptions(executable=chromium_path, args=DEFAULT_CHROMIUM_ARGS,
                             resolve=parse_resolve([replica.resolve]))
    async with inspect(options, url, trace=tmp_path / "t.zip") as shown:
        for n, kind in enumerate(page_types_for(profile, url)):
            await outline(shown, load_selectors(profile, kind)[0], offset=n * 4)
        drawn = await shown.label_boxes()
        await shown.place_labels()
        placed = await shown.label_boxes()
    assert [label for label, *_ in placed] == [label for label, *_ in drawn]
    assert len(placed) >= 5
    # Fields of one element (a duration's text and seconds; a channel's name and link)
    # were drawn on top of each other.
    clash = ("duration_text", "duration_s") if page == "catalogue" else (
        "channel_name", "channel_link")
    assert clash in _overlapping(drawn)
    assert _overlapping(placed) == []
