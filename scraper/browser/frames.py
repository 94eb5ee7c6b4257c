"""Frames on demand: Chromium draws nothing unless a visit asks it to.

A headless crawl has nobody looking at its pages, yet Chromium draws them as if someone
did: each DOM change during a load makes a frame (style, layout, paint, raster and
composite, at up to 60 a second). ``chromium-headless-shell`` can instead issue frames
only when told to over CDP (``--enable-begin-frame-control``; the manual frames need
``--run-all-compositor-stages-before-draw``). Measured with bench/visits.py (--frames
on-demand against always), 300 video visits over 4 tabs, twice each: 27.4-28.0 s of CPU
instead of 29.6-30.1 s, and 367-376 MB peak PSS instead of 396 MB.

Script work that waits for a frame (``requestAnimationFrame``, IntersectionObserver,
ResizeObserver) still has to run, so a tab asks for one frame, with no display update,
before it reads the DOM, and every 100 ms while a visit waits long for the site's API
replies. Frames of several tabs at once crash the headless shell's compositor (SIGTRAP
within a few visits: bench/visits.py --frames concurrent), so tabs take turns
(``Browser.frame_turn``); 1,000 visits over 4 tabs taking turns ran without a crash.
``--draw-frames`` and the full ``chromium`` (headed runs, ``scrape debug``) draw as usual.
"""

from __future__ import annotations

from pathlib import Path

from .cdp import Session

__all__ = ["FRAME_FLAGS", "begin_frame", "draws_on_demand", "is_headless_shell"]

FRAME_FLAGS: tuple[str, ...] = (
    "--enable-begin-frame-control",
    "--run-all-compositor-stages-before-draw",
)


def is_headless_shell(executable: str | None) -> bool:
    """Whether ``executable`` is the headless shell: Debian's ``chromium-headless-shell``,
    or ``headless_shell`` as Playwright downloads it."""
    name = Path(executable).name if executable else ""
    return "headless-shell" in name or "headless_shell" in name


def draws_on_demand(executable: str | None, *, headless: bool) -> bool:
    """Whether this Chromium can wait for our frames: only the headless shell can (the
    full browser rejects the command), and only headless."""
    return headless and is_headless_shell(executable)


async def begin_frame(session: Session) -> None:
    """One frame's script and layout work on the session's page, nothing drawn."""
    await session.send("HeadlessExperimental.beginFrame", {"noDisplayUpdates": True})
