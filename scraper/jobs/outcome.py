"""What a job command returns, and the clock jobs read (replaceable in tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..progress import Stats

__all__ = ["Clock", "Outcome", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    stats: Stats
    elapsed_s: float
    store: str
    detail: str = ""
