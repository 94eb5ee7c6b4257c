"""How Chromium is launched: built from Settings and the sites' media hosts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..config import ResolveRule, Settings
from .frames import FRAME_FLAGS, draws_on_demand

__all__ = ["BrowserOptions", "browser_options", "launch_args"]


@dataclass(frozen=True, slots=True)
class BrowserOptions:
    """How to launch Chromium; see ``browser_options``."""

    executable: str | None
    args: tuple[str, ...]
    resolve: tuple[ResolveRule, ...] = ()
    blocked_hosts: tuple[str, ...] = ()
    headless: bool = True
    slow_mo_ms: int = 0
    user_agent: str | None = None
    visits_per_page: int = 100
    pages_per_context: int = 8
    timeout_s: float = 20.0
    # Chromium's life: relaunches allowed after it dies, and when to retire a live one
    # for a fresh process (its tree's PSS past a limit, or after so many visits).
    max_relaunches: int = 3
    memory_limit_mb: float | None = None
    recycle_after_visits: int | None = None
    # Frames only when a tab asks for one (browser/frames.py): the headless shell only.
    frames_on_demand: bool = False


def browser_options(settings: Settings, *, blocked_hosts: Iterable[str] = ()) -> BrowserOptions:
    """The launch options ``settings`` ask for; ``blocked_hosts`` (the media CDNs of the
    sites served) resolve nowhere for the browser, so it never downloads a segment."""
    return BrowserOptions(
        executable=settings.chromium, args=settings.chromium_args, resolve=settings.resolve,
        blocked_hosts=tuple(sorted(set(blocked_hosts))),
        headless=not settings.headed, slow_mo_ms=settings.slow_mo_ms,
        user_agent=settings.user_agent, visits_per_page=settings.visits_per_page,
        pages_per_context=settings.pages_per_context,
        timeout_s=settings.page_timeout_s, max_relaunches=settings.browser_relaunches,
        memory_limit_mb=settings.browser_memory_mb,
        recycle_after_visits=settings.browser_recycle_visits,
        frames_on_demand=not settings.draw_frames and draws_on_demand(
            settings.chromium, headless=not settings.headed),
    )


def launch_args(options: BrowserOptions, marker: str) -> list[str]:
    """Chromium's switches for ``options`` (``marker`` tells its processes apart), but
    for headless mode and the user agent, which each launcher sets its own way."""
    frames = FRAME_FLAGS if options.frames_on_demand else ()
    args = ["--no-sandbox", *options.args, *frames, marker]
    # Media hosts resolve nowhere for the browser (the first matching rule wins), so a
    # player cannot stream segments the HTTP client downloads anyway. It costs nothing
    # per request, unlike an interception route.
    rules = [f"MAP {host} ~NOTFOUND" for host in options.blocked_hosts]
    rules += [rule.chromium_rule() for rule in options.resolve]
    if rules:
        args.append(f"--host-resolver-rules={', '.join(rules)}")
    return args
