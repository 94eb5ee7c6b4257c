"""How much memory one Chromium uses: the PSS of its process tree, read with psutil.

Chromium is launched with a marker switch of its own (Chromium ignores switches it does
not know), which finds its browser process among ours; its renderers, zygotes and
utility processes are that process's descendants.
"""

from __future__ import annotations

import os

import psutil

__all__ = ["chromium_pids", "tree_pss_mb"]


def chromium_pids(marker: str) -> list[int]:
    """The browser process launched with ``marker`` and all its descendants."""
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if marker in proc.cmdline():
                return [proc.pid, *(p.pid for p in proc.children(recursive=True))]
        except psutil.Error:
            continue
    return []


def tree_pss_mb(marker: str) -> float:
    """Summed PSS of the Chromium launched with ``marker``, in MB (0 if it is gone)."""
    total = 0
    for pid in chromium_pids(marker):
        try:
            total += psutil.Process(pid).memory_full_info().pss
        except psutil.Error:
            continue  # a renderer that exited between the listing and the read
    return total / (1024 * 1024)
