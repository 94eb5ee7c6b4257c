"""Side by side: `scrape run` against Scrapy + scrapy-playwright and Crawlee, same job.

Each run gets a fresh replica (faults on) and a fresh directory; the contenders
alternate, round after round, so each sees similar machine load. Every run's output is
checked against the replica's ground truth (bench/truth.py), so a fast wrong crawler
cannot win. Prints one JSON line per run, then a table of medians with each peer's
wall time as a multiple of ours. The peers live in bench/.venv-peers
(`bench/setup_peers.sh`); they drive the same Debian chromium-headless-shell, with the
flags Debian's Chromium needs here and the *.test resolver rule.

    python bench/compare.py                              # 150 videos, 3 rounds
    python bench/compare.py --videos 60 --rounds 1 --peer-concurrency 4 8 16
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from dataclasses import asdict
from pathlib import Path

from common import BIN, ROOT, Measured, measure, replica
from truth import Check, check, from_peer, from_scrape_export

from tests.fixtures.replica import ReplicaConfig

PEERS_BIN = ROOT / "bench" / ".venv-peers" / "bin"
PEER_JOBS = {"scrapy": "scrapy_job.py", "crawlee": "crawlee_job.py"}
OURS_CONCURRENCY = 4
# The peers' fastest concurrency in `--rounds 1 --no-ours --peer-concurrency 4 8 16` at 60
# videos (their CPU seconds hardly moved with it; see the README).
BEST = ("scrapy=16", "crawlee=8")


def ours_cmd(port: int, videos: int, tmp: Path) -> list[str]:
    """`scrape run` exactly as bench/run.py runs it."""
    return [str(BIN / "scrape"), "-q", "run", "--category", "today-hot", "--max-videos",
            str(videos), "--resolve", f"*.test=127.0.0.1:{port}", "--store", f"{tmp}/store",
            "--media-dir", f"{tmp}/media", "--concurrency", str(OURS_CONCURRENCY)]


def peer_cmd(name: str, port: int, videos: int, tmp: Path, concurrency: int) -> list[str]:
    job = ROOT / "bench" / "peers" / PEER_JOBS[name]
    return [str(PEERS_BIN / "python"), str(job), "--port", str(port), "--videos", str(videos),
            "--out", f"{tmp}/videos.jsonl", "--media", f"{tmp}/media",
            "--concurrency", str(concurrency)]


def ours_output(tmp: Path) -> dict[str, dict[str, object]]:
    for what in ("videos", "comments"):
        subprocess.run([str(BIN / "scrape"), "export", "--store", f"{tmp}/store", "--what", what,
                        "--out", f"{tmp}/{what}.jsonl"], check=True, cwd=tmp,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return from_scrape_export(tmp / "videos.jsonl", tmp / "comments.jsonl")


def one_run(name: str, videos: int, concurrency: int) -> tuple[Measured, Check]:
    config = ReplicaConfig(videos=videos)
    with replica(videos) as port, tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as d:
        tmp = Path(d)
        if name == "ours":
            measured = measure(ours_cmd(port, videos, tmp), cwd=tmp)
            records = ours_output(tmp)
        else:
            measured = measure(peer_cmd(name, port, videos, tmp, concurrency), cwd=tmp)
            out = tmp / "videos.jsonl"
            records = from_peer(out) if out.exists() else {}
    return measured, check(records, config, videos)


def concurrencies(peer: str, wanted: list[str]) -> list[int]:
    out = []
    for item in wanted:
        name, _, value = item.rpartition("=")
        if name in ("", peer):
            out.append(int(value))
    return out


def label(name: str, concurrency: int) -> str:
    return f"ours (c{OURS_CONCURRENCY})" if name == "ours" else f"{name} (c{concurrency})"


def table(results: dict[str, list[tuple[Measured, Check]]]) -> list[str]:
    """Medians per contender; each peer's wall time and CPU as a multiple of ours (first)."""
    def median(runs: list[tuple[Measured, Check]], key: str) -> float:
        return float(statistics.median(getattr(m, key) for m, _ in runs))

    first = results[next(iter(results))]
    base_wall, base_cpu = median(first, "wall_s"), median(first, "cpu_s")
    rows = [f"{'contender':<14} {'wall s':>7} {'x ours':>6} {'CPU s':>7} {'x ours':>6} "
            f"{'PSS MB':>7}  matched the truth (per run)"]
    for who, runs in results.items():
        wall, cpu = median(runs, "wall_s"), median(runs, "cpu_s")
        matched = ", ".join(f"{c.matched}/{c.expected}" for _, c in runs)
        rows.append(f"{who:<14} {wall:>7.1f} {wall / base_wall:>6.2f} {cpu:>7.1f} "
                    f"{cpu / base_cpu:>6.2f} {median(runs, 'peak_pss_mb'):>7.0f}  {matched}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--videos", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers", nargs="*", default=list(PEER_JOBS), choices=list(PEER_JOBS))
    parser.add_argument("--peer-concurrency", nargs="*", default=list(BEST),
                        help="N (every peer) or PEER=N; one contender per peer and value")
    parser.add_argument("--no-ours", action="store_true", help="peers only (for tuning)")
    args = parser.parse_args()
    if args.peers and not (PEERS_BIN / "python").exists():
        raise SystemExit("bench: no bench/.venv-peers: run bench/setup_peers.sh first")
    lineup = [] if args.no_ours else [("ours", OURS_CONCURRENCY)]
    lineup += [(p, c) for p in args.peers for c in concurrencies(p, args.peer_concurrency)]
    results: dict[str, list[tuple[Measured, Check]]] = {label(*c): [] for c in lineup}
    for round_no in range(args.rounds):
        # Rotate the order each round so no contender always runs first or last.
        shift = round_no % len(lineup)
        for name, concurrency in lineup[shift:] + lineup[:shift]:
            measured, verdict = one_run(name, args.videos, concurrency)
            results[label(name, concurrency)].append((measured, verdict))
            row = asdict(measured) | {"contender": label(name, concurrency),
                                      "round": round_no + 1, "videos": args.videos,
                                      "truth": verdict.line()}
            row["stderr"] = row["stderr"].strip().splitlines()[-1:] if row["stderr"] else []
            print(json.dumps(row, ensure_ascii=False), flush=True)
    print(f"\n{args.videos} videos, {args.rounds} rounds, medians; load average now "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
