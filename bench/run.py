"""Benchmark the whole `scrape run` job against the replica, at several sizes.

Prints one JSON line per scenario: videos per minute, CPU seconds (and per video) and
peak PSS of the scraper's whole process tree (Python, the Playwright driver and every
Chromium process; PSS, not RSS, since RSS counts Chromium's shared pages once per
process), and the load average around the run, so growth with size is visible.
Figures only: nothing here asserts a target.

    python bench/run.py                           # 150 and 1005 videos, then 150 at 5000 KB
    python bench/run.py --videos 150 1005 5000    # the growth table (5000 takes a while)
    python bench/run.py --videos 150 --segment-kb 64
"""

from __future__ import annotations

import argparse
import json
import tempfile

from common import BIN, measure, replica


def scenario(videos: int, segment_kb: int, concurrency: int) -> dict[str, object]:
    with replica(videos, segment_kb) as port, tempfile.TemporaryDirectory(
            prefix="scrape-bench-") as tmp:
        cmd = [str(BIN / "scrape"), "-q", "run", "--category", "today-hot",
               "--max-videos", str(videos), "--resolve", f"*.test=127.0.0.1:{port}",
               "--store", f"{tmp}/store", "--media-dir", f"{tmp}/media",
               "--concurrency", str(concurrency)]
        run = measure(cmd, cwd=tmp)
    return {
        "videos": videos, "segment_kb": segment_kb, "concurrency": concurrency,
        "exit": run.exit, "wall_s": run.wall_s,
        "videos_per_min": round(videos / run.wall_s * 60, 1),
        "cpu_s": run.cpu_s, "cpu_ms_per_video": round(run.cpu_s / videos * 1000),
        "peak_pss_mb": run.peak_pss_mb, "load_1min": run.load,
        "summary": run.stderr.strip().splitlines()[:2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--videos", type=int, nargs="*", help="replica sizes (--videos)")
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
