"""Benchmark `scrape refresh-selectors` on each of the replica's redesigns.

For each redesign: crawls 60 videos of the 2018 layout (the evidence a real deployment
would have), switches the replica to the redesign and times `refresh-selectors --sample 20
--write` from the 2018 selectors, with the peak PSS of its process tree. Then crawls the
redesign with the repaired versions and counts the fields that differ from what the 2018
crawl stored (wrong values). One JSON line per redesign; figures only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import BIN, ROOT, PeakPss, replica, set_layout

FIELDS = ("title", "subtitle", "duration_s", "duration_text", "stat_play", "stat_play_text",
          "stat_cmt", "category", "channel_name", "channel_link", "thumb_url", "url")


def scrape(*args: str, cwd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "scrape"), "-q", *args], cwd=cwd, text=True,
                          capture_output=True, check=False)


def videos(store: Path) -> dict[str, dict[str, Any]]:
    exported = subprocess.run([str(BIN / "scrape"), "-q", "export", "--store", str(store),
                               "--what", "videos"], text=True, capture_output=True, check=True)
    docs = (json.loads(line) for line in exported.stdout.splitlines())
    return {d["_id"]: d for d in docs}


def bench(layout: str) -> dict[str, Any]:
    with replica(150, faults="off") as port, tempfile.TemporaryDirectory() as tmp:
        resolve = f"*.test=127.0.0.1:{port}"
        selectors = Path(tmp) / "selectors"
        shutil.copytree(ROOT / "selectors", selectors)
        common = ["--resolve", resolve, "--selectors", str(selectors)]
        scrape("run", "--max-videos", "60", "--no-media", "--store", f"{tmp}/s2018", *common,
               cwd=tmp)
        set_layout(port, layout)
        started = time.monotonic()
        proc = subprocess.Popen(
            [str(BIN / "scrape"), "-q", "refresh-selectors", "--sample", "20", "--write",
             "--store", f"{tmp}/s2018", *common], cwd=tmp, stdout=subprocess.PIPE, text=True)
        sampler = PeakPss(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        sampler.done.set()
        table = proc.stdout.read() if proc.stdout else ""
        scrape("run", "--max-videos", "60", "--no-media", "--store", f"{tmp}/sNew", *common,
               cwd=tmp)
        before, after = videos(Path(tmp) / "s2018"), videos(Path(tmp) / "sNew")
    compared = [(vid, f) for vid in before for f in FIELDS]
    correct = sum(vid in after and after[vid][f] == before[vid][f] for vid, f in compared)
    wrong = sum(vid in after and after[vid][f] != before[vid][f] for vid, f in compared)
    return {
        "layout": layout, "exit": os.waitstatus_to_exitcode(status), "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_pss_mb": round(sampler.peak_kb / 1024, 1),
        "repaired": table.count("│ repaired"), "unrepaired": table.count("│ unrepaired"),
        "gone": table.count("│ gone"), "wrong_values": wrong,
        "fields_correct_share": round(correct / len(compared), 4) if compared else None,
    }


def main() -> None:
    for layout in ("redesign", "redesign2"):
        print(json.dumps(bench(layout)), flush=True)


if __name__ == "__main__":
    main()
