"""What is scheduled and how it went: `scrape status` and the monitor's idle log line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..models import MonitorJob, ScheduleEntry
from ..store.base import Store
from ..store.documents import from_doc
from .tiers import format_duration, tier_named

__all__ = ["MARKS", "channel_lines", "corrupt_lines", "job_entries", "moves_line",
           "next_due_line", "status_lines"]

# One document per monitor job: each video's tier-move counters as the last status saw them.
MARKS = "status_marks"


async def next_due_line(store: Store, job: str, now: datetime) -> str:
    entries = await job_entries(store, job)
    videos = [e for e in entries if e.kind == "video"]
    if not videos:
        return "no videos scheduled yet"
    first = min(videos, key=lambda e: e.due)
    soon = sum(e.due <= now + timedelta(hours=1) for e in videos)
    return (f"next: {first.key} ({first.tier}) {_when(first.due, now)}; {soon} of "
            f"{len(videos)} videos due within the hour")


async def status_lines(store: Store, now: datetime) -> list[str]:
    """Per monitor job and tier: videos, next due, failures of the last visit, tier moves
    since the last status; then the runs whose frontier workers are still working through."""
    lines: list[str] = []
    for doc in await store.find_docs("monitors", {}):
        job = from_doc(MonitorJob, doc)
        entries = await job_entries(store, job.job)
        lines += _job_lines(job, entries, now)
        lines.append(await moves_line(store, job.job, entries, now))
    for doc in await store.find_docs("runs", {"status": "running"}):
        counts = await store.frontier_counts(doc["_id"], kind="video")
        lines.append(f"run {doc['_id']} ({doc['job']}): running; videos " + ", ".join(
            f"{counts[state]} {state}" for state in ("pending", "claimed", "done", "failed")))
    lines += await channel_lines(store)
    lines = lines or [f"nothing scheduled in {store.description}"]
    return lines + await corrupt_lines(store)


async def corrupt_lines(store: Store) -> list[str]:
    """The documents the store cannot read back (export skips them), if any."""
    corrupt = await store.corrupt_docs()
    if not corrupt:
        return []
    return [f"corrupt documents{' (the first 20)' if len(corrupt) == 20 else ''}, skipped by "
            f"`scrape export`:", *(f"  {collection} {doc_id!r}: {why}"
                                   for collection, doc_id, why in corrupt)]


async def channel_lines(store: Store) -> list[str]:
    """How many channels, their snapshots and last visit; then one line per channel."""
    channels = await store.find_page("channels", {}, sort=[("last_visit", -1)])
    if not channels:
        return []
    snapshots = await store.count("channel_snapshots")
    lines = [f"channels: {len(channels)}, {snapshots} snapshots, last visit "
             f"{_clock(channels[0]['last_visit'])}"]
    for doc in channels:
        figures = ", ".join(f"{doc.get(name + '_text') or '?'} {label}" for name, label in
                            (("followers", "followers"), ("videos", "videos"),
                             ("plays", "plays")))
        lines.append(f"  {doc['_id']} {doc.get('name', '')}: {figures}; last visit "
                     f"{_clock(doc['last_visit'])}")
    return lines


def _job_lines(job: MonitorJob, entries: list[ScheduleEntry], now: datetime) -> list[str]:
    until = f"until {_clock(job.until)}" if job.until else "no end set"
    state = "ended" if job.until is not None and job.until <= now else "active"
    what = job.category if job.catalogue else f"{len(job.channels)} channels"
    lines = [f"monitor {what} ({job.site}), since {_clock(job.started)}, {until}: {state}"]
    for entry in entries:
        last = (f"failed: {_short(entry.last_error)}" if entry.last_error else
                "ok" if entry.last_visit else "not yet")
        if entry.kind == "catalogue":
            lines.append(f"  catalogue: next read {_when(entry.due, now)}; last read {last}")
        elif entry.kind == "channel":
            lines.append(f"  channel {entry.key} ({entry.tier}): next visit "
                         f"{_when(entry.due, now)}; last visit {last}")
    by_tier: dict[str, list[ScheduleEntry]] = {}
    for entry in entries:
        if entry.kind == "video":
            by_tier.setdefault(entry.tier, []).append(entry)
    names = [t.name for t in job.tiers] + sorted(set(by_tier) - {t.name for t in job.tiers})
    lines.append(f"  {'tier':<8} {'every':>6} {'videos':>6}  {'next due':<28} failed")
    for name in names:
        tier, group = tier_named(job.tiers, name), by_tier.get(name, [])
        every = format_duration(tier.interval_s) if tier.name == name else "?"
        nxt = _when(min(e.due for e in group), now) if group else "-"
        failed = [e for e in group if e.last_error]
        why = f" (e.g. {failed[0].key}: {_short(failed[0].last_error)})" if failed else ""
        lines.append(f"  {name:<8} {every:>6} {len(group):>6}  {nxt:<28} {len(failed)}{why}")
    busy = sum(entry.state == "claimed" for entry in entries)
    if busy:
        lines.append(f"  being visited now: {busy}")
    return lines


async def moves_line(
    store: Store, job: str, entries: list[ScheduleEntry], now: datetime
) -> str:
    """How many videos changed tier since the last status (which this one becomes)."""
    mark = await store.get_doc(MARKS, job)
    seen: dict[str, list[int]] = mark["moves"] if mark else {}
    counts = {e.key: [e.moved_hotter, e.moved_colder] for e in entries if e.kind == "video"}
    moved = [key for key, count in counts.items() if count != seen.get(key, [0, 0])]
    hotter, colder = (sum(counts[k][i] - seen.get(k, [0, 0])[i] for k in moved) for i in (0, 1))
    await store.save_doc(MARKS, job, {"at": now, "moves": counts})
    since = f"the last status ({_clock(mark['at'])})" if mark else "the job started"
    videos = f"{len(moved)} video{'' if len(moved) == 1 else 's'}"
    return (f"  tier moves since {since}: {videos} moved ({hotter} to a hotter tier, "
            f"{colder} to a colder one)")


async def job_entries(store: Store, job: str) -> list[ScheduleEntry]:
    docs = await store.find_docs("schedule", {"job": job})
    return [from_doc(ScheduleEntry, doc) for doc in docs]


def _clock(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _when(due: datetime, now: datetime) -> str:
    late = (now - due).total_seconds()
    if late >= 0:
        return f"now (due {_rounded(late)} ago)" if late >= 1 else "now"
    return f"in {_rounded(-late)} ({due.astimezone(UTC):%H:%M} UTC)"


def _rounded(seconds: float) -> str:
    return format_duration(seconds if seconds < 60 else round(seconds / 60) * 60)


def _short(text: str | None, limit: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
