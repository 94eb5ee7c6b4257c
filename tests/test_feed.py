"""The catalogue's news to idle video workers (scraper/jobs/feed.py)."""

from __future__ import annotations

import asyncio

from scraper.jobs.feed import Feed


async def test_news_told_during_a_claim_wakes_the_worker_that_claimed() -> None:
    feed = Feed()
    ticket = feed.ticket()  # taken before the claim
    feed.tell()  # the catalogue queued videos while the claim ran
    # Returns at once rather than after the poll interval.
    await asyncio.wait_for(Feed.wait(ticket, 3600), timeout=5)
    assert not feed.ticket().is_set()  # the next claim waits for newer news
    assert not feed.done


async def test_waiters_wake_together_when_the_catalogue_ends() -> None:
    feed = Feed()
    waiters = [asyncio.ensure_future(Feed.wait(feed.ticket(), 3600)) for _ in range(4)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    feed.finish()
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)
    assert feed.done


async def test_without_news_a_worker_polls_again_after_the_interval() -> None:
    feed = Feed()
    ticket = feed.ticket()
    await Feed.wait(ticket, 0.01)
    assert not ticket.is_set()
