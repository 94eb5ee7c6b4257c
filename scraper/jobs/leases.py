"""Lanes: tasks that claim a piece of work, do it while renewing its lease, and go on.

Knows nothing of what the work is: ``worker.py`` hands it claimers (a monitor job's due
visits, a run's video items), each returning a ``Claim`` or None when it has nothing.

* Work interrupted (Ctrl-C, a crash of the lane) is given back at once; a worker that
  dies outright keeps its leases only until they lapse.
* ``_keep_lease`` renews the lease every third of it while the work runs, so a long
  visit is not taken over; a lease lost anyway is logged, and the store's conditional
  finish keeps the late worker from counting the visit twice.
* With ``once`` a lane stops when it finds nothing to claim and no other lane is busy
  (busy lanes may add work: a catalogue read schedules new videos).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..errors import ScraperError, first_error

__all__ = ["Claim", "Claimer", "claim_or_give_back", "run_claim", "serve"]

log = logging.getLogger(__name__)

_ONCE_POLL_S = 0.2
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Claim:
    """One piece of work a lane holds: do it, renew its lease, or give it back."""

    label: str
    work: Callable[[], Awaitable[object]]
    renew: Callable[[], Awaitable[bool]]
    release: Callable[[], Awaitable[None]]


Claimer = Callable[[], Awaitable[Claim | None]]


@dataclass(slots=True)
class _Lanes:
    busy: int = 0
    finished: int = 0


async def serve(
    claimers: Callable[[], Awaitable[Sequence[Claimer]]], *, lanes: int, once: bool,
    lease_s: float, idle_s: float, stop: Callable[[], bool] = lambda: False,
    on_idle: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run ``lanes`` claim-and-work loops until ``stop()``, or with ``once`` until no lane
    has work and none is left to claim."""
    state = _Lanes()
    try:
        async with asyncio.TaskGroup() as tg:
            for _ in range(max(1, lanes)):
                tg.create_task(_lane(claimers, state, once=once, lease_s=lease_s,
                                     idle_s=idle_s, stop=stop, on_idle=on_idle))
    except BaseExceptionGroup as group:
        raise first_error(group) from None


async def _lane(
    claimers: Callable[[], Awaitable[Sequence[Claimer]]], state: _Lanes, *, once: bool,
    lease_s: float, idle_s: float, stop: Callable[[], bool],
    on_idle: Callable[[], Awaitable[None]] | None,
) -> None:
    while not stop():
        finished = state.finished
        claim = await _next_claim(await claimers())
        if claim is None:
            # With --once, stop only when no other lane can still add work (a catalogue
            # read adds videos) and none finished since this lane looked.
            if once and state.busy == 0 and state.finished == finished:
                return
            if on_idle is not None and not once:
                await on_idle()
            await asyncio.sleep(_ONCE_POLL_S if once else idle_s)
            continue
        state.busy += 1
        try:
            await run_claim(claim, lease_s=lease_s)
        finally:
            state.busy -= 1
            state.finished += 1


async def _next_claim(claimers: Sequence[Claimer]) -> Claim | None:
    for claimer in claimers:
        claim = await claimer()
        if claim is not None:
            return claim
    return None


async def claim_or_give_back(
    claiming: Awaitable[list[T]], give_back: Callable[[T], Awaitable[None]]
) -> list[T]:
    """What ``claiming`` took; if we are cancelled meanwhile (Ctrl-C), the claim still
    completes and is given back, so no item waits for its lease to lapse."""
    task = asyncio.ensure_future(claiming)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        for taken in await task:
            await give_back(taken)
        raise


async def run_claim(claim: Claim, *, lease_s: float) -> None:
    """Do the work while renewing its lease; give the claim back if interrupted."""
    keeper = asyncio.create_task(_keep_lease(claim, every_s=lease_s / 3))
    try:
        await claim.work()
    except BaseException:
        await asyncio.shield(claim.release())
        raise
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)


async def _keep_lease(claim: Claim, *, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            held = await claim.renew()
        except ScraperError as exc:
            log.warning("cannot renew the lease on %s: %s", claim.label, exc)
            return
        if not held:
            log.warning("lost the lease on %s to another worker", claim.label)
            return
