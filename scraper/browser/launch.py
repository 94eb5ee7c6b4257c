"""Starting one Chromium process with its DevTools pipe, and ending it.

Chromium runs in a session (process group) of its own, so a Ctrl-C in the terminal
reaches the scraper, which closes it cleanly, and not Chromium directly; closing sends
``Browser.close`` and kills the group if Chromium does not exit in time. Its profile is
a temporary directory, removed when it ends; one left behind by a scraper that was
killed (Chromium itself exits when its pipe closes) is removed by the next launch. Its
own log (stderr) is kept there, so a launch that fails can say why in one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import tempfile
from pathlib import Path

from ..errors import BrowserError
from .cdp import CdpError, Connection

__all__ = ["LAUNCH_SWITCHES", "ChromiumProcess", "spawn", "sweep_profiles"]

# What Playwright passes Chromium as well, for the same reasons: no field trials
# (Debian's build would otherwise turn experiments on), no throttling of background tabs
# (four tabs share a window), nothing that phones home or waits for a user.
LAUNCH_SWITCHES: tuple[str, ...] = (
    "--disable-field-trial-config",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-back-forward-cache",
    "--disable-breakpad",
    "--disable-component-extensions-with-background-pages",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-hang-monitor",
    "--disable-ipc-flooding-protection",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--allow-pre-commit-input",
    "--force-color-profile=srgb",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--no-service-autorun",
    "--disable-search-engine-choice-screen",
    "--disable-stack-profiler",
    "--disable-infobars",
    "--no-startup-window",
)
_START_S = 30.0  # Chromium's first answer on the pipe
_EXIT_S = 5.0  # after Browser.close, before the process group is killed
_LOG = "chromium.log"
_PROFILE_PREFIX = "scraper-chromium-"


class ChromiumProcess:
    """A running Chromium: its pid, its DevTools connection and its profile directory."""

    def __init__(self, pid: int, connection: Connection, profile: Path) -> None:
        self.pid = pid
        self.connection = connection
        self.profile = profile
        self._reaped = False

    def log_tail(self) -> str:
        """The last line Chromium wrote to its log (why a launch failed, often)."""
        try:
            lines = (self.profile / _LOG).read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    async def close(self) -> None:
        """End Chromium and remove its profile; harmless when it is gone already. Bounded
        (about 10 s for a Chromium that does not answer), and the kill and the clean-up
        happen even when the close is cancelled."""
        try:
            if not self.connection.is_closed:
                with contextlib.suppress(CdpError, TimeoutError):
                    async with asyncio.timeout(_EXIT_S):
                        await self.connection.send("Browser.close")
            await self._wait_exit(_EXIT_S)
        finally:
            # The whole group: a browser process that died may leave its children.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            self._reap()
            self.connection.close()
            shutil.rmtree(self.profile, ignore_errors=True)
        if not self._reaped:
            await self._wait_exit(_EXIT_S)

    async def _wait_exit(self, limit_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while not self._reap():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def _reap(self) -> bool:
        if self._reaped:
            return True
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid = self.pid  # reaped elsewhere
        self._reaped = pid == self.pid
        return self._reaped


def _high(fd: int) -> int:
    """``fd`` moved above the descriptors Chromium's pipe takes (3 and 4)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


def _start(argv: list[str], profile: Path, commands: int, replies: int) -> int:
    """Start Chromium in a session of its own, reading ``commands`` as its fd 3 and
    writing ``replies`` as its fd 4 (posix_spawn: safe while other threads run)."""
    return os.posix_spawnp(argv[0], argv, dict(os.environ), setsid=True, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, str(profile / _LOG), os.O_WRONLY | os.O_CREAT, 0o600),
        (os.POSIX_SPAWN_DUP2, commands, 3),
        (os.POSIX_SPAWN_DUP2, replies, 4),
    ])


def sweep_profiles(where: Path) -> list[Path]:
    """Remove the profiles in ``where`` of scrapers that no longer run; returns them."""
    removed = []
    for profile in where.glob(f"{_PROFILE_PREFIX}*-*"):
        owner = profile.name.removeprefix(_PROFILE_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(profile, ignore_errors=True)
            removed.append(profile)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


async def spawn(executable: str, args: list[str]) -> ChromiumProcess:
    """Start ``executable`` with ``args`` and the DevTools pipe; wait for its first answer."""
    where = Path(tempfile.gettempdir())
    await asyncio.to_thread(sweep_profiles, where)
    profile = Path(tempfile.mkdtemp(prefix=f"{_PROFILE_PREFIX}{os.getpid()}-", dir=where))
    commands_read, commands_write = (_high(fd) for fd in os.pipe())
    replies_read, replies_write = (_high(fd) for fd in os.pipe())
    argv = [executable, *LAUNCH_SWITCHES, *args, f"--user-data-dir={profile}",
            "--remote-debugging-pipe"]
    try:
        pid = _start(argv, profile, commands_read, replies_write)
    except OSError as exc:
        for fd in (commands_read, commands_write, replies_read, replies_write):
            os.close(fd)
        shutil.rmtree(profile, ignore_errors=True)
        raise BrowserError(f"cannot start Chromium at {executable}: {exc.strerror}") from exc
    os.close(commands_read)
    os.close(replies_write)
    connection = Connection()
    process = ChromiumProcess(pid, connection, profile)
    try:
        await connection.open(replies_read, commands_write)
        async with asyncio.timeout(_START_S):
            await connection.send("Browser.getVersion")
    except (CdpError, TimeoutError) as exc:
        why = process.log_tail() or (
            "no answer" if isinstance(exc, TimeoutError) else "it exited at once")
        await process.close()
        raise BrowserError(f"cannot start Chromium at {executable}: {why}") from exc
    except BaseException:
        await process.close()
        raise
    return process
