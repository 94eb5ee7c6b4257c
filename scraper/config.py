"""One frozen, typed Settings object, built at the edge (flags > environment > defaults).

This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

__all__ = [
    "DEFAULT_CHROMIUM_ARGS",
    "DEFAULT_MONGODB_URI",
    "DEFAULT_STORE_DIR",
    "DEFAULT_USER_AGENT",
    "DRIVER_NODE_OPTIONS",
    "ResolveRule",
    "Settings",
    "driver_environment",
    "env",
    "find_chromium",
    "parse_resolve",
]

# Debian's Chromium stalls on connections it cannot make without the first four.
DEFAULT_CHROMIUM_ARGS: tuple[str, ...] = (
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-default-browser-check",
    "--mute-audio",
    # Playwright's own blink settings (the last --blink-settings wins), then no images
    # and no web fonts: files are fetched by the HTTP client, not the browser.
    "--blink-settings=primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,"
    "availablePointerTypes=4,imagesEnabled=false,downloadableBinaryFontsEnabled=false",
    "--autoplay-policy=user-gesture-required",
    # Chromium keeps only the last --disable-features/--enable-features switch, so these
    # repeat Playwright's own lists (HttpsUpgrades would retry every http URL as https)
    # before adding ours. Tabs navigate from video to video: keeping the previous page in
    # the back-forward cache, a new document host per navigation and a spare renderer
    # cost about a third of Chromium's CPU per visit here.
    "--disable-features=AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,"
    "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,LensOverlay,MediaRouter,PaintHolding,"
    "ThirdPartyStoragePartitioning,AvoidCorsURLLoaderRestartOnRedirect,OptimizationHints,"
    "NetworkTimeServiceQuerying,AimEnabled,PreconnectToSearch,BackForwardCache,RenderDocument,"
    "SpareRendererForSitePerProcess",
    "--enable-features=CDPScreenshotNewSurface,SkipListAccountsWithoutGaiaCookies,"
    "NetworkServiceInProcess2",
    # One renderer for all tabs of a site, GPU and network in the browser process, and a
    # V8 without optimizing tiers (the site's scripts are tiny): about 150 MB less PSS.
    "--process-per-site",
    "--in-process-gpu",
    # Renderers started by the browser process itself, not forked from two zygote
    # processes kept for the purpose: 10-14 MB less PSS (bench/visits.py --add-flag).
    "--no-zygote",
    "--js-flags=--lite-mode --max-semi-space-size=1",
)
# The Playwright driver (Node.js) grows a large young generation it does not need, and
# its compiled code costs more memory than its few messages a visit are worth: without
# the JIT its peak PSS is 15 MB lower for 0.3 s more driver CPU in 150 videos, with no
# change in wall time (bench/profile.py, A/B/A/B).
DRIVER_NODE_OPTIONS = "--max-semi-space-size=1 --jitless"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
# The binary itself: Debian's /usr/bin wrapper for it is a shell that does not exec, so it
# would stand between Playwright and the browser process.
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
DEFAULT_MONGODB_URI = "mongodb://localhost:27017/scraper"
DEFAULT_STORE_DIR = "./scrape-data"
# One desktop identity for the browser and the HTTP client alike; "HeadlessChrome" is a tell.
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)

_RULE = re.compile(
    r"^(?P<pattern>[A-Za-z0-9*.\-]+)=(?P<addr>[0-9A-Za-z.\-:\[\]]+):(?P<port>\d{1,5})$"
)

_CURL_RULE = re.compile(
    r"^(?P<pattern>[A-Za-z0-9*.\-]+):(?P<port>\d{1,5}):(?P<addr>[0-9A-Za-z.\-:\[\]]+)$"
)


@dataclass(frozen=True, slots=True)
class ResolveRule:
    """Send connections for hosts matching ``pattern`` to ``addr:port`` (curl's --resolve)."""

    pattern: str
    addr: str
    port: int

    def matches(self, host: str) -> bool:
        return fnmatch.fnmatchcase(host.lower(), self.pattern.lower())

    def chromium_rule(self) -> str:
        return f"MAP {self.pattern} {self.addr}:{self.port}"


def parse_resolve(values: list[str] | tuple[str, ...]) -> tuple[ResolveRule, ...]:
    """Parse ``PATTERN=ADDR:PORT`` rules, or curl's ``HOST:PORT:ADDR`` (the connection
    keeps the port); several may be joined by commas."""
    rules: list[ResolveRule] = []
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            match = _RULE.match(part) or _CURL_RULE.match(part)
            if not match or not 0 < int(match["port"]) < 65536:
                raise ConfigError(
                    f"bad --resolve rule {part!r}: expected PATTERN=ADDR:PORT or curl's "
                    "HOST:PORT:ADDR, e.g. '*.test=127.0.0.1:8899'"
                )
            addr = match["addr"].strip("[]")
            rules.append(ResolveRule(match["pattern"], addr, int(match["port"])))
    return tuple(rules)


def env(name: str) -> str | None:
    """Read one environment variable; empty counts as unset."""
    value = os.environ.get(name, "").strip()
    return value or None


def driver_environment() -> None:
    """Give the Playwright driver our Node.js options unless the user set their own."""
    if env("NODE_OPTIONS") is None:
        os.environ["NODE_OPTIONS"] = DRIVER_NODE_OPTIONS


def find_chromium(explicit: str | None = None, *, headless: bool = True) -> str | None:
    """``--chromium``, else ``SCRAPER_CHROMIUM``, else Debian's Chromium: for a headless
    run ``chromium-headless-shell`` where installed (the old headless mode, which
    Playwright also uses for headless runs: faster and smaller), else ``chromium``; else
    one from Playwright's browser cache (set-up's fallback off Debian).

    None: no Chromium at all. A path the user named must exist.
    """
    named = explicit or env("SCRAPER_CHROMIUM")
    if named:
        if Path(named).is_file() or shutil.which(named):
            return named
        raise ConfigError(f"Chromium not found at {named!r} (from --chromium or SCRAPER_CHROMIUM)")
    candidates = (HEADLESS_SHELL, DEBIAN_CHROMIUM) if headless else (DEBIAN_CHROMIUM,)
    found = next((path for path in candidates if Path(path).is_file()), None)
    return found or _downloaded_chromium(headless=headless)


def _downloaded_chromium(*, headless: bool) -> str | None:
    """The newest Chromium in Playwright's browser cache (``PLAYWRIGHT_BROWSERS_PATH``)."""
    root = Path(env("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    patterns = ["chromium-*/chrome-linux*/chrome"]
    if headless:
        patterns.insert(0, "chromium_headless_shell-*/chrome-*/headless_shell")
    for pattern in patterns:
        found = sorted(root.glob(pattern), key=lambda p: _revision(p.parts[-3]), reverse=True)
        if found:
            return str(found[0])
    return None


def _revision(directory: str) -> int:
    digits = directory.rpartition("-")[2]
    return int(digits) if digits.isdigit() else -1


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a crawl needs to know, fixed before it starts."""

    site: str = "youku-replica"
    category: str = "today-hot"
    # `scrape run`/`monitor` with several lists: the categories (by CLI name, or "all") and
    # channels (uids) to crawl. None: `category` alone, unless channels are given.
    categories: tuple[str, ...] | None = None
    channels: tuple[str, ...] = ()
    store: str = "./scrape-data"
    media_dir: Path = Path("./media")
    selectors_dir: Path | None = None
    resolve: tuple[ResolveRule, ...] = ()
    pages: int | None = None
    max_videos: int | None = None
    # `scrape run --video`: crawl exactly these videos (vid, numeric id or page URL), no
    # catalogue.
    videos: tuple[str, ...] = ()
    concurrency: int = 4
    download_concurrency: int = 8
    no_media: bool = False
    max_comments: int | None = None
    headed: bool = False
    slow_mo_ms: int = 0
    chromium: str | None = None
    chromium_args: tuple[str, ...] = DEFAULT_CHROMIUM_ARGS
    streams: tuple[str, ...] = ("mp4sd",)
    page_timeout_s: float = 20.0
    request_timeout_s: float = 30.0
    # HTTP attempts per request: a CDN 502 may repeat for several requests in a row.
    retries: int = 8
    # Renders of one page that lacks a required field or a token before it counts as
    # drift: such faults hit one response, and real drift should fail fast.
    render_attempts: int = 4
    backoff_base_s: float = 0.25
    backoff_max_s: float = 8.0
    visits_per_page: int = 100
    # Chromium dies now and then on long runs (a renderer out of memory, the OOM killer):
    # it is relaunched this many times per run before the run gives up.
    browser_relaunches: int = 3
    # Retire Chromium for a fresh one, between visits, when its process tree's PSS passes
    # this many MB, or after this many visits; None: never.
    browser_memory_mb: float | None = None
    browser_recycle_visits: int | None = None
    # Let Chromium draw every frame as if a screen showed the page (the headless shell
    # otherwise draws only when a tab asks: browser/frames.py).
    draw_frames: bool = False
    pages_per_context: int = 8
    lease_s: float = 120.0
    worker_id: str = field(default_factory=lambda: f"{os.uname().nodename}-{os.getpid()}")
    # `scrape monitor` and workers. Tiers hottest first, NAME:INTERVAL[@VIEWS_PER_HOUR];
    # a tier without a threshold takes the one of its position in `tier_rates`.
    tiers: str = "hot:1h,warm:6h,cold:24h"
    tier_rates: tuple[float, ...] = (1000.0, 100.0)
    # Channels' tiers, by followers gained per hour (thresholds default to channel_rates).
    channel_tiers: str = "hot:1h,warm:6h,cold:24h"
    channel_rates: tuple[float, ...] = (100.0, 10.0)
    cold_after_s: float = 3 * 86400.0  # followed longer than this: coldest tier
    visit_jitter: float = 0.1  # next visits spread by ± this share of the interval
    catalogue_every_s: float = 600.0  # how often the category is re-read for new videos
    idle_poll_s: float = 2.0  # a worker with nothing to do looks again after this
    user_agent: str = DEFAULT_USER_AGENT

    def checked(self) -> Settings:
        """Refuse combinations that cannot work, before anything starts."""
        if self.headed and not (env("DISPLAY") or env("WAYLAND_DISPLAY")):
            raise ConfigError(
                "a headed browser needs a display and none is set (DISPLAY); "
                "run under a virtual one: xvfb-run -a scrape …"
            )
        if self.slow_mo_ms and not self.headed:
            raise ConfigError("--slow-mo only makes sense with --headed")
        return self
