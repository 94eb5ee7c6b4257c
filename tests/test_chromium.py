"""Surviving the browser: a killed Chromium or renderer, a hung page, memory recycling, a
full disk and videos that fail for good, against the replica and its ground truth."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from scraper.config import Settings, parse_resolve
from scraper.jobs.run import run_crawl
from scraper.store.target import open_store
from tests.conftest import CHROMIUM, tiny_tmpfs
from tests.test_cli import (
    SCRAPE,
    check_against_truth,
    run_args,
    scrape,
    stored_videos,
    wait_for_videos,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def settings_for(rep: Any, tmp: Path, **overrides: Any) -> Settings:
    base = Settings(
        store=str(tmp / "store"), media_dir=tmp / "media", resolve=parse_resolve([rep.resolve]),
        chromium=CHROMIUM, concurrency=3, backoff_base_s=0.02, backoff_max_s=0.2,
        worker_id="test-worker", no_media=True)
    return replace(base, **overrides)


async def check_fields(rep: Any, store_dir: str, vids: list[str]) -> None:
    truth, now = rep.truth, rep.clock.now()
    async with open_store(store_dir) as store:
        videos = {d["_id"]: d async for d in store.iter_docs("videos")}
    assert sorted(videos) == sorted(vids)
    for vid in vids:
        tv, doc = truth.video(vid), videos[vid]
        assert (doc["title"], doc["subtitle"], doc["channel_name"], doc["channel_link"]) == (
            tv.title, tv.subtitle, tv.channel_name, tv.channel_link)
        assert doc["stat_play_text"] == truth.views_text(vid, now)
        assert doc["comment_total"] == truth.comment_counts(vid, now)[1]


def chromium_processes(root: int) -> list[tuple[psutil.Process, list[str]]]:
    """Live Chromium descendants of ``root`` with their command lines (a browser killed
    earlier may linger as a zombie until the driver reaps it)."""
    found = []
    for proc in psutil.Process(root).children(recursive=True):
        try:
            if "chrom" in proc.name().lower() and proc.status() != psutil.STATUS_ZOMBIE:
                found.append((proc, proc.cmdline()))
        except psutil.Error:
            continue
    return found


def browser_process(root: int) -> psutil.Process:
    """Chromium's browser process: the chromium descendant of the driver with no --type."""
    found = [p for p, args in chromium_processes(root)
             if not any(a.startswith("--type=") for a in args)]
    assert len(found) == 1, found
    return found[0]


def renderers(root: int) -> list[psutil.Process]:
    return [p for p, args in chromium_processes(root) if "--type=renderer" in args]


async def kill_during_run(replica: Any, tmp_path: Path, victims: Any) -> tuple[int, str]:
    args = run_args(replica, tmp_path, "--max-videos", "40")
    proc = await asyncio.create_subprocess_exec(
        SCRAPE, *args, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "MONGODB_URI": ""})
    await wait_for_videos(tmp_path / "store", 8)
    killed = victims(proc.pid)
    assert killed
    for victim in killed:
        victim.kill()
    assert await stored_videos(tmp_path / "store") < 40
    _, err = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_killed_browser_is_relaunched_and_the_run_is_exact(
    replica: Any, tmp_path: Path
) -> None:
    rc, err = await kill_during_run(replica, tmp_path, lambda pid: [browser_process(pid)])
    assert rc == 0, err
    assert "browser:   1 relaunches" in err
    await check_against_truth(replica, tmp_path / "store", replica.truth.categories["jrrm"][:40])


async def test_killed_renderer_pages_are_retried_and_the_run_is_exact(
    replica: Any, tmp_path: Path
) -> None:
    rc, err = await kill_during_run(replica, tmp_path, renderers)
    assert rc == 0, err
    assert "browser:   0 relaunches" in err
    crashes = int(err.split("relaunches, ")[1].split(" page crashes")[0])
    assert crashes >= 1, err
    await check_against_truth(replica, tmp_path / "store", replica.truth.categories["jrrm"][:40])


async def test_a_hung_page_is_retried_after_its_deadline(
    make_replica: Any, tmp_path: Path
) -> None:
    async with make_replica(videos=30, seed=3, faults=False, hang_s=120) as rep:
        vids = rep.truth.categories["jrrm"][:6]
        rep.faults._page_faults[vids[2]] = "hang"
        outcome = await run_crawl(settings_for(rep, tmp_path, max_videos=6, page_timeout_s=4))
        assert rep.faults.counts["page_hang"] == 1
        assert outcome.stats["browser.page_timeouts"] == 1
        assert outcome.stats["videos.failed"] == 0
        await check_fields(rep, str(tmp_path / "store"), vids)


async def test_a_low_memory_limit_recycles_chromium(make_replica: Any, tmp_path: Path) -> None:
    async with make_replica(videos=45, seed=4, faults=False) as rep:
        settings = settings_for(rep, tmp_path, max_videos=30, browser_memory_mb=1)
        outcome = await run_crawl(settings)
        assert outcome.stats["browser.recycles"] >= 1
        assert outcome.stats["browser.relaunches"] == 0
        assert outcome.stats["videos.failed"] == 0
        await check_fields(rep, settings.store, rep.truth.categories["jrrm"][:30])


async def test_videos_failing_for_good_give_exit_6_and_are_retried_once(
    make_replica: Any, tmp_path: Path
) -> None:
    async with make_replica(videos=30, seed=5, faults=False) as rep:
        vids = rep.truth.categories["jrrm"][:10]
        for vid in vids[3:5]:
            rep.faults._page_faults[vid] = "500"
        args = run_args(rep, tmp_path, "--max-videos", "10", "--no-media")
        rc, _, err = await scrape(*args, cwd=tmp_path)
        assert rc == 6, err
        assert "Stored 8 videos, 2 failed (2 FetchError" in err
        rc, _, err = await scrape(*args, cwd=tmp_path)  # the retry round: the same 2 only
        assert rc == 1, err  # nothing this time could be crawled
        assert "Stored 0 videos, 2 failed" in err
        async with open_store(str(tmp_path / "store")) as store:
            runs = [d async for d in store.iter_docs("runs")]
        assert [r["status"] for r in runs] == ["finished"]
        del rep.faults._page_faults[vids[3]], rep.faults._page_faults[vids[4]]
        rc, _, err = await scrape(*args, cwd=tmp_path)  # a new run, all well
        assert rc == 0, err
        await check_fields(rep, str(tmp_path / "store"), vids)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KB tmpfs as the media directory; the test grows it to free space."""
    with tiny_tmpfs(tmp_path / "media") as where:
        yield where


async def test_a_full_disk_stops_with_one_line_and_resumes_exact(
    replica: Any, tmp_path: Path, tiny_disk: Path
) -> None:
    args = run_args(replica, tmp_path, "--max-videos", "40")
    rc, _, err = await scrape(*args, cwd=tmp_path)
    assert rc == 7, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("scrape: error: no space left in the media directory ")
    assert str(tiny_disk) in last
    assert list(tiny_disk.rglob("*.part")), "partial files are kept for the resume"
    await check_complete_files(replica, tmp_path / "store")
    grown = await asyncio.create_subprocess_exec("mount", "-o", "remount,size=64m", str(tiny_disk))
    assert await grown.wait() == 0
    rc, _, err = await scrape(*args, cwd=tmp_path)
    assert rc == 0, err
    await check_against_truth(replica, tmp_path / "store", replica.truth.categories["jrrm"][:40])
    await check_complete_files(replica, tmp_path / "store")


async def check_complete_files(replica: Any, store_dir: Path) -> None:
    """Every segment recorded ok has its whole file on disk."""
    async with open_store(str(store_dir)) as store:
        async for doc in store.iter_docs("videos"):
            sizes = {s.index: s.size for s in replica.truth.video(doc["_id"]).segments}
            for seg in doc["segments"]:
                if seg["status"] == "ok":
                    assert Path(seg["path"]).stat().st_size == sizes[seg["index"]], seg
