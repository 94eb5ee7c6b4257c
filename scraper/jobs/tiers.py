"""How often a monitored video is visited: tiers, growth, age and the next due time.

Pure and synchronous. Tiers come hottest first (``--tiers 'hot:1h,warm:6h,cold:24h'``);
each but the last has a threshold in views per hour. The site shows play counts rounded
(``4.1万`` moves in steps of 1,000 views, ``104万`` in steps of 10,000), so growth is a
range, not a number: ``estimate_growth`` bounds it from the kept visits (an unchanged
count means "less than one step over the window", never zero) and takes an estimate
inside. After every visit (``choose_tier``):

* a video without two visits to compare keeps its tier: new videos start hottest;
* a video the monitor has followed longer than ``cold_after_s``: coldest tier;
* a hotter tier at once when the estimate reaches its threshold; a colder one only when
  the count proves the video slower than its tier's threshold, ``DEMOTE_AFTER`` times in
  a row: so a video whose shown count did not move is not taken for a cold one.

Its next visit is the tier's interval away, spread by ``± jitter`` (deterministic per
video and visit) so that videos found together do not stay bunched together.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from ..errors import ConfigError
from ..models import Observation, Tier
from ..site.convert import count_step

__all__ = [
    "DEMOTE_AFTER",
    "MAX_OBSERVATIONS",
    "Growth",
    "TierChoice",
    "choose_tier",
    "estimate_growth",
    "format_duration",
    "keep_observations",
    "next_due",
    "parse_interval",
    "parse_tiers",
    "tier_for",
    "tier_named",
]

MAX_OBSERVATIONS = 8  # kept per schedule entry (runs of an unchanged count count twice)
DEMOTE_AFTER = 2  # estimates in a row that a video must fall short of its tier to leave it

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_TIER = re.compile(r"(?P<name>[A-Za-z][\w-]*):(?P<interval>[^@]+?)(?:@(?P<rate>[^@]+))?")
_TIERS_HELP = "expected NAME:INTERVAL[@VIEWS_PER_HOUR],… e.g. 'hot:1h@1000,warm:6h@100,cold:24h'"


@dataclass(frozen=True, slots=True)
class Growth:
    """How fast a video's play count grows, in views per hour: truly between ``low`` and
    ``high`` (steady growth assumed) over the last ``hours``; ``rate`` is the estimate."""

    low: float
    high: float
    rate: float
    hours: float


@dataclass(frozen=True, slots=True)
class TierChoice:
    """A video's tier after a visit; ``cooling``: estimates in a row that wanted it colder."""

    tier: Tier
    cooling: int
    growth: Growth | None = None


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


def parse_tiers(
    text: str, *, default_rates: Sequence[float] = (), flag: str = "--tiers"
) -> tuple[Tier, ...]:
    """Tiers from ``--tiers``, hottest first; each but the last needs a threshold.

    A tier without ``@RATE`` takes the default threshold of its position. Every mistake
    is a one-line ``ConfigError`` naming ``flag`` (``--channel-tiers`` reads the same way).
    """
    try:
        return _parse_tiers(text, default_rates)
    except ConfigError as exc:
        if flag == "--tiers":
            raise
        raise ConfigError(str(exc).replace("--tiers", flag)) from None


def _parse_tiers(text: str, default_rates: Sequence[float]) -> tuple[Tier, ...]:
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


def keep_observations(
    observations: Sequence[Observation], new: Observation
) -> list[Observation]:
    """The observations worth keeping once ``new`` is added, at most ``MAX_OBSERVATIONS``.

    Of a run of visits that saw the same shown count only the first and the last are
    kept: the ones between bound the growth no tighter. So the window since the shown
    value last changed survives however many visits it takes.
    """
    kept = list(observations)
    if len(kept) >= 2 and _same_shown(kept[-2], kept[-1]) and _same_shown(kept[-1], new):
        kept.pop()
    return [*kept, new][-MAX_OBSERVATIONS:]


def _same_shown(a: Observation, b: Observation) -> bool:
    return (a.stat_play, a.stat_play_text) == (b.stat_play, b.stat_play_text)


def estimate_growth(observations: Sequence[Observation]) -> Growth | None:
    """Views per hour from rounded play counts; None without two visits to compare.

    A count shown as ``v`` with step ``s`` (``50.3万``: 503,000 and 1,000) means a true
    count in ``[v, v + s)``. Assuming one steady rate, every pair of visits bounds it; the
    widest window of latest visits whose bounds still overlap gives ``low``..``high``
    (older visits that contradict a steady rate are left out: the video sped up or
    slowed down). Its middle is the estimate, raised within those bounds when the exact
    ``comment_total`` grew faster, counted in views at the video's own views per comment.
    """
    points = [_Point.of(o) for o in observations if o.stat_play is not None]
    if len(points) < 2:
        return None
    low, high, first = -math.inf, math.inf, len(points) - 1
    for i in range(len(points) - 2, -1, -1):
        pair_low, pair_high = _bounds(points[i], points[i + 1:])
        if max(low, pair_low) >= min(high, pair_high):
            break
        low, high, first = max(low, pair_low), min(high, pair_high), i
    if math.isinf(high):  # no two visits apart in time
        return None
    low = max(low, 0.0)
    high = max(high, low)
    window = points[first:]
    rate = max((low + high) / 2, min(_comment_rate(window), high))
    return Growth(low=low, high=high, rate=rate, hours=window[-1].hours - window[0].hours)


@dataclass(frozen=True, slots=True)
class _Point:
    hours: float  # since the epoch: only differences matter
    shown: int
    step: int  # 1 when no text was kept: the count is taken as exact
    comments: int | None

    @classmethod
    def of(cls, obs: Observation) -> _Point:
        step = count_step(obs.stat_play_text) if obs.stat_play_text else None
        return cls(hours=obs.at.timestamp() / 3600, shown=obs.stat_play or 0, step=step or 1,
                   comments=obs.comment_total)


def _bounds(before: _Point, laters: Sequence[_Point]) -> tuple[float, float]:
    """The steady rates ``before`` allows with each later point: true counts differ by
    more than ``shown - shown' - step'`` and less than ``shown - shown' + step``."""
    low, high = -math.inf, math.inf
    for later in laters:
        hours = later.hours - before.hours
        if hours > 0:
            low = max(low, (later.shown - before.shown - before.step) / hours)
            high = min(high, (later.shown + later.step - before.shown) / hours)
    return low, high


def _comment_rate(window: Sequence[_Point]) -> float:
    """New comments per hour over the window, in views at the latest views per comment;
    0 when comments say nothing (none counted, none new)."""
    counted = [p for p in window if p.comments is not None]
    if len(counted) < 2 or not counted[-1].comments:
        return 0.0
    first, last = counted[0], counted[-1]
    hours = last.hours - first.hours
    new = (last.comments or 0) - (first.comments or 0)
    if hours <= 0 or new <= 0:
        return 0.0
    return new / hours * last.shown / (last.comments or 1)


def tier_for(tiers: Sequence[Tier], rate: float) -> Tier:
    """The first tier whose threshold ``rate`` views per hour reaches; else the coldest."""
    return next((tier for tier in tiers[:-1] if rate >= tier.min_rate), tiers[-1])


def choose_tier(
    tiers: Sequence[Tier], observations: Sequence[Observation], *, current: str,
    cooling: int = 0, age_s: float, cold_after_s: float,
) -> TierChoice:
    """The tier of a video after a visit, with hysteresis.

    A hotter tier at once, when the estimate reaches its threshold. A colder one only on
    proof: the most the video can be growing (``high``) is below its tier's threshold,
    in ``DEMOTE_AFTER`` estimates in a row (``cooling`` counts those before this one);
    it then goes to the hottest tier that ``high`` still allows. Unknown growth keeps the
    current tier (new videos start in the hottest); a video followed ``cold_after_s``
    goes to the coldest.
    """
    if age_s >= cold_after_s:
        return TierChoice(tiers[-1], cooling=0)
    order = [tier.name for tier in tiers]
    here = tier_named(tiers, current)
    growth = estimate_growth(observations)
    if growth is None:
        return TierChoice(here, cooling=0)
    wanted = tier_for(tiers, growth.rate)
    if order.index(wanted.name) < order.index(here.name):
        return TierChoice(wanted, cooling=0, growth=growth)
    # ``high`` is never reached: a threshold equal to it is proven out of reach.
    allowed = next((tier for tier in tiers[:-1] if growth.high > tier.min_rate), tiers[-1])
    if order.index(allowed.name) <= order.index(here.name):
        return TierChoice(here, cooling=0, growth=growth)
    if cooling + 1 >= DEMOTE_AFTER:
        return TierChoice(allowed, cooling=0, growth=growth)
    return TierChoice(here, cooling=cooling + 1, growth=growth)


def next_due(interval_s: float, now: datetime, *, key: str, jitter: float) -> datetime:
    """``now`` plus the interval, spread by up to ``± jitter`` of it (the same for a key and
    a ``now``, so a visit redone after a lost lease is rescheduled alike)."""
    spread = random.Random(f"{key}@{now.isoformat()}").uniform(-jitter, jitter)
    return now + max(_MIN_GAP, timedelta(seconds=interval_s * (1 + spread)))


def tier_named(tiers: Sequence[Tier], name: str) -> Tier:
    """The tier of that name; the hottest when the tiers were redefined since."""
    return next((tier for tier in tiers if tier.name == name), tiers[0])
