"""Every contender's output checked against the replica's ground truth, video by video.

The replica a benchmark run used is rebuilt in-process from the same config (the data
follow from the seed, and its clock stays at the epoch unless moved), so a fast but
wrong crawler cannot win: `check` counts the videos whose every field, segment sha256,
thumbnail and comment tree match, and names the first mismatch of the others.

Both shapes are read: the peers' JSON lines (bench/peers/shared.py) and `scrape export`
of our store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common  # noqa: F401  (puts the repository on sys.path)

from tests.fixtures.replica import ReplicaConfig, Truth, TruthComment
from tests.fixtures.replica.media import jpeg

__all__ = ["Check", "check", "from_peer", "from_scrape_export"]

SMALL_THUMB_PX = 110  # our scraper drops thumbnails narrower than this (a product rule)


@dataclass
class Check:
    expected: int
    matched: int = 0
    missing: int = 0
    wrong: dict[str, str] = field(default_factory=dict)  # vid -> first mismatch

    def line(self) -> str:
        head = f"{self.matched}/{self.expected} videos match the ground truth"
        if self.missing:
            head += f", {self.missing} missing"
        if self.wrong:
            vid, why = next(iter(self.wrong.items()))
            head += f", {len(self.wrong)} wrong (e.g. {vid}: {why})"
        return head


def _tree(comments: list[dict[str, Any]]) -> dict[int, Any]:
    return {c["id"]: (c["content"], c["user_name"], c["up"], _tree(c["replies"]))
            for c in comments}


def _truth_tree(comments: list[TruthComment] | tuple[TruthComment, ...]) -> dict[int, Any]:
    return {c.id: (c.content, c.user_name, c.up, _truth_tree(c.replies)) for c in comments}


def from_peer(path: Path) -> dict[str, dict[str, Any]]:
    """A peer's JSON lines as {vid: record}; a peer records every field in our shape."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        rec["segments"] = [(s["index"], s["sha256"]) for s in rec["segments"]]
        rec["comments"] = _tree(rec["comments"])
        out[rec["vid"]] = rec
    return out


def from_scrape_export(videos: Path, comments: Path) -> dict[str, dict[str, Any]]:
    """`scrape export --what videos` and `--what comments` in the peers' shape."""
    threads: dict[str, list[dict[str, Any]]] = {}
    for line in comments.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        threads.setdefault(doc["vid"], []).append(doc)
    out = {}
    for line in videos.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        thumb = doc.get("thumb_path")
        out[doc["vid"]] = {
            "vid": doc["vid"], "title": doc["title"], "subtitle": doc["subtitle"],
            "channel_name": doc["channel_name"], "channel_link": doc["channel_link"],
            "tag": None if doc["category"] == "未分类" else doc["category"],
            "views_text": doc["stat_play_text"], "unavailable": doc.get("unavailable"),
            "thumb_sha256": _sha256(Path(thumb)) if thumb else None,
            "segments": [(s["index"], s["sha256"] if s["status"] == "ok" else None)
                         for s in doc.get("segments") or []],
            "comment_num": doc["comment_num"], "comment_total": doc["comment_total"],
            "comment_hot": doc["comment_hot"],
            "comments": _tree([_our_comment(c) for c in threads.get(doc["vid"], [])]),
        }
    return out


def _our_comment(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["id"], "content": doc["content"], "user_name": doc["user_name"],
            "up": doc["num_up"], "replies": [_our_comment(r) for r in doc["replies"]]}


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def check(records: dict[str, dict[str, Any]], config: ReplicaConfig, videos: int) -> Check:
    """How many of the first ``videos`` catalogue videos ``records`` hold correctly."""
    truth = Truth(config)
    now = truth.epoch
    vids = truth.categories["jrrm"][:videos]
    result = Check(expected=len(vids))
    for vid in vids:
        rec = records.get(vid)
        if rec is None:
            result.missing += 1
            continue
        why = _mismatch(truth, vid, rec, now)
        if why:
            result.wrong[vid] = why
        else:
            result.matched += 1
    return result


def _mismatch(truth: Truth, vid: str, rec: dict[str, Any], now: float) -> str | None:
    tv = truth.video(vid)
    expected = {
        "title": tv.title, "subtitle": tv.subtitle, "channel_name": tv.channel_name,
        "channel_link": tv.channel_link, "tag": tv.tag, "views_text": truth.views_text(vid, now),
        "comment_num": truth.comment_counts(vid, now)[0],
        "comment_total": truth.comment_counts(vid, now)[1],
        "comment_hot": truth.hot_ids(vid, now),
    }
    for key, value in expected.items():
        if rec.get(key) != value:
            return f"{key} {rec.get(key)!r} != {value!r}"
    if bool(rec.get("unavailable")) != (tv.status != "ok"):
        return f"unavailable {rec.get('unavailable')!r} but status {tv.status}"
    segments = [(s.index, None if s.paywalled else s.sha256) for s in tv.segments]
    if tv.status == "ok" and rec["segments"] != segments:
        return "segments differ (index or sha256)"
    thumb = hashlib.sha256(jpeg(*tv.thumb_size, tag=tv.thumb_hex)).hexdigest()
    small = tv.thumb_size[0] < SMALL_THUMB_PX
    if rec.get("thumb_sha256") != thumb and not (small and rec.get("thumb_sha256") is None):
        return "thumbnail differs"
    if rec["comments"] != _truth_tree(truth.comments(vid, now)):
        return "comment tree differs"
    return None
