"""The `scrape` command as users run it: bad input, interruption, resume and re-runs."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from scraper.store.target import open_store

pytestmark = [pytest.mark.browser]

SCRAPE = str(Path(sys.executable).parent / "scrape")


async def scrape(*args: str, cwd: Path, timeout_s: float = 240) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        SCRAPE, *args, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "MONGODB_URI": ""})
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def run_args(replica: Any, tmp: Path, *extra: str) -> list[str]:
    return ["-q", "run", "--category", "today-hot", "--resolve", replica.resolve,
            "--store", str(tmp / "store"), "--media-dir", str(tmp / "media"), *extra]


def one_error_line(err: str, code: int, rc: int, needle: str) -> None:
    assert rc == code, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("scrape: error: ") and needle in last, err


@pytest.mark.parametrize(("args", "code", "needle"), [
    (["--category", "nope"], 2, "unknown category 'nope'"),
    (["--site", "nosuchsite"], 2, "unknown site 'nosuchsite'"),
    (["--resolve", "*.test=127.0.0.1"], 2, "bad --resolve rule"),
    (["--store", "mongodb://127.0.0.1:1/x"], 4, "cannot reach MongoDB"),
])
async def test_bad_input_one_line(
    replica: Any, tmp_path: Path, args: list[str], code: int, needle: str
) -> None:
    rc, _, err = await scrape(*run_args(replica, tmp_path), *args, cwd=tmp_path)
    one_error_line(err, code, rc, needle)


async def test_unwritable_media_dir(replica: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    rc, _, err = await scrape(*run_args(replica, tmp_path), "--media-dir", str(blocker / "m"),
                              cwd=tmp_path)
    one_error_line(err, 2, rc, "not writable")


def copy_selectors(tmp_path: Path) -> Path:
    """The repository's selector files, copied for a test to break."""
    root = Path(__file__).resolve().parent.parent / "selectors"
    copy = tmp_path / "selectors"
    for path in root.rglob("*.toml"):
        target = copy / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return copy


async def test_malformed_selector_file(replica: Any, tmp_path: Path) -> None:
    copy = copy_selectors(tmp_path)
    video_v1 = copy / "youku" / "pages" / "video" / "v1.toml"
    video_v1.write_text(video_v1.read_text(encoding="utf-8").replace(
        'convert = "strip"', 'convert = "nonsense"', 1), encoding="utf-8")
    rc, _, err = await scrape(*run_args(replica, tmp_path), "--selectors", str(copy),
                              cwd=tmp_path)
    one_error_line(err, 2, rc, "v1.toml")
    assert "nonsense" in err


async def test_unreachable_site(tmp_path: Path) -> None:
    rc, _, err = await scrape("-q", "run", "--resolve", "*.test=127.0.0.1:9",
                              "--store", str(tmp_path / "s"), "--media-dir", str(tmp_path / "m"),
                              cwd=tmp_path)
    one_error_line(err, 3, rc, "catalogue")


async def stored_videos(store_dir: Path) -> int:
    """Videos stored so far, read while the crawl writes (the store file is shared)."""
    if not (store_dir / "scrape.db").exists():
        return 0
    async with open_store(str(store_dir)) as store:
        return await store.count("videos")


async def wait_for_videos(store_dir: Path, n: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while await stored_videos(store_dir) < n:
        assert time.monotonic() < deadline, "the crawl stored too few videos in time"
        await asyncio.sleep(0.2)


async def check_against_truth(replica: Any, store_dir: Path, vids: list[str]) -> None:
    truth, now = replica.truth, replica.clock.now()
    async with open_store(str(store_dir)) as store:
        videos = {d["_id"]: d async for d in store.iter_docs("videos")}
        comments = [d async for d in store.iter_docs("comments")]
        snaps = [d async for d in store.iter_docs("snapshots")]
        runs = [d async for d in store.iter_docs("runs")]
    assert sorted(videos) == sorted(vids)
    for vid in vids:
        tv, doc = truth.video(vid), videos[vid]
        assert (doc["title"], doc["subtitle"], doc["channel_name"]) == (
            tv.title, tv.subtitle, tv.channel_name)
        assert doc["comment_total"] == truth.comment_counts(vid, now)[1]
        ok = [s for s in doc["segments"] if s["status"] == "ok"]
        assert [s["sha256"] for s in ok] == [
            s.sha256 for s in tv.segments if not s.paywalled][: len(ok)]
    expected_comments = sum(len(truth.comments(vid, now)) for vid in vids)
    assert len(comments) == len({c["_id"] for c in comments}) == expected_comments
    assert len(snaps) == len(vids)
    assert len(runs) == 1 and runs[0]["status"] == "finished"


async def test_kill_9_then_rerun_equals_an_uninterrupted_run(
    replica: Any, tmp_path: Path
) -> None:
    args = run_args(replica, tmp_path, "--max-videos", "40")
    proc = await asyncio.create_subprocess_exec(
        SCRAPE, *args, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    await wait_for_videos(tmp_path / "store", 8)
    proc.kill()
    await proc.wait()
    partial = await stored_videos(tmp_path / "store")
    assert partial < 40
    rc, _, err = await scrape(*args, cwd=tmp_path)
    assert rc == 0, err
    await check_against_truth(replica, tmp_path / "store",
                              replica.truth.categories["jrrm"][:40])
    # The summary gives this invocation's videos, then the whole run's, each labelled.
    headline, whole = err.strip().splitlines()[:2]
    assert headline.startswith("Stored ") and headline.endswith(" (this invocation)"), err
    assert 0 < int(headline.split()[1]) < 40
    assert whole == "  whole run: 40 videos done, 0 failed (with earlier invocations)"


async def test_ctrl_c_stops_cleanly_and_resumes(replica: Any, tmp_path: Path) -> None:
    args = run_args(replica, tmp_path, "--max-videos", "30")
    proc = await asyncio.create_subprocess_exec(
        SCRAPE, *args, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    await wait_for_videos(tmp_path / "store", 5)
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert time.monotonic() - started < 15
    assert proc.returncode == 130, err
    assert "Traceback" not in err.decode()
    async with open_store(str(tmp_path / "store")) as store:
        runs = [d async for d in store.iter_docs("runs")]
    assert [r["status"] for r in runs] == ["interrupted"]
    rc, _, err2 = await scrape(*args, cwd=tmp_path)
    assert rc == 0, err2
    await check_against_truth(replica, tmp_path / "store",
                              replica.truth.categories["jrrm"][:30])


async def test_export_jsonl(replica: Any, tmp_path: Path) -> None:
    rc, _, err = await scrape(*run_args(replica, tmp_path, "--max-videos", "5", "--no-media"),
                              cwd=tmp_path)
    assert rc == 0, err
    rc, out, err = await scrape("export", "--store", str(tmp_path / "store"), "--what",
                                "videos", cwd=tmp_path)
    assert rc == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(d["vid"] for d in lines) == sorted(replica.truth.categories["jrrm"][:5])
    assert all(d["segments"] and d["segments"][0]["status"] in ("skipped", "paywalled")
               for d in lines if d["status"] != "unavailable")


async def test_stream_preference(replica: Any, tmp_path: Path) -> None:
    vids = replica.truth.categories["jrrm"]
    index = next(i for i, vid in enumerate(vids) if replica.truth.video(vid).status == "no_mp4sd")
    target = vids[index]
    args = run_args(replica, tmp_path, "--max-videos", str(index + 1), "--no-media",
                    "--max-comments", "0", "--stream", "mp4sd", "--stream", "mp4hd")
    rc, _, err = await scrape(*args, cwd=tmp_path)
    assert rc == 0, err
    async with open_store(str(tmp_path / "store")) as store:
        doc = await store.get_doc("videos", target)
    assert doc is not None
    kinds = {s.stream_type for s in replica.truth.video(target).streams}
    expected = "mp4hd" if "mp4hd" in kinds else None
    assert doc["stream_type"] == expected
    assert (doc["status"] == "unavailable") == (expected is None)


def test_version_and_an_empty_for_are_answered_without_a_browser(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run([SCRAPE, "--version"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "scrape, version 0.1.0")
    done = subprocess.run([SCRAPE, "monitor", "--for", "", "--store", str(tmp_path / "s")],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    one_error_line(done.stderr, 2, done.returncode, "bad --for ''")
    assert not (tmp_path / "s").exists()


def test_ctrl_c_before_the_crawl_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C while the store is still being chosen (the 2 s MongoDB probe) is the same
    one line and exit 130 as during the crawl, not click's "Aborted!" and exit 1."""
    from scraper import cli
    from scraper.cli import data

    def interrupt(explicit: str | None) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "store_target", interrupt)  # where `scrape status` looks it up
    monkeypatch.setattr(sys, "argv", ["scrape", "status"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    err = capsys.readouterr().err
    one_error_line(err, 130, int(str(exited.value.code)), "interrupted")
    assert "Aborted" not in err


async def test_verbose_adds_a_line_per_video(replica: Any, tmp_path: Path) -> None:
    args = run_args(replica, tmp_path, "--max-videos", "3", "--no-media")[1:]  # without -q
    rc, _, plain = await scrape(*args, cwd=tmp_path)
    assert rc == 0 and "scraper.videos" not in plain, plain
    rc, _, verbose = await scrape("-v", *args, cwd=tmp_path)
    assert rc == 0, verbose
    lines = [line for line in verbose.splitlines() if "scraper.videos" in line]
    vids = replica.truth.categories["jrrm"][:3]
    assert sorted(line.split("video ")[1].split(":")[0] for line in lines) == sorted(vids)


async def test_a_redesigned_catalogue_is_drift_not_an_unreachable_site(
    make_replica: Any, tmp_path: Path
) -> None:
    async with make_replica(videos=15, seed=5, faults=False, layout="redesign") as rep:
        rc, _, err = await scrape(*run_args(rep, tmp_path), cwd=tmp_path)
    one_error_line(err, 8, rc, "no selector version finds video cards")
    assert "scrape refresh-selectors" in err.strip().splitlines()[-1]


def _scrape_now(*args: str, cwd: Path) -> tuple[int, str]:
    done = subprocess.run([SCRAPE, *args], capture_output=True, text=True, check=False, cwd=cwd,
                          env={**os.environ, "MONGODB_URI": ""})
    return done.returncode, done.stderr


def test_reading_commands_never_create_a_store(tmp_path: Path) -> None:
    rc, err = _scrape_now("export", "--store", "cleann", "--what", "videos", cwd=tmp_path)
    one_error_line(err, 2, rc, "no store at cleann")
    rc, err = _scrape_now("status", "--store", str(tmp_path / "nowhere.db"), cwd=tmp_path)
    one_error_line(err, 2, rc, "no store at")
    rc, err = _scrape_now("export", "--store", "mongo://127.0.0.1/db", "--what", "videos",
                          cwd=tmp_path)
    one_error_line(err, 2, rc, "not a MongoDB URI")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_the_old_file_and_out_errors_are_one_line(
    tmp_path: Path,
) -> None:
    foreign = tmp_path / "notes.db"
    foreign.write_text("not a database, and never to be overwritten\n")
    out = tmp_path / "videos.jsonl"
    out.write_text('{"old": true}\n')
    rc, err = _scrape_now("export", "--store", str(foreign), "--what", "videos",
                          "--out", str(out), cwd=tmp_path)
    one_error_line(err, 4, rc, str(foreign))
    assert out.read_text() == '{"old": true}\n'
    assert foreign.read_text() == "not a database, and never to be overwritten\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db", "videos.jsonl"]
    named = tmp_path / "notes"  # a file whose name has no .db suffix: no "File exists"
    named.write_text("plain text")
    rc, err = _scrape_now("status", "--store", str(named), cwd=tmp_path)
    one_error_line(err, 4, rc, str(named))
    assert named.read_text() == "plain text"
    rc, err = _scrape_now("run", "--store", str(tmp_path / "s"), "--max-videos", "1",
                          "--resolve", "*.test=127.0.0.1:9", cwd=tmp_path)
    rc, err = _scrape_now("export", "--store", str(tmp_path / "s"), "--what", "runs",
                          cwd=tmp_path)
    assert rc == 2  # click's own usage error for a bad choice
    rc, err = _scrape_now("export", "--store", str(tmp_path / "s"), "--what", "videos",
                          "--out", str(tmp_path / "missing" / "v.csv"), cwd=tmp_path)
    one_error_line(err, 2, rc, "cannot write")


async def test_video_pages_no_selector_reads_are_drift(replica: Any, tmp_path: Path) -> None:
    copy = copy_selectors(tmp_path)
    video_v1 = copy / "youku" / "pages" / "video" / "v1.toml"
    video_v1.write_text(video_v1.read_text(encoding="utf-8").replace(
        '//span[@id = "subtitle"]/@title', '//span[@id = "renamed-by-a-redesign"]/@title', 1),
        encoding="utf-8")
    rc, _, err = await scrape(*run_args(replica, tmp_path, "--max-videos", "3", "--no-media"),
                              "--selectors", str(copy), cwd=tmp_path)
    one_error_line(err, 8, rc, "no selector version reads it (3 videos)")


@pytest.mark.parametrize("uri", ["mongodb://127.0.0.1:abc/db", "mongodb://[::1/db"])
def test_a_malformed_mongodb_uri_is_one_line(tmp_path: Path, uri: str) -> None:
    rc, err = _scrape_now("status", "--store", uri, cwd=tmp_path)
    one_error_line(err, 2, rc, "bad MongoDB URI")


async def _filled_store(path: Path) -> None:
    from scraper.store.sqlite import SqliteStore
    from tests.test_filters import fill

    async with SqliteStore(path) as store:
        await fill(store)


def _corrupt_row(path: Path, collection: str, doc_id: str) -> bytes:
    """Cut a row's BSON short, as a disk fault might; returns the row as it was."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        (blob,) = conn.execute(f"SELECT doc FROM {collection} WHERE id = ?", [doc_id]).fetchone()
        conn.execute(f"UPDATE {collection} SET doc = ? WHERE id = ?", [blob[:-7], doc_id])
    conn.close()
    return bytes(blob)


def test_export_filters_and_parquet_from_the_suffix(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    db = tmp_path / "s.db"
    asyncio.run(_filled_store(db))
    out = tmp_path / "snaps.parquet"
    rc, err = _scrape_now("export", "--store", str(db), "--what", "snapshots", "--vid",
                          "XMTEy==", "--vid", "XMTEz", "--since", "2024-05-01T13:00:00",
                          "--until", "2024-05-01T14:00:00Z", "--out", str(out), cwd=tmp_path)
    assert (rc, err) == (0, f"exported 2 snapshots to {out}\n")
    rows = pq.read_table(out).to_pylist()
    assert [(r["vid"], r["stat_play"], r["ts"].hour) for r in rows] == [
        ("XMTEy", 1, 13), ("XMTEz", 1, 13)]
    rc, err = _scrape_now("export", "--store", str(db), "--what", "videos", "--category",
                          "military", "--format", "parquet", cwd=tmp_path)
    one_error_line(err, 2, rc, "--format parquet writes a file: give --out FILE.parquet")
    rc, err = _scrape_now("export", "--store", str(db), "--what", "videos", "--since",
                          "yesterday", cwd=tmp_path)
    one_error_line(err, 2, rc, "--since (an ISO date or time, or a duration)")
    written = out.read_bytes()
    rc, err = _scrape_now("export", "--store", str(db), "--what", "snapshots", "--category",
                          "todayhot", "--out", str(out), cwd=tmp_path)
    one_error_line(err, 2, rc, "--category 'todayhot': no run crawled it into ")
    assert out.read_bytes() == written  # the earlier export is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db", "snaps.parquet"]


def test_a_corrupt_document_is_named_skipped_and_counted(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    asyncio.run(_filled_store(db))
    _corrupt_row(db, "videos", "XMTEy")
    out = tmp_path / "videos.jsonl"
    rc, err = _scrape_now("export", "--store", str(db), "--what", "videos", "--out", str(out),
                          cwd=tmp_path)
    assert rc == 0, err
    warning, summary = err.splitlines()
    assert warning.startswith("scrape: warning: skipped document 'XMTEy' of videos: its BSON "
                              "does not decode")
    assert summary == f"exported 2 videos to {out}; skipped 1 corrupt: 'XMTEy'"
    assert [json.loads(line)["_id"] for line in out.read_text().splitlines()] == [
        "XMTEx", "XMTEz"]
    done = subprocess.run([SCRAPE, "status", "--store", str(db)], capture_output=True,
                          text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == [
        "corrupt documents, skipped by `scrape export`:",
        "  videos 'XMTEy': its BSON does not decode (objsize too large)"]


async def test_run_video_crawls_exactly_those_videos(replica: Any, tmp_path: Path) -> None:
    first, second, third = replica.truth.categories["jrrm"][20:23]
    refs = [first + "==", f"http://v.youku.test/v_show/id_{second}==.html",
            str(replica.truth.video(third).numeric_id), "XNOPE123"]
    rc, _, err = await scrape(*run_args(replica, tmp_path, "--no-media"),
                              *(arg for ref in refs for arg in ("--video", ref)), cwd=tmp_path)
    assert rc == 6, err  # finished, one video failed
    warning, headline = err.strip().splitlines()[:2]
    assert warning.endswith("WARNING scraper.crawl.video: video XNOPE123 failed: video page "
                            "not found (404)")
    assert headline.startswith("Stored 3 videos, 1 failed (1 VideoUnavailable; ")
    async with open_store(str(tmp_path / "store")) as store:
        videos = {d["_id"]: d async for d in store.iter_docs("videos")}
        (run,) = [d async for d in store.iter_docs("runs")]
    assert sorted(videos) == sorted([first, second, third])  # no catalogue was read
    for vid, doc in videos.items():
        truth = replica.truth.video(vid)
        # No card was read: the title is the one the video page shows (the long one).
        assert (doc["title"], doc["subtitle"], doc["channel_name"], doc["duration_s"]) == (
            truth.subtitle, truth.subtitle, truth.channel_name, truth.duration_s)
    assert run["counters"].get("catalogue.pages", 0) == 0
    rc, _, err = await scrape(*run_args(replica, tmp_path), "--video", "no such thing?",
                              cwd=tmp_path)
    one_error_line(err, 2, rc, "--video 'no such thing?' names no video")


# --- the README's exit-code table, as the commands meet each failure -------------------

def _xvfb(*args: str) -> list[str]:
    return ["xvfb-run", "-a", SCRAPE, *args]


EXIT_CASES: dict[str, tuple[Any, int, str]] = {
    "run, every video unknown": (lambda rep, tmp: [
        SCRAPE, "-q", "run", "--video", "XNOPE1", "--no-media", "--resolve", rep.resolve,
        "--store", str(tmp / "s")], 1, "no video could be crawled: all 1 failed"),
    "debug, a 404 page": (lambda rep, tmp: _xvfb(
        "debug", "http://v.youku.test/v_show/id_XNOPE==.html", "--resolve", rep.resolve,
        "--out", str(tmp / "d")), 1, "answered HTTP 404: no page to inspect"),
    "run, a bad --video": (lambda rep, tmp: [
        SCRAPE, "run", "--video", "a b", "--resolve", rep.resolve, "--store", str(tmp / "s")],
        2, "--video 'a b' names no video"),
    "monitor, site unreachable": (lambda rep, tmp: [
        SCRAPE, "-q", "monitor", "--once", "--no-media", "--resolve", "*.test=127.0.0.1:9",
        "--store", str(tmp / "s")], 3, "cannot load the catalogue: "),
    "debug, site unreachable": (lambda rep, tmp: _xvfb(
        "debug", "http://v.youku.test/v_show/id_XNOPE==.html", "--resolve",
        "*.test=127.0.0.1:9", "--out", str(tmp / "d")), 3, "ERR_CONNECTION_REFUSED"),
    "worker, site unreachable": (lambda rep, tmp: ["sh", "-c", " ".join(map(shlex.quote, [
        SCRAPE, "-q", "monitor", "--enqueue-only", "--store", str(tmp / "s")])) + " && exec "
        + " ".join(map(shlex.quote, [SCRAPE, "-q", "worker", "--once", "--resolve",
                                     "*.test=127.0.0.1:9", "--store", str(tmp / "s")]))],
        3, "cannot load the catalogue: "),
    "run, Chromium cannot start": (lambda rep, tmp: [
        SCRAPE, "-q", "run", "--chromium", "/bin/false", "--resolve", rep.resolve,
        "--store", str(tmp / "s")], 5, "cannot start Chromium"),
}


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (Debian xvfb)")
@pytest.mark.parametrize("case", sorted(EXIT_CASES))
async def test_each_documented_failure_has_its_code_and_one_line(
    replica: Any, tmp_path: Path, case: str
) -> None:
    command, code, needle = EXIT_CASES[case]
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"} | {"MONGODB_URI": ""}
    proc = await asyncio.create_subprocess_exec(
        *command(replica, tmp_path), cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    one_error_line(err.decode(), code, proc.returncode, needle)
    assert sum(line.startswith("scrape: error: ") for line in err.decode().splitlines()) == 1
    assert not (tmp_path / "d" / "page.png").exists()  # debug: no evidence of a wrong page


# Codes whose documented failure a test elsewhere runs, as users meet it.
ELSEWHERE = {
    2: "tests/test_cli.py::test_bad_input_one_line",
    3: "tests/test_cli.py::test_unreachable_site",
    4: "tests/test_cli.py::test_a_failed_export_leaves_the_old_file_and_out_errors_are_one_line",
    6: "tests/test_chromium.py::test_videos_failing_for_good_give_exit_6_and_are_retried_once",
    7: "tests/test_chromium.py::test_a_full_disk_stops_with_one_line_and_resumes_exact",
    8: "tests/test_cli.py::test_a_redesigned_catalogue_is_drift_not_an_unreachable_site",
    130: "tests/test_cli.py::test_ctrl_c_stops_cleanly_and_resumes",
}


def test_every_code_of_the_readme_table_is_tested() -> None:
    import re

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    documented = {int(code) for code in re.findall(r"^  \| (\d+) \| ", readme, re.MULTILINE)}
    tested = {code for _, code, _ in EXIT_CASES.values()} | set(ELSEWHERE) | {0}
    assert documented == tested
    for where in ELSEWHERE.values():
        path, name = where.split("::")
        assert f"def {name}(" in (Path(__file__).parent.parent / path).read_text()
