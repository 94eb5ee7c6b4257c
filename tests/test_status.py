"""``scrape status``: what it says about channels (monitor jobs: tests/test_monitor.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from scraper.jobs.status import status_lines
from scraper.models import ChannelSnapshot
from scraper.store.sqlite import SqliteStore
from tests.test_store import T0, make_channel


async def test_status_counts_channels_snapshots_and_last_visits(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        assert await status_lines(store, T0) == [f"nothing scheduled in {store.description}"]
        later = T0 + timedelta(hours=2)
        await store.save_channel(make_channel("UMTIx"))
        await store.save_channel(make_channel("UMTIy", at=later, name="军事频道",
                                              followers_text="1.2亿", videos_text="15",
                                              plays_text="3"))
        for run in ("r1", "r2", "r3"):
            await store.add_channel_snapshot(ChannelSnapshot(uid="UMTIx", ts=T0, run_id=run))
        assert await status_lines(store, later) == [
            "channels: 2, 3 snapshots, last visit 2024-05-01 14:00 UTC",
            "  UMTIy 军事频道: 1.2亿 followers, 15 videos, 3 plays; last visit "
            "2024-05-01 14:00 UTC",
            "  UMTIx 中国新闻网: 2.3万 followers, 1,204 videos, 3.1亿 plays; last visit "
            "2024-05-01 12:00 UTC"]
