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
import subprocess
import tempfile
import time

from common import BIN, PeakPss, replica


def scenario(videos: int, segment_kb: int, concurrency: int) -> dict[str, object]:
    with replica(videos, segment_kb) as port, tempfile.TemporaryDirectory(
            prefix="scrape-bench-") as tmp:
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
        summary = proc.stderr.read() if proc.stderr else ""
    return {
        "videos": videos, "segment_kb": segment_kb, "concurrency": concurrency,
        "exit": os.waitstatus_to_exitcode(status), "wall_s": round(wall, 2),
        "videos_per_min": round(videos / wall * 60, 1),
        "cpu_s": round(max(sampler.tree_cpu_s, usage.ru_utime + usage.ru_stime), 2),
        "peak_pss_mb": round(sampler.peak_kb / 1024, 1),
        "summary": summary.strip().splitlines()[:2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
