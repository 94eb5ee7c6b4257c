"""The monitor job in the store: a restart applies the flags given and keeps the rest."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scraper.config import Settings
from scraper.jobs.monitor_job import new_job, open_job, restarted
from scraper.jobs.tiers import parse_tiers
from scraper.site.load import load_site
from scraper.store.target import open_store
from tests.test_cli import scrape
from tests.test_monitor import JOB


async def test_restart_applies_new_flags_and_keeps_tracked_videos(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "store"))
    site = load_site(settings)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    rates = settings.tier_rates
    first = new_job(settings, site, tiers=parse_tiers("hot:1h,cold:1d", default_rates=rates),
                    now=now, tracked=["XAAA"])
    later = new_job(replace(settings, no_media=True), site,
                    tiers=parse_tiers("all:0s", default_rates=rates),
                    now=now + timedelta(hours=5), tracked=["XBBB"])
    async with open_store(settings.store) as store:
        await open_job(store, first, site, now=now)
        await open_job(store, later, site, now=now + timedelta(hours=5))
        saved = await store.get_doc("monitors", first.job)
    assert saved is not None
    assert saved["tracked"] == ["XBBB", "XAAA"]
    assert saved["no_media"] is True and [t["name"] for t in saved["tiers"]] == ["all"]
    assert saved["started"] == now


def test_a_restart_keeps_the_stored_options_not_given_again() -> None:
    settings = Settings(store="unused", pages=2, no_media=True, max_videos=9)
    site, now = load_site(settings), datetime(2026, 11, 1, tzinfo=UTC)
    rates = settings.tier_rates
    known = new_job(settings, site, tiers=parse_tiers("hot:1h,cold:1d", default_rates=rates),
                    now=now, until=now + timedelta(days=7), tracked=["XAAA"])
    later = new_job(Settings(store="unused"), site, now=now + timedelta(hours=5),
                    tiers=parse_tiers("hot:30m@500,cold:1d", default_rates=rates))
    job, note = restarted(known, later, given={"tiers", "max_videos"})
    assert [(t.name, t.interval_s, t.min_rate) for t in job.tiers] == [
        ("hot", 1800, 500), ("cold", 86400, 0)]
    assert (job.pages, job.no_media, job.until, job.max_videos) == (
        2, True, now + timedelta(days=7), None)
    assert (job.started, job.tracked) == (now, ["XAAA"])
    assert note == (f"restarting {JOB}: applied --tiers hot:30m@500,cold:1d, --max-videos none; "
                    "kept as stored: --for (until 2026-11-08 00:00 UTC), --pages 2, "
                    "--max-comments none, --no-media")
    same, note = restarted(known, known, given={"tiers"})
    assert same == known and note.startswith(f"restarting {JOB}: applied no changed option;")


async def test_restarting_the_command_applies_only_the_flags_given(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    first = ["monitor", "--enqueue-only", "--store", store, "--pages", "2", "--no-media",
             "--for", "7d", "--tiers", "hot:1h,cold:1d", "--track", "XAAA"]
    rc, _, err = await scrape(*first, cwd=tmp_path)
    assert rc == 0, err
    assert f"starting {JOB}" in err
    rc, _, err = await scrape("monitor", "--enqueue-only", "--store", store, "--tiers",
                              "all:0s", "--max-comments", "5", cwd=tmp_path)
    assert rc == 0, err
    assert (f"restarting {JOB}: applied --tiers all:0s, --max-comments 5; kept as stored: "
            "--for (until ") in err
    assert "--pages 2, --max-videos none, --no-media\n" in err
    async with open_store(store) as opened:
        saved = await opened.get_doc("monitors", JOB)
    assert saved is not None
    assert (saved["pages"], saved["no_media"], saved["max_comments"]) == (2, True, 5)
    assert [t["name"] for t in saved["tiers"]] == ["all"] and saved["until"] is not None
    assert saved["tracked"] == ["XAAA"]


async def test_a_restart_keeps_its_channels_and_schedules_each_once(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "store"), categories=())
    site, now = load_site(settings), datetime(2026, 11, 1, tzinfo=UTC)
    tiers, channel_tiers = parse_tiers("hot:1h@10,cold:1d"), parse_tiers("hot:2h@5,cold:2d")
    first = new_job(settings, site, tiers=tiers, now=now, channels=["UAAA", "UBBB"],
                    channel_tiers=channel_tiers)
    later = new_job(settings, site, tiers=tiers, now=now + timedelta(hours=1),
                    channels=["UCCC", "UAAA"], channel_tiers=parse_tiers("all:0s"))
    assert (first.job, first.catalogue) == ("monitor:youku-replica:channels", False)
    async with open_store(settings.store) as store:
        await open_job(store, first, site, now=now)
        opened = await open_job(store, later, site, now=now + timedelta(hours=1),
                                given={"tiers"})
        entries = [doc async for doc in store.iter_docs("schedule")]
    assert opened.job.channels == ["UCCC", "UAAA", "UBBB"]
    assert opened.job.channel_tiers == list(channel_tiers)  # --channel-tiers not given again
    assert "kept as stored:" in opened.note and "--channel-tiers hot:2h@5,cold:2d" in opened.note
    assert sorted((e["kind"], e["key"], e["tier"], e["due"]) for e in entries) == [
        ("channel", "UAAA", "hot", now), ("channel", "UBBB", "hot", now),
        ("channel", "UCCC", "hot", now + timedelta(hours=1))]  # no catalogue read


async def test_the_command_picks_the_job_from_category_and_channel(tmp_path: Path) -> None:
    """--channel alone: a job of channels; with --category: that category's job follows
    the channels too; neither: today-hot, as before channels."""
    store = str(tmp_path / "s.db")
    for args in (["--channel", "UMTIz=="], ["--category", "military", "--channel",
                                             "http://i.youku.test/i/UMTQ=="], []):
        rc, _, err = await scrape("-q", "monitor", *args, "--enqueue-only", "--store", store,
                                  cwd=tmp_path)
        assert rc == 0, err
    async with open_store(store) as opened:
        jobs = {doc["_id"]: (doc["catalogue"], doc["category"], doc["channels"])
                async for doc in opened.iter_docs("monitors")}
    assert jobs == {"monitor:youku-replica:channels": (False, "today-hot", ["UMTIz"]),
                    "monitor:youku-replica:jsqy": (True, "military", ["UMTQ"]),
                    "monitor:youku-replica:jrrm": (True, "today-hot", [])}
