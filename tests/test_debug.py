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
async def test_debug_saves_screenshot_trace_and_overlays(replica: Any, tmp_path: Path) -> None:
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
