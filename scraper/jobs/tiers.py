"""How often a monitored video is visited: tiers, growth, age and the next due time.

Pure and synchronous. Tiers come hottest first (``--tiers 'hot:1h,warm:6h,cold:24h'``);
each but the last has a threshold in views per hour. After every visit a video is put in
the first tier whose threshold its growth between its last two visits reaches:

* a video seen fewer than twice has no growth yet: hottest tier, so it is measured soon;
* a video the monitor has followed longer than ``cold_after_s``: coldest tier;
* otherwise by growth, the last tier taking whatever is left.

Its next visit is the tier's interval away, spread by ``± jitter`` (deterministic per
video and visit) so that videos found together do not stay bunched together.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise

from ..errors import ConfigError
from ..models import Observation, Tier

__all__ = [
    "choose_tier",
    "format_duration",
    "growth_per_hour",
    "next_due",
    "parse_interval",
    "parse_tiers",
    "tier_named",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_TIER = re.compile(r"(?P<name>[A-Za-z][\w-]*):(?P<interval>[^@]+?)(?:@(?P<rate>[^@]+))?")
_TIERS_HELP = "expected NAME:INTERVAL[@VIEWS_PER_HOUR],… e.g. 'hot:1h@1000,warm:6h@100,cold:24h'"
# Visits are never closer than this, so that `--once` (which visits what is due up to the
# moment it started) never sees a visit it rescheduled as due again, even at 0 s.
_MIN_GAP = timedelta(milliseconds=1)


def parse_interval(text: str, *, what: str = "duration") -> float:
    """Seconds in ``90``, ``45s``, ``10m``, ``1h30m``, ``7d``; ``ConfigError`` otherwise."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    if not value or _DURATION.sub("", value):
        raise ConfigError(f"bad {what} {text!r}: use a number with s, m, h or d (e.g. 90m, 7d)")
    return float(sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(value)))


def format_duration(seconds: float) -> str:
    """``3600`` -> ``1h``, ``5400`` -> ``1h30m``, ``0.5`` -> ``0s``: largest two units."""
    left = max(0, round(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size and len(parts) < 2:
            parts.append(f"{left // size}{unit}")
            left %= size
        elif parts:
            break
    return "".join(parts) or "0s"


def parse_tiers(text: str, *, default_rates: Sequence[float] = ()) -> tuple[Tier, ...]:
    """Tiers from ``--tiers``, hottest first; each but the last needs a threshold.

    A tier without ``@RATE`` takes the default threshold of its position. Every mistake
    is a one-line ``ConfigError``.
    """
    items = [part.strip() for part in text.split(",")]
    if not any(items):
        raise ConfigError(f"empty --tiers: {_TIERS_HELP}")
    tiers: list[Tier] = []
    for position, item in enumerate(items):
        match = _TIER.fullmatch(item)
        if match is None:
            raise ConfigError(f"bad --tiers item {item!r}: {_TIERS_HELP}")
        last = position == len(items) - 1
        rate = _tier_rate(match["name"], match["rate"], position, default_rates, last=last)
        interval = parse_interval(match["interval"], what=f"--tiers interval for {match['name']!r}")
        tiers.append(Tier(name=match["name"], interval_s=interval, min_rate=rate))
    _check_order(tiers)
    return tuple(tiers)


def _tier_rate(
    name: str, given: str | None, position: int, defaults: Sequence[float], *, last: bool
) -> float:
    if last:
        if given is not None:
            raise ConfigError(f"--tiers: the last tier ({name!r}) takes every video left; "
                              "it has no @VIEWS_PER_HOUR threshold")
        return 0.0
    if given is None:
        if position >= len(defaults):
            raise ConfigError(f"--tiers: no default threshold for tier {name!r}; "
                              f"give one as {name}:INTERVAL@VIEWS_PER_HOUR")
        return float(defaults[position])
    try:
        rate = float(given)
    except ValueError:
        raise ConfigError(f"bad --tiers threshold {given!r} for {name!r}: "
                          "expected views per hour, e.g. 1000") from None
    if rate <= 0:
        raise ConfigError(f"bad --tiers threshold {given!r} for {name!r}: must be above 0")
    return rate


def _check_order(tiers: list[Tier]) -> None:
    names = [tier.name for tier in tiers]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"--tiers names {name!r} twice")
    for hotter, colder in pairwise(tiers):
        if colder.min_rate and colder.min_rate >= hotter.min_rate:
            raise ConfigError(f"--tiers thresholds must fall from the hottest tier to the "
                              f"coldest: {colder.name!r} ({colder.min_rate:g}/h) is not below "
                              f"{hotter.name!r} ({hotter.min_rate:g}/h)")
        if colder.interval_s < hotter.interval_s:
            raise ConfigError(f"--tiers go hottest first: {colder.name!r} "
                              f"({format_duration(colder.interval_s)}) would be visited more "
                              f"often than {hotter.name!r} ({format_duration(hotter.interval_s)})")


def growth_per_hour(observations: Sequence[Observation]) -> float | None:
    """Views per hour between the last two observations; None without two to compare."""
    if len(observations) < 2:
        return None
    before, after = observations[-2], observations[-1]
    hours = (after.at - before.at).total_seconds() / 3600
    if hours <= 0 or before.stat_play is None or after.stat_play is None:
        return None
    return (after.stat_play - before.stat_play) / hours


def choose_tier(
    tiers: Sequence[Tier], observations: Sequence[Observation], *, age_s: float,
    cold_after_s: float,
) -> Tier:
    """The tier for a video with these observations, followed for ``age_s`` seconds."""
    if age_s >= cold_after_s:
        return tiers[-1]
    rate = growth_per_hour(observations)
    if rate is None:
        return tiers[0]
    return next((tier for tier in tiers[:-1] if rate >= tier.min_rate), tiers[-1])


def next_due(interval_s: float, now: datetime, *, key: str, jitter: float) -> datetime:
    """``now`` plus the interval, spread by up to ``± jitter`` of it (the same for a key and
    a ``now``, so a visit redone after a lost lease is rescheduled alike)."""
    spread = random.Random(f"{key}@{now.isoformat()}").uniform(-jitter, jitter)
    return now + max(_MIN_GAP, timedelta(seconds=interval_s * (1 + spread)))


def tier_named(tiers: Sequence[Tier], name: str) -> Tier:
    """The tier of that name; the hottest when the tiers were redefined since."""
    return next((tier for tier in tiers if tier.name == name), tiers[0])
