"""Tiers: parsing ``--tiers``, growth, the tier a video lands in and its next visit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scraper.errors import ConfigError
from scraper.jobs.tiers import (
    choose_tier,
    format_duration,
    growth_per_hour,
    next_due,
    parse_interval,
    parse_tiers,
)
from scraper.models import Observation, Tier

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HOT, WARM, COLD = (Tier(name="hot", interval_s=3600, min_rate=1000),
                   Tier(name="warm", interval_s=6 * 3600, min_rate=100),
                   Tier(name="cold", interval_s=86400))
TIERS = (HOT, WARM, COLD)
DAY = 86400.0


def seen(*plays: int | None, every_h: float = 1.0) -> list[Observation]:
    return [Observation(at=T0 + timedelta(hours=i * every_h), stat_play=p)
            for i, p in enumerate(plays)]


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90), ("45s", 45), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("7d", 7 * DAY),
    ("0s", 0), ("1.5h", 5400), (" 2D ", 2 * DAY),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "5x", "1h 30m", "-1h", "1h-", "one"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^bad --for .*: use a number with s, m, h or d"):
        parse_interval(text, what="--for")


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.4, "0s"), (59, "59s"), (3600, "1h"), (5400, "1h30m"), (3661, "1h1m"),
    (90061, "1d1h"), (7 * DAY, "7d"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_parse_tiers_takes_default_thresholds_by_position() -> None:
    assert parse_tiers("hot:1h,warm:6h,cold:24h", default_rates=(1000, 100)) == TIERS
    assert parse_tiers("hot:1h@5000, cold:1d", default_rates=(1000, 100)) == (
        Tier(name="hot", interval_s=3600, min_rate=5000), COLD)
    assert parse_tiers("all:0s") == (Tier(name="all", interval_s=0, min_rate=0),)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty --tiers"),
    ("hot", "bad --tiers item 'hot': expected NAME:INTERVAL"),
    ("hot:1h,,cold:1d", "bad --tiers item '': expected"),
    ("1hot:1h,cold:1d", "bad --tiers item '1hot:1h'"),
    ("hot:1x,cold:1d", "bad --tiers interval for 'hot' '1x'"),
    ("hot:1h@fast,cold:1d", "bad --tiers threshold 'fast' for 'hot'"),
    ("hot:1h@0,cold:1d", "must be above 0"),
    ("hot:1h,cold:1d@5", "the last tier ('cold') takes every video left"),
    ("a:1h,b:2h,c:3h,d:4h", "no default threshold for tier 'c'"),
    ("hot:1h,hot:1d", "--tiers names 'hot' twice"),
    ("hot:1h@10,warm:6h@100,cold:1d", "'warm' (100/h) is not below 'hot' (10/h)"),
    ("hot:6h,cold:1h", "'cold' (1h) would be visited more often than 'hot' (6h)"),
])
def test_parse_tiers_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_tiers(text, default_rates=(1000, 100))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_growth_per_hour() -> None:
    assert growth_per_hour([]) is None
    assert growth_per_hour(seen(100)) is None
    assert growth_per_hour(seen(100, 2100, every_h=2)) == 1000
    assert growth_per_hour(seen(5, 100, 1100)) == 1000  # the last two only
    assert growth_per_hour(seen(100, None)) is None
    same_time = [Observation(at=T0, stat_play=1), Observation(at=T0, stat_play=9)]
    assert growth_per_hour(same_time) is None


def test_choose_tier_by_growth() -> None:
    young = {"age_s": 3600.0, "cold_after_s": 3 * DAY}
    assert choose_tier(TIERS, seen(0, 1000), **young) == HOT
    assert choose_tier(TIERS, seen(0, 999), **young) == WARM
    assert choose_tier(TIERS, seen(0, 100), **young) == WARM
    assert choose_tier(TIERS, seen(0, 99), **young) == COLD
    assert choose_tier(TIERS, seen(500, 500), **young) == COLD


def test_a_video_without_growth_yet_is_hot_and_an_old_one_cold() -> None:
    assert choose_tier(TIERS, [], age_s=0, cold_after_s=DAY) == HOT
    assert choose_tier(TIERS, seen(7), age_s=0, cold_after_s=DAY) == HOT
    assert choose_tier(TIERS, seen(0, 10**6), age_s=DAY, cold_after_s=DAY) == COLD
    assert choose_tier(TIERS, [], age_s=2 * DAY, cold_after_s=DAY) == COLD


def test_a_video_moves_between_tiers_as_it_cools() -> None:
    plays = [0, 5000, 9000, 9500, 9800, 9850]
    tiers = [choose_tier(TIERS, seen(*plays[: i + 1]), age_s=i * 3600, cold_after_s=3 * DAY).name
             for i in range(len(plays))]
    assert tiers == ["hot", "hot", "hot", "warm", "warm", "cold"]


def test_next_due_spreads_visits_by_the_jitter() -> None:
    dues = [next_due(3600, T0, key=f"v{i}", jitter=0.1) for i in range(200)]
    offsets = [(due - T0).total_seconds() for due in dues]
    assert all(3240 <= s <= 3960 for s in offsets)
    assert max(offsets) - min(offsets) > 500  # spread, not bunched
    assert len(set(offsets)) > 190
    assert next_due(3600, T0, key="v1", jitter=0.1) == dues[1]  # the same for a redone visit
    assert next_due(3600, T0, key="v1", jitter=0.0) == T0 + timedelta(hours=1)


def test_a_visit_is_never_due_again_at_the_same_instant() -> None:
    assert next_due(0, T0, key="v", jitter=0.1) > T0
    assert next_due(0, T0, key="v", jitter=0.1) - T0 <= timedelta(milliseconds=1)
