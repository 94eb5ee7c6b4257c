"""Serve the dashboard until interrupted: ``scrape dashboard``."""

from __future__ import annotations

import asyncio
import logging
import webbrowser
from collections.abc import Callable

from aiohttp import web

from ..errors import ConfigError
from ..store.target import open_store
from .app import make_app

__all__ = ["serve_dashboard"]

log = logging.getLogger(__name__)


async def serve_dashboard(
    target: str, *, host: str, port: int, open_browser: bool = False,
    announce: Callable[[str], None] = print,
) -> None:
    """Open the store, listen on ``host:port`` (0: any free port), announce the URL and
    serve until cancelled (Ctrl-C)."""
    async with open_store(target, must_exist=True) as store:
        runner = web.AppRunner(make_app(store), access_log=None)
        await runner.setup()
        try:
            url = await _listen(runner, host, port)
            announce(f"dashboard of {store.description} at {url} (Ctrl-C stops it)")
            if open_browser:
                await asyncio.to_thread(webbrowser.open, url)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


async def _listen(runner: web.AppRunner, host: str, port: int) -> str:
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound = runner.addresses[0][1] if port == 0 else port
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{bound}/"
