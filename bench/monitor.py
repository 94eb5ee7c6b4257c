"""Benchmark monitor revisits: snapshots per minute of `scrape worker`s, and their memory.

Measures the steady state of `scrape monitor`, not the first crawl. Per scenario, on a
fresh replica (faults on by default) and a fresh store:

1. `scrape run --no-media` crawls the N videos in full once (static fields, comments);
2. `scrape monitor --enqueue-only --tiers all:0s` schedules the job, and one untimed
   `scrape worker --once` reads the catalogue and pays the first revisit of every video
   (the one that fetches all comments, since nothing was observed yet);
3. the replica's clock moves an hour on (views grow, some comments appear; publication is
   off, so no new videos) and
   `scrape monitor --enqueue-only --tiers all:0s` again makes every video due;
4. timed: W `scrape worker --once` processes at once, each until nothing due is left.

Prints one JSON line per scenario: snapshots written by the timed workers per minute of
wall time (first start to last exit, Chromium start-up included) and per minute of
visiting (first to last snapshot); per worker its peak PSS (the whole process tree:
Python, the Playwright driver, Chromium), the Python process's own peak RSS (VmHWM,
sampled) and `ru_maxrss` from wait4 (on Linux: the largest single process of the tree the
worker reaped, Chromium's included), and CPU seconds of the tree and of Python alone.
Figures only: nothing here asserts a target.

Each scenario runs on the embedded SQLite store, whose file all workers share, and, when
SCRAPER_BENCH_MONGODB_URI (or MONGODB_URI) names a server, on MongoDB too (a database of
its own, dropped after).

    python bench/monitor.py                      # 1005 videos; 1 and 2 workers
    python bench/monitor.py --videos 60 --workers 1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from common import BIN, PeakPss, pss_kb, replica, tree

TIERS = "all:0s"  # one tier, interval 0: every video is due again as soon as it is visited
WORKER_PREFIX = "bench-w"
_SUMMARY = re.compile(r"visits: (?P<first>\d+) first, (?P<revisit>\d+) revisits, "
                      r"(?P<failed>\d+) failed; (?P<catalogue>\d+) catalogue reads \(\d+ new "
                      r"videos\); (?P<comments>\d+) new comments")


def scrape(*args: str, cwd: str) -> float:
    """Run one `scrape` command to the end; its wall seconds. Exits the bench if it fails."""
    started = time.monotonic()
    done = subprocess.run([str(BIN / "scrape"), "-q", *args], cwd=cwd, text=True,
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: `scrape {' '.join(args)}` exited {done.returncode}:\n"
                         f"{done.stderr.strip()}")
    return time.monotonic() - started


def advance_clock(port: int, seconds: float) -> None:
    url = f"http://127.0.0.1:{port}/__replica/clock?advance={seconds:g}"
    request = urllib.request.Request(url, method="POST", headers={"Host": "news.youku.test"})
    urllib.request.urlopen(request, timeout=5).close()


# --- MongoDB, when there is one ---------------------------------------------------------------


def mongo_uri() -> str | None:
    return os.environ.get("SCRAPER_BENCH_MONGODB_URI") or os.environ.get("MONGODB_URI") or None


def with_database(uri: str, name: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path=f"/{name}"))


def mongo_problem(uri: str) -> str | None:
    """None if a server answers a ping at ``uri``, else why not."""
    try:
        import pymongo
        from pymongo.errors import PyMongoError
    except ImportError:
        return "pymongo is not installed"
    client: Any = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        return f"MongoDB at {urlsplit(uri).hostname} does not answer ({type(exc).__name__})"
    finally:
        client.close()
    return None


def drop_database(uri: str, name: str) -> None:
    import pymongo

    client: Any = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        client.drop_database(name)
    finally:
        client.close()


# --- one worker process, sampled ----------------------------------------------------------------


class Sampler(PeakPss):
    """PeakPss of the tree, plus the root process's own VmHWM (its peak RSS so far) and
    its own CPU time (wait4's rusage adds the reaped children's: Chromium's)."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid)
        self.hwm_kb, self.cpu_ticks = 0, 0

    def run(self) -> None:
        while not self.done.wait(0.25):
            self.peak_kb = max(self.peak_kb, pss_kb(tree(self.pid)))
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
                stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
            if found:  # absent once the process is a zombie
                self.hwm_kb = max(self.hwm_kb, int(found[1]))
            self.cpu_ticks = max(self.cpu_ticks, int(stat[11]) + int(stat[12]))


class Worker(threading.Thread):
    """One `scrape worker --once`, waited for with wait4 in its own thread."""

    def __init__(self, worker_id: str, cmd: list[str], cwd: str, started: float) -> None:
        super().__init__(daemon=True)
        self.worker_id, self.started = worker_id, started
        self.log = tempfile.TemporaryFile("w+", encoding="utf-8")  # a pipe could fill up
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=self.log)
        self.sampler = Sampler(self.proc.pid)
        self.sampler.start()
        self.ended = started
        self.status = 0
        self.usage: Any = None

    def run(self) -> None:
        _, self.status, self.usage = os.wait4(self.proc.pid, 0)
        self.ended = time.monotonic()
        self.sampler.done.set()
        self.proc.returncode = os.waitstatus_to_exitcode(self.status)

    def report(self) -> dict[str, Any]:
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        summary = _SUMMARY.search(text)
        counts = {k: int(v) for k, v in summary.groupdict().items()} if summary else {}
        return {
            "id": self.worker_id, "exit": os.waitstatus_to_exitcode(self.status),
            "wall_s": round(self.ended - self.started, 2), "snapshots": None,
            "revisits": counts.get("revisit"), "first_visits": counts.get("first"),
            "failed": counts.get("failed"), "catalogue_reads": counts.get("catalogue"),
            "new_comments": counts.get("comments"),
            "cpu_s": round(self.usage.ru_utime + self.usage.ru_stime, 2),
            "python_cpu_s": round(self.sampler.cpu_ticks / os.sysconf("SC_CLK_TCK"), 2),
            "peak_pss_mb": round(self.sampler.peak_kb / 1024, 1),
            "python_peak_rss_mb": round(self.sampler.hwm_kb / 1024, 1),
            "ru_maxrss_mb": round(self.usage.ru_maxrss / 1024, 1),
            "stderr": [line for line in text.strip().splitlines() if line][-3:],
        }


# --- a scenario -----------------------------------------------------------------------------


def snapshots_by(store: str, cwd: str, workers: set[str]) -> list[dict[str, Any]]:
    """The snapshots the given workers wrote, read back with `scrape export`."""
    out = Path(cwd) / "snapshots.jsonl"
    scrape("export", "--store", store, "--what", "snapshots", "--out", str(out), cwd=cwd)
    docs = (json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line)
    return [doc for doc in docs if doc.get("worker") in workers]


def scenario(videos: int, workers: int, store_kind: str, *, faults: str, concurrency: int,
             advance_s: float, uri: str | None) -> dict[str, Any]:
    name = f"scrape_bench_{os.getpid()}_{workers}"
    # No new videos while the clock moves: every round revisits the same N videos.
    with replica(videos, faults=faults, publication="off") as port, tempfile.TemporaryDirectory(
            prefix="scrape-bench-") as tmp:
        store = f"{tmp}/store" if store_kind == "sqlite" else with_database(uri or "", name)
        try:
            common = ["--store", store, "--resolve", f"*.test=127.0.0.1:{port}"]
            media = ["--media-dir", f"{tmp}/media"]
            job = ["--category", "today-hot", "--max-videos", str(videos), "--no-media",
                   "--tiers", TIERS]
            crawl_s = scrape("run", "--category", "today-hot", "--max-videos", str(videos),
                             "--no-media", "--concurrency", str(concurrency), *common, *media,
                             cwd=tmp)
            scrape("monitor", "--enqueue-only", *job, *common, cwd=tmp)
            warmup_s = scrape("worker", "--once", "--id", "bench-warmup", "--concurrency",
                              str(concurrency), *common, *media, cwd=tmp)
            advance_clock(port, advance_s)
            scrape("monitor", "--enqueue-only", *job, *common, cwd=tmp)

            started = time.monotonic()
            running = []
            for i in range(1, workers + 1):
                worker_id = f"{WORKER_PREFIX}{i}"
                cmd = [str(BIN / "scrape"), "-q", "worker", "--once", "--id", worker_id,
                       "--concurrency", str(concurrency), *common, *media]
                running.append(Worker(worker_id, cmd, tmp, started))
            for worker in running:
                worker.start()
            for worker in running:
                worker.join()
            wall = max(worker.ended for worker in running) - started
            per_worker = [worker.report() for worker in running]
            snaps = snapshots_by(store, tmp, {worker.worker_id for worker in running})
        finally:
            if store_kind == "mongo" and uri:
                drop_database(uri, name)
    times = sorted(datetime.fromisoformat(doc["ts"]) for doc in snaps)
    span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
    for report in per_worker:
        report["snapshots"] = sum(doc["worker"] == report["id"] for doc in snaps)
    return {
        "workers": workers, "store": store_kind, "videos": videos, "faults": faults,
        "concurrency": concurrency, "clock_advance_s": advance_s,
        "exit": [report["exit"] for report in per_worker], "wall_s": round(wall, 2),
        "snapshots": len(snaps), "distinct_videos": len({doc["vid"] for doc in snaps}),
        "snapshots_per_min": round(len(snaps) / wall * 60, 1) if wall else None,
        "visiting_s": round(span, 2),
        "snapshots_per_min_visiting": round(len(snaps) / span * 60, 1) if span else None,
        "per_worker": per_worker,
        "setup_s": {"crawl": round(crawl_s, 2), "first_revisits": round(warmup_s, 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--videos", type=int, default=1005, help="tracked videos (default 1005)")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2],
                        help="worker counts to run (default: 1 2)")
    parser.add_argument("--concurrency", type=int, default=4, help="tabs per worker")
    parser.add_argument("--faults", choices=("on", "off"), default="on")
    parser.add_argument("--advance", type=float, default=3600.0,
                        help="seconds the replica clock moves between the rounds")
    args = parser.parse_args()
    uri = mongo_uri()
    problem = mongo_problem(uri) if uri else None
    plan: list[tuple[int, str]] = []
    for workers in args.workers:
        plan.append((workers, "sqlite"))
        if uri:
            plan.append((workers, problem or "mongo"))
    for workers, kind in plan:
        if kind not in ("sqlite", "mongo"):
            print(json.dumps({"workers": workers, "skipped": kind}, ensure_ascii=False),
                  flush=True)
            continue
        result = scenario(args.videos, workers, kind, faults=args.faults,
                          concurrency=args.concurrency, advance_s=args.advance, uri=uri)
        print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
