"""Outcome counters: keys defined once, and the summary that reads them."""

from __future__ import annotations

import io

import pytest

from scraper.progress import (
    CATALOGUE_FAILED,
    Count,
    Reporter,
    Stats,
    failure_key,
    format_summary,
    video_key,
    visit_key,
)


def test_keys_are_defined_once_and_typos_fail() -> None:
    assert video_key("ok") is Count.VIDEOS_OK and visit_key("revisit") is Count.VISITS_REVISIT
    with pytest.raises(ValueError):
        video_key("okay")
    assert " " not in CATALOGUE_FAILED and CATALOGUE_FAILED.startswith("failed.")
    assert all(key.value == key.value.strip().lower() for key in Count)


def test_summary_names_the_channels_recorded_only_when_there_are_some() -> None:
    stats = Stats()
    stats.note(Count.VIDEOS_OK, n=3)
    assert "channels:" not in format_summary(stats, store="s", media=None, elapsed_s=1.0)
    for n in range(5):
        stats.note(Count.CHANNELS_RECORDED, f"频道{n} ({n}万 followers)")
    text = format_summary(stats, store="s", media=None, elapsed_s=1.0)
    assert ("  channels:  5 recorded with a snapshot: 频道0 (0万 followers); "
            "频道1 (1万 followers); 频道2 (2万 followers); 2 more") in text.splitlines()


def test_summary_counts_each_video_once_and_names_failures() -> None:
    stats = Stats()
    stats.note(Count.VIDEOS_OK, n=7)
    stats.note(Count.VIDEOS_UNAVAILABLE)
    stats.note(Count.VIDEOS_FAILED, n=2)
    stats.note(Count.VIDEOS_NEW, n=40)  # monitor bookkeeping: not a crawled video
    stats.note(failure_key("FetchError"), n=2)
    stats.note(CATALOGUE_FAILED, "http://news.youku.test/index/jrrm/_page2")
    text = format_summary(stats, store="s", media=None, elapsed_s=6.0)
    first = text.splitlines()[0]
    assert first.startswith("Stored 8 videos, 2 failed (2 FetchError;")
    assert "catalogue_page" not in first
    assert "  videos:    7 ok, 0 partial, 1 unavailable, 2 failed" in text


def test_a_terminal_gets_the_bar_and_anything_else_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = Stats()
    stats.note(Count.VIDEOS_OK, n=3)
    stats.note(Count.SEGMENTS_OK, n=5)
    terminal = io.StringIO()
    reporter = Reporter(stats, stream=terminal, live=True)
    reporter.total = 10
    with reporter.running():
        reporter.update()
    bar = terminal.getvalue()
    assert bar.startswith("videos ") and "3 ok  segments 5 ok/0 failed  comments 0" in bar
    pipe = io.StringIO()
    with caplog.at_level("INFO", logger="scraper.progress"), \
            Reporter(stats, stream=pipe, live=False).running() as quiet:
        quiet.update()
    assert pipe.getvalue() == ""
    assert any("videos 3  " in r.getMessage() for r in caplog.records)
