"""What every stage of one job shares: its settings, site, run and the process's resources."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from ..api.tokens import SignJar
from ..browser.pool import TabPool
from ..config import Settings
from ..models import RunRecord
from ..net.client import HttpClient
from ..progress import Stats
from ..repair.evidence import Keeper
from ..site.load import Site
from ..store.base import Store

__all__ = ["VideoContext"]


@dataclass(frozen=True, slots=True)
class VideoContext:
    """What every video stage shares for the run."""

    settings: Settings
    site: Site
    store: Store
    http: HttpClient
    tabs: TabPool
    stats: Stats
    run: RunRecord
    media_dir: Path | None
    signs: SignJar
    evidence: Keeper
    downloads: asyncio.Semaphore  # bounds file downloads across every job of the process
