"""Tiers: parsing ``--tiers``, growth, the tier a video lands in and its next visit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from scraper.errors import ConfigError
from scraper.jobs.tiers import (
    MAX_OBSERVATIONS,
    choose_tier,
    estimate_growth,
    format_duration,
    keep_observations,
    next_due,
    parse_interval,
    parse_tiers,
    tier_for,
)
from scraper.models import Observation, Tier
from scraper.site.convert import parse_count
from tests.fixtures.replica.wording import count_text

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HOT, WARM, COLD = (Tier(name="hot", interval_s=3600, min_rate=1000),
                   Tier(name="warm", interval_s=6 * 3600, min_rate=100),
                   Tier(name="cold", interval_s=86400))
TIERS = (HOT, WARM, COLD)
DAY = 86400.0


def seen(*plays: int | None, every_h: float = 1.0) -> list[Observation]:
    return [Observation(at=T0 + timedelta(hours=i * every_h), stat_play=p)
            for i, p in enumerate(plays)]


def shown(*texts: str, comments: tuple[int, ...] = ()) -> list[Observation]:
    """Hourly visits that saw these play counts (and comment totals)."""
    totals = list(comments) or [None] * len(texts)
    return [Observation(at=T0 + timedelta(hours=i), stat_play=parse_count(text),
                        stat_play_text=text, comment_total=c)
            for i, (text, c) in enumerate(zip(texts, totals, strict=True))]


def true_obs(views: int, hour: int) -> Observation:
    """A visit at ``hour`` to a video with ``views``, shown as the site rounds them."""
    text = count_text(views)
    return Observation(at=T0 + timedelta(hours=hour), stat_play=parse_count(text),
                       stat_play_text=text)


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


def test_two_visits_on_exact_counts_give_their_growth() -> None:
    assert estimate_growth([]) is None
    assert estimate_growth(seen(100)) is None
    assert estimate_growth(seen(100, None)) is None
    assert estimate_growth([Observation(at=T0, stat_play=1), Observation(at=T0, stat_play=9)]) \
        is None
    growth = estimate_growth(seen(100, 2100, every_h=2))
    assert growth is not None and growth.low <= 1000 <= growth.high
    assert growth.high - growth.low <= 1  # no text kept: counts taken as exact


def test_an_unchanged_rounded_count_is_less_than_a_step_not_zero() -> None:
    # 300 views/hour shown as 50.3万 -> 50.3万 -> 50.4万, hourly.
    two = estimate_growth(shown("50.3万", "50.3万"))
    assert two is not None and (two.low, two.high) == (0, 1000) and two.rate > 0
    three = estimate_growth(shown("50.3万", "50.3万", "50.4万"))
    assert three is not None and three.low == 0 and three.high == 1000
    assert three.low < 300 < three.high


def test_the_estimate_closes_in_on_a_slow_video_as_the_window_grows() -> None:
    observations: list[Observation] = []
    for hour in range(25):
        observations = keep_observations(observations, true_obs(503_400 + 300 * hour, hour))
    growth = estimate_growth(observations)
    assert growth is not None and growth.low <= 300 <= growth.high
    assert growth.high - growth.low < 100 and abs(growth.rate - 300) < 50
    assert len(observations) <= MAX_OBSERVATIONS


def test_a_big_fast_video_stays_hot_while_its_shown_count_stands_still() -> None:
    # 5,000 views/hour above 100万: the shown count (steps of 10,000) moves every 2 hours.
    texts, tiers, observations, cooling, tier = [], [], [], 0, "hot"
    for hour in range(24):
        obs = true_obs(1_043_000 + 5000 * hour, hour)
        texts.append(obs.stat_play_text)
        observations = keep_observations(observations, obs)
        growth = estimate_growth(observations)
        if growth is not None:
            assert growth.low <= 5000 <= growth.high, hour
        choice = choose_tier(TIERS, observations, current=tier, cooling=cooling, age_s=0,
                             cold_after_s=DAY)
        tier, cooling = choice.tier.name, choice.cooling
        tiers.append(tier)
    assert any(a == b for a, b in pairwise(texts))  # the last two visits often agree
    assert set(tiers) == {"hot"}


def test_a_slow_video_settles_in_one_tier_without_flapping() -> None:
    tiers, observations, cooling, tier = [], [], 0, "hot"
    for hour in range(48):
        observations = keep_observations(observations, true_obs(503_400 + 300 * hour, hour))
        choice = choose_tier(TIERS, observations, current=tier, cooling=cooling, age_s=0,
                             cold_after_s=3 * DAY)
        tier, cooling = choice.tier.name, choice.cooling
        tiers.append(tier)
    moves = sum(a != b for a, b in pairwise(tiers))
    assert tiers[-1] == "warm" and moves == 1, tiers


def test_a_big_slow_video_leaves_the_hot_tier_once_its_count_proves_it_slow() -> None:
    # 40 views/hour at 189万: its count (steps of 10,000) stands still for days.
    tiers, observations, cooling, tier = [], [], 0, "hot"
    for hour in range(16):
        observations = keep_observations(observations, true_obs(1_893_000 + 40 * hour, hour))
        choice = choose_tier(TIERS, observations, current=tier, cooling=cooling, age_s=0,
                             cold_after_s=DAY)
        tier, cooling = choice.tier.name, choice.cooling
        tiers.append(tier)
    # Unchanged for 10 hours: under 1,000 views/hour for sure, twice in a row.
    assert tiers == ["hot"] * 11 + ["warm"] * 5


def test_comments_raise_the_estimate_within_what_the_counts_allow() -> None:
    quiet = shown("50.3万", "50.3万", comments=(100, 100))
    chatty = shown("50.3万", "50.3万", comments=(100, 101))  # 5,030 views per comment
    flood = shown("50.3万", "50.3万", comments=(100, 150))
    rates = [estimate_growth(obs) for obs in (quiet, chatty, flood)]
    assert [g.rate for g in rates if g] == [500, 1000, 1000]  # capped by the count's step
    some = estimate_growth(shown("50.3万", "50.3万", "50.3万", "50.3万", "50.3万",
                                 comments=(5000, 5000, 5001, 5001, 5008)))
    assert some is not None and (some.low, some.high) == (0, 250)
    assert some.rate == pytest.approx(8 / 4 * 503_000 / 5008)  # about 201: above the middle


def test_hysteresis_cools_only_after_consistent_estimates() -> None:
    fast, slow = seen(0, 5000), seen(0, 50)

    def step(obs: list[Observation], tier: str, cooling: int) -> tuple[str, int]:
        choice = choose_tier(TIERS, obs, current=tier, cooling=cooling, age_s=0,
                             cold_after_s=DAY)
        return choice.tier.name, choice.cooling

    assert step(slow, "hot", 0) == ("hot", 1)  # one estimate is no evidence yet
    assert step(slow, "hot", 1) == ("cold", 0)  # the second in a row is
    assert step(fast, "hot", 1) == ("hot", 0)  # a hot estimate between starts over
    assert step(fast, "cold", 0) == ("hot", 0)  # warming up is at once
    assert step(seen(0, 500), "hot", 1) == ("warm", 0)
    assert step(seen(7), "warm", 1) == ("warm", 0)  # no growth known: stay


def test_a_video_without_growth_yet_keeps_its_tier_and_an_old_one_goes_cold() -> None:
    assert choose_tier(TIERS, [], current="hot", age_s=0, cold_after_s=DAY).tier == HOT
    assert choose_tier(TIERS, seen(7), current="hot", age_s=0, cold_after_s=DAY).tier == HOT
    old = choose_tier(TIERS, seen(0, 10**6), current="hot", age_s=DAY, cold_after_s=DAY)
    assert old.tier == COLD
    assert choose_tier(TIERS, [], current="gone", age_s=0, cold_after_s=DAY).tier == HOT


def test_tier_for_takes_the_first_threshold_reached() -> None:
    assert [tier_for(TIERS, r).name for r in (1000, 999, 100, 99, 0)] == \
        ["hot", "warm", "warm", "cold", "cold"]


def test_kept_observations_fold_runs_of_an_unchanged_count() -> None:
    kept: list[Observation] = []
    for obs in shown("1.1万", "1.1万", "1.1万", "1.1万", "1.2万", "1.2万", "1.2万"):
        kept = keep_observations(kept, obs)
    assert [(o.stat_play_text, o.at.hour - T0.hour) for o in kept] == [
        ("1.1万", 0), ("1.1万", 3), ("1.2万", 4), ("1.2万", 6)]
    for i in range(30):
        kept = keep_observations(kept, Observation(at=T0 + timedelta(hours=7 + i),
                                                   stat_play=13000 + 1000 * i))
    assert len(kept) == MAX_OBSERVATIONS and kept[-1].stat_play == 42000


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
