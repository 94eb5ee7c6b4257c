"""The ``scrape`` command: options -> Settings -> one ``asyncio.run`` -> one error line.

``app`` holds the click group and how every command ends (one line, a documented exit
code); ``options`` the options several commands share and options -> Settings; the
commands are in ``crawl`` (run, monitor, worker), ``data`` (export, status, dashboard,
plot, report) and ``repair`` (debug, refresh-selectors).
"""

from __future__ import annotations

from . import crawl, data, repair  # noqa: F401  (importing them registers their commands)
from .app import cli, main

__all__ = ["cli", "main"]
