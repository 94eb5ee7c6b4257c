"""What the benchmarks share: the replica as a subprocess and PSS sampling of a process tree."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The replica's Python API (tests/fixtures/replica) gives the ground truth.
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree(pid: int) -> list[int]:
    """pid and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def pss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakPss(threading.Thread):
    """Samples a process tree: peak summed PSS, and each process's last CPU time.

    The CPU sum counts every process seen, including Chromium's renderers, which the
    parent's rusage can miss; a process's CPU after its last sample is not counted.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.done = pid, 0, threading.Event()
        self._cpu: dict[int, float] = {}

    @property
    def tree_cpu_s(self) -> float:
        return sum(self._cpu.values())

    def run(self) -> None:
        while not self.done.wait(0.25):
            pids = tree(self.pid)
            self.peak_kb = max(self.peak_kb, pss_kb(pids))
            for pid in pids:
                self._cpu[pid] = max(self._cpu.get(pid, 0.0), cpu_s(pid))


def wait_for(port: int) -> None:
    url = f"http://127.0.0.1:{port}/index/jrrm"
    request = urllib.request.Request(url, headers={"Host": "news.youku.test"})
    for _ in range(300):
        try:
            urllib.request.urlopen(request, timeout=2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("bench: the replica did not start")


@contextlib.contextmanager
def replica(videos: int, segment_kb: int = 64, *, faults: str = "on",
            publication: str = "on") -> Iterator[int]:
    """Start the replica on a free port; yields the port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.replica", "--port", str(port), "--videos",
         str(videos), "--segment-kb", str(segment_kb), "--faults", faults,
         "--publication", publication],
        cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def set_layout(port: int, name: str) -> None:
    url = f"http://127.0.0.1:{port}/__replica/layout?name={name}"
    request = urllib.request.Request(url, method="POST", headers={"Host": "news.youku.test"})
    urllib.request.urlopen(request, timeout=5).close()


@dataclass(frozen=True)
class Measured:
    """One process tree's run: wall time, CPU of every process seen, peak summed PSS."""

    exit: int
    wall_s: float
    cpu_s: float
    peak_pss_mb: float
    stderr: str
    load: tuple[float, float]  # 1-minute load average before and after


def measure(cmd: list[str], cwd: str | Path, env: dict[str, str] | None = None,
            on_start: Callable[[int], object] | None = None) -> Measured:
    """Run ``cmd`` to completion while sampling its process tree.

    CPU is the larger of the sampled sum over every process seen and the rusage of the
    child with all the descendants it reaped (Chromium reaps its renderers, the driver
    reaps Chromium), so neither a short-lived process nor an orphan is missed.
    """
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        sampler = PeakPss(proc.pid)
        sampler.start()
        if on_start is not None:
            on_start(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        sampler.done.set()
        sampler.join()
        err.seek(0)
        stderr = err.read()
    return Measured(
        exit=os.waitstatus_to_exitcode(status), wall_s=round(wall, 2),
        cpu_s=round(max(sampler.tree_cpu_s, usage.ru_utime + usage.ru_stime), 2),
        peak_pss_mb=round(sampler.peak_kb / 1024, 1), stderr=stderr,
        load=(round(load_before, 2), round(os.getloadavg()[0], 2)))
