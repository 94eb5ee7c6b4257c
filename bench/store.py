"""The SQLite store at the size of weeks of monitoring: speed, size and memory.

    python bench/store.py [--snapshots 1000000] [--comments 200000] [--dir DIR]

Fills a store (snapshots of 1,005 videos written in large transactions of the same
documents ``add_snapshot`` writes, so a million take a minute rather than a million
commits; top-level comments with two replies each through ``save_comments``; a monitor
job scheduling those videos), then measures, each in a fresh process: opening the store,
single snapshot writes through the Store API, reading every snapshot, `scrape status`,
`scrape export` of the snapshots (documents/s), the file's size and each step's peak RSS
(and CPU seconds: the machine may be shared). Prints JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import BIN

from scraper.models import Comment, MonitorJob, ScheduleEntry, Snapshot, Tier
from scraper.store.documents import snapshot_doc
from scraper.store.sqlite import SqliteStore
from scraper.store.sqlite_ops import in_write, put
from scraper.store.sqlite_schema import open_file

VIDEOS = 1005
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def comment(n: int) -> Comment:
    replies = [Comment(vid=f"v{n % VIDEOS}", id=10**9 + 2 * n + k, time=T0,
                       user=k, user_name=f"回复{k}", content="reply text " * 3,
                       parent_id=n) for k in range(2)]
    return Comment(vid=f"v{n % VIDEOS}", id=n, time=T0 + timedelta(seconds=n), user=n,
                   user_name=f"用户{n}", content=f"comment {n} " + "很好看 " * 8,
                   num_up=n % 50, num_reply=2, replies=replies)


def snapshot(n: int) -> dict[str, object]:
    vid, ts = f"v{n % VIDEOS}", T0 + timedelta(hours=n // VIDEOS)
    snap = Snapshot(vid=vid, ts=ts, stat_play=1000 + n, stat_play_text=str(1000 + n),
                    stat_cmt=n % 300, comment_total=n % 300, run_id="monitor:bench",
                    worker="bench", tier="hot")
    return snapshot_doc(snap, f"{vid}:{ts:%Y%m%dT%H%M%S}")


async def fill(path: Path, snapshots: int, comments: int) -> None:
    started = time.monotonic()
    writer, _ = open_file(path)  # the store's own file functions, for large transactions
    async with SqliteStore(path) as store:
        for start in range(0, comments, 1000):
            await store.save_comments([comment(n) for n in range(start,
                                                                 min(start + 1000, comments))])
        for start in range(0, snapshots, 10_000):
            docs = [snapshot(n) for n in range(start, min(start + 10_000, snapshots))]
            in_write(writer, put, "snapshots", docs)  # the bench alone: blocking is fine
        job = MonitorJob(job="monitor:bench", site="youku-replica", category="today-hot",
                         tiers=[Tier(name="hot", interval_s=3600)], cold_after_s=86400,
                         jitter=0.1, catalogue_every_s=3600, started=T0)
        await store.save_doc("monitors", job.job, job.model_dump())
        await store.schedule_add([
            ScheduleEntry(id=f"monitor:bench:video:v{n}", job=job.job, kind="video",
                          key=f"v{n}", tier="hot", card={"vid": f"v{n}"},
                          due=T0 + timedelta(minutes=n), first_seen=T0)
            for n in range(VIDEOS)])
    writer.close()
    emit(step="fill", snapshots=snapshots, comments=comments,
         seconds=round(time.monotonic() - started, 1), peak_rss_mb=peak_rss_mb())


async def open_and_write(path: Path) -> None:
    started = time.perf_counter()
    async with SqliteStore(path) as store:
        opened = time.perf_counter() - started
        await store.count("videos")  # the first read
        first_read = time.perf_counter() - started
        writes = []
        for n in range(20):
            snap = Snapshot(vid="v1", ts=datetime.now(UTC), stat_play=n, run_id="bench-write")
            began = time.perf_counter()
            await store.add_snapshot(snap, visit_id=f"v1:bench-write:{n}")
            writes.append(time.perf_counter() - began)
    emit(step="open", open_ms=round(opened * 1000, 1), first_read_ms=round(first_read * 1000, 1),
         snapshot_write_ms_median=round(sorted(writes)[len(writes) // 2] * 1000, 2),
         snapshot_write_ms_max=round(max(writes) * 1000, 2), peak_rss_mb=peak_rss_mb())


async def read_all(path: Path) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    async with SqliteStore(path) as store:
        docs = 0
        async for _ in store.iter_docs("snapshots"):
            docs += 1
    elapsed = time.perf_counter() - started
    emit(step="read", docs=docs, docs_per_s=round(docs / elapsed),
         docs_per_cpu_s=round(docs / (time.process_time() - cpu)), peak_rss_mb=peak_rss_mb())


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def command(step: str, *args: str) -> float:
    """A `scrape` command in its own process; emits its time and peak RSS, returns the time."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([str(BIN / "scrape"), *args], stdout=subprocess.DEVNULL,
                                stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        if proc.returncode:
            err.seek(0)
            sys.exit(f"{step} failed: {err.read().decode()}")
    emit(step=step, seconds=round(elapsed, 2), cpu_s=round(usage.ru_utime + usage.ru_stime, 2),
         peak_rss_mb=round(usage.ru_maxrss / 1024, 1))
    return elapsed


STEPS = {"open": open_and_write, "read": read_all}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument("--comments", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the store goes; one filled there before is measured again")
    parser.add_argument("--step", choices=["fill", *STEPS], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # a child process measuring one step
        path = args.dir / "bench.db"
        asyncio.run(fill(path, args.snapshots, args.comments) if args.step == "fill"
                    else STEPS[args.step](path))
        return
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-store-"))
    me = [sys.executable, __file__, "--dir", str(folder), "--snapshots", str(args.snapshots),
          "--comments", str(args.comments)]
    if (folder / "bench.db").exists():
        emit(step="fill", reused=str(folder / "bench.db"))
    else:
        subprocess.run([*me, "--step", "fill"], check=True)
    for step in ("open", "read"):
        subprocess.run([*me, "--step", step], check=True)
    store = str(folder / "bench.db")
    command("status", "status", "--store", store)
    elapsed = command("export", "export", "--store", store, "--what", "snapshots",
                      "--out", str(folder / "snapshots.jsonl"))
    docs = args.snapshots + 20
    emit(step="export_rate", docs=docs, docs_per_s=round(docs / elapsed),
         note="whole command: process start, reading, JSON lines written")
    size = sum(p.stat().st_size for p in folder.glob("bench.db*"))
    emit(step="size", file_mb=round(size / 2**20, 1),
         bytes_per_doc=round(size / (args.snapshots + args.comments)))


if __name__ == "__main__":
    main()
