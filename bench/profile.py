"""Where the time and memory of a `scrape run` go: CPU and PSS by process kind, and the
Python side's hot spots.

Samples the run's process tree from /proc and sums each process's CPU by kind, read from
its command line: Chromium's browser process, its renderers, GPU and utility processes,
the Playwright driver (Node.js) and Python; and the tree's PSS by kind, printed at the
moment the total peaked (which kinds make the peak). With ``--py-spy`` the run goes under
`py-spy record` (from bench/.venv-peers) and the Python samples are summed by function,
self and inclusive, with the idle event loop left out.

    python bench/profile.py                         # 150 videos
    python bench/profile.py --videos 450 --py-spy   # + Python hot spots
"""

from __future__ import annotations

import argparse
import collections
import re
import tempfile
import threading
from pathlib import Path

from common import BIN, ROOT, cpu_s, measure, pss_kb, replica, tree

PY_SPY = ROOT / "bench" / ".venv-peers" / "bin" / "py-spy"
# Frames that mean the event loop is waiting, not working.
IDLE: tuple[str, ...] = ("select (selectors.py", "_run_once (asyncio/base_events.py")


def kind(pid: int) -> str | None:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if not argv[0]:
        return None  # a process exiting (a zombie) has no command line left
    text = " ".join(a.decode(errors="replace") for a in argv)
    if "chromium" in argv[0].decode(errors="replace"):
        found = re.search(r"--type=([\w-]+)", text)
        return f"chromium {found[1]}" if found else "chromium browser"
    if "node" in Path(argv[0].decode(errors="replace")).name:
        return "playwright driver (node)"
    if "py-spy" in text:
        return "py-spy (not counted)"
    if "python" in text or "scrape" in text:
        return "python"
    return Path(argv[0].decode(errors="replace")).name or "?"


class ByKind(threading.Thread):
    """Each process's last CPU reading and kind, sampled every 0.2 s, and the tree's PSS
    by kind when its total peaked."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.done = root, threading.Event()
        self.cpu: dict[int, float] = {}
        self.kinds: dict[int, str] = {}
        self.peak_pss: dict[str, int] = {}  # kind -> KB, at the peak of the total

    def run(self) -> None:
        while not self.done.wait(0.2):
            pss: dict[str, int] = collections.Counter()
            for pid in tree(self.root):
                # Read each time: a child seen between fork and exec still shows its
                # parent's command line.
                self.kinds[pid] = kind(pid) or self.kinds.get(pid, "?")
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu_s(pid))
                if not self.kinds[pid].startswith("py-spy"):
                    pss[self.kinds[pid]] += pss_kb([pid])
            if sum(pss.values()) > sum(self.peak_pss.values()):
                self.peak_pss = dict(pss)

    def totals(self) -> dict[str, tuple[float, int]]:
        out: dict[str, list[float]] = collections.defaultdict(list)
        for pid, seconds in self.cpu.items():
            out[self.kinds[pid]].append(seconds)
        return {k: (sum(v), len(v)) for k, v in sorted(out.items(), key=lambda kv: -sum(kv[1]))}


def hot_spots(raw: Path, top: int) -> list[str]:
    """py-spy's collapsed stacks summed by function: busy samples, self and inclusive."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    busy = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";") if f]
        if not frames or not count.isdigit():
            continue
        n = int(count)
        if any(f.startswith(IDLE) for f in frames[-3:]):
            idle += n
            continue
        busy += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"python samples holding the GIL: {busy} busy, {idle} idle in the event loop",
             "by function (self):"]
    lines += [f"  self {n / busy:6.1%}  {f}" for f, n in own.most_common(top)]
    wanted = [(f, n) for f, n in inclusive.most_common() if "scraper/" in f][:top]
    lines.append("by scraper function (inclusive):")
    lines += [f"  incl {n / busy:6.1%}  {f}" for f, n in wanted]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--videos", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--py-spy", action="store_true", help="profile Python with py-spy")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    args = parser.parse_args()
    if args.py_spy and not PY_SPY.exists():
        raise SystemExit("bench: no py-spy: run bench/setup_peers.sh first")
    with replica(args.videos) as port, tempfile.TemporaryDirectory(prefix="scrape-prof-") as d:
        cmd = [str(BIN / "scrape"), "-q", "run", "--category", "today-hot", "--max-videos",
               str(args.videos), "--resolve", f"*.test=127.0.0.1:{port}", "--store",
               f"{d}/store", "--media-dir", f"{d}/media", "--concurrency",
               str(args.concurrency)]
        raw = args.raw.resolve() if args.raw else Path(d) / "py-spy.txt"
        if args.py_spy:
            # --gil: only samples holding the GIL, i.e. Python's CPU, not threads blocked
            # in fsync or the event loop's select.
            cmd = [str(PY_SPY), "record", "--rate", str(args.rate), "--format", "raw", "--gil",
                   "--output", str(raw), "--", *cmd]
        sampler: list[ByKind] = []
        run = measure(cmd, cwd=d, on_start=lambda pid: sampler.append(_start(pid)))
        sampler[0].done.set()
        sampler[0].join()
        totals = sampler[0].totals()
        counted = sum(v for k, (v, _) in totals.items() if not k.startswith("py-spy"))
        print(f"{args.videos} videos in {run.wall_s} s (exit {run.exit}), load {run.load}; "
              f"CPU {counted:.1f} s sampled by kind:")
        for name, (seconds, n) in totals.items():
            share = "" if name.startswith("py-spy") else f"{seconds / max(counted, 1e-9):6.1%}"
            print(f"  {name:<30} {seconds:7.1f} s  {share:>6}  ({n} processes)")
        peak = sampler[0].peak_pss
        print(f"peak PSS {sum(peak.values()) / 1024:.0f} MB, of which:")
        for name, kb in sorted(peak.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<30} {kb / 1024:7.0f} MB")
        if args.py_spy and raw.exists():
            print("\n".join(hot_spots(raw, args.top)))


def _start(pid: int) -> ByKind:
    sampler = ByKind(pid)
    sampler.start()
    return sampler


if __name__ == "__main__":
    main()
