"""Shared fixtures: the replica site and a Chromium bound to it."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from mongomock.collection import BulkOperationBuilder
from playwright.async_api import Browser, async_playwright

from scraper.config import find_chromium
from tests.fixtures.replica import Replica, ReplicaConfig

# What a headless `scrape run` launches: chromium-headless-shell where installed.
CHROMIUM = find_chromium() or "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-gpu",
    "--disable-dev-shm-usage",
)
# High enough that each fault fires at least once during a 150-video crawl.
SESSION_FAULT_RATES = {"segment_302": 0.05, "segment_502": 0.05, "missing_channel_link": 0.05}



def _without_sort(add: Callable[..., Any]) -> Callable[..., Any]:
    """mongomock's bulk builder predates the ``sort`` that pymongo 4.9+ passes (always
    None for our requests): accept it, so ``MongoStore.bulk_write`` runs on the fake as on
    a server, rather than the store writing one document per round trip for the fake."""

    @functools.wraps(add)
    def added(self: Any, *args: Any, sort: Any = None, **kwargs: Any) -> Any:
        if sort is not None:
            raise NotImplementedError("mongomock cannot sort a bulk update")
        return add(self, *args, **kwargs)

    return added


BulkOperationBuilder.add_replace = _without_sort(BulkOperationBuilder.add_replace)
BulkOperationBuilder.add_update = _without_sort(BulkOperationBuilder.add_update)

MakeReplica = Callable[..., AbstractAsyncContextManager[Replica]]
LaunchBrowser = Callable[[Replica], AbstractAsyncContextManager[Browser]]


@pytest.fixture(scope="session")
async def replica() -> AsyncIterator[Replica]:
    """One replica for the session: 150 videos, seed 1, faults on at raised rates."""
    config = ReplicaConfig(
        videos=150, seed=1, segment_kb=16, faults=True, fault_rates=SESSION_FAULT_RATES
    )
    async with Replica(config) as rep:
        yield rep


@pytest.fixture(scope="session")
def make_replica() -> MakeReplica:
    """``async with make_replica(videos=30, faults=False) as rep:`` for a private replica."""

    @asynccontextmanager
    async def factory(**kwargs: Any) -> AsyncIterator[Replica]:
        async with Replica(ReplicaConfig(**kwargs)) as rep:
            yield rep

    return factory


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium of its own for a module (pages of ours, no replica mapping)."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield browser
        await browser.close()


@asynccontextmanager
async def chromium_for(path: str, rep: Replica) -> AsyncIterator[Browser]:
    """A headless Chromium whose ``*.test`` hosts all resolve to ``rep``."""
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules={rep.chromium_rule}"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=path, args=args)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(scope="session")
async def browser(chromium_path: str, replica: Replica) -> AsyncIterator[Browser]:
    """One Chromium for the session, mapped to the session ``replica``."""
    async with chromium_for(chromium_path, replica) as launched:
        yield launched


@pytest.fixture
def launch_browser(chromium_path: str) -> LaunchBrowser:
    """``async with launch_browser(rep) as browser:`` for a private replica."""
    return lambda rep: chromium_for(chromium_path, rep)


@contextmanager
def tiny_tmpfs(where: Path) -> Iterator[Path]:
    """A 256 KB tmpfs mounted on ``where`` (created; root only, else the test is skipped);
    ``mount -o remount,size=...`` grows it."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
                          capture_output=True, check=False)
    if made.returncode:
        pytest.skip(f"cannot mount a tmpfs: {made.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
