"""Benchmark the whole `scrape run` job against the replica.

Prints one JSON line per scenario: videos per minute, CPU seconds and peak PSS of the
scraper's whole process tree (Python, the Playwright driver and every Chromium process;
PSS, not RSS, since RSS counts Chromium's shared pages once per process). Figures only:
nothing here asserts a target.

    python bench/run.py                      # 150 and 1005 videos, then 150 at 5000 KB
    python bench/run.py --videos 150 --segment-kb 64
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


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


class PeakPss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.25):
            self.peak_kb = max(self.peak_kb, pss_kb(tree(self.pid)))


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


def scenario(videos: int, segment_kb: int, concurrency: int) -> dict[str, object]:
    port = free_port()
    replica = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.replica", "--port", str(port), "--videos",
         str(videos), "--segment-kb", str(segment_kb), "--faults", "on"],
        cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory(prefix="scrape-bench-") as tmp:
            cmd = [str(BIN / "scrape"), "-q", "run", "--category", "today-hot",
                   "--max-videos", str(videos), "--resolve", f"*.test=127.0.0.1:{port}",
                   "--store", f"{tmp}/store", "--media-dir", f"{tmp}/media",
                   "--concurrency", str(concurrency)]
            started = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
            sampler = PeakPss(proc.pid)
            sampler.start()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - started
            sampler.done.set()
            stderr = proc.stderr.read() if proc.stderr else ""
            proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        replica.terminate()
        replica.wait(timeout=10)
    return {
        "videos": videos, "segment_kb": segment_kb, "concurrency": concurrency,
        "exit": proc.returncode, "wall_s": round(wall, 2),
        "videos_per_min": round(videos / wall * 60, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_pss_mb": round(sampler.peak_kb / 1024, 1),
        "summary": stderr.strip().splitlines()[:2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, nargs="*")
    parser.add_argument("--segment-kb", type=int, nargs="*")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if args.videos or args.segment_kb:
        plan = [(v, k) for v in (args.videos or [150]) for k in (args.segment_kb or [64])]
    else:
        plan = [(150, 64), (1005, 64), (150, 5000)]
    for videos, kb in plan:
        print(json.dumps(scenario(videos, kb, args.concurrency), ensure_ascii=False),
              flush=True)


if __name__ == "__main__":
    main()
