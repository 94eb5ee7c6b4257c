"""`scrape run` over several lists against the replica: `--channel`, `--category all`, both
at once; compared field by field with the replica's ground truth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from scraper.jobs.run import CrawlOutcome, run_crawl
from scraper.progress import Count
from scraper.site.extract import extract_page
from scraper.site.load import load_site
from scraper.store.target import open_store
from tests.conftest import MakeReplica
from tests.test_cli import one_error_line, scrape
from tests.test_crawl import count_value, crawl_settings, docs
from tests.test_replica import get

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Small: 15 videos in today-hot, 5 in each other category; every channel also has videos no
# catalogue lists (enough for the biggest channel's list to take two pages of 20).
SMALL: dict[str, Any] = {"videos": 15, "other_videos": 5, "channel_videos": 18, "seed": 5,
                         "faults": False, "segment_kb": 16, "publication": False}
CLI_NAMES = {"jrrm": "today-hot", "jkjs": "surveillance", "jsqy": "military"}


def assert_video_as_truth(doc: dict[str, Any], truth: Any, now: float) -> None:
    tv = truth.video(doc["_id"])
    assert (doc["title"], doc["subtitle"]) == (tv.title, tv.subtitle)
    assert (doc["duration_s"], doc["duration_text"]) == (tv.duration_s, tv.duration_text)
    assert (doc["channel_name"], doc["channel_link"]) == (tv.channel_name, tv.channel_link)
    assert doc["category"] == (tv.tag or "未分类")
    assert doc["stat_play_text"] == truth.views_text(tv.vid, now)
    assert doc["stat_play"] == count_value(truth.views_text(tv.vid, now))
    unavailable = tv.status in ("private", "blocked", "no_mp4sd")
    assert doc["status"] == ("unavailable" if unavailable else "ok"), doc["_id"]
    # A channel's list shows no thumbnail: a video seen in no catalogue takes it from the
    # play-info, which a private or blocked video does not answer.
    from_channels = not any(name.startswith("category:") for name in doc["lists"])
    unknowable = from_channels and tv.status in ("private", "blocked")
    assert doc["url"] == tv.url and doc["thumb_url"] == (None if unknowable else tv.thumb_url)


def assert_channel_as_truth(doc: dict[str, Any], found: Any) -> None:
    assert (doc["_id"], doc["name"], doc["link"], doc["avatar_url"]) == (
        found.uid, found.name, found.link, found.avatar_url)
    for name in ("followers", "videos", "plays"):
        shown = getattr(found, f"{name}_text")
        assert doc[f"{name}_text"] == shown
        assert doc[name] == count_value(shown)


@pytest.fixture(scope="module")
async def channel_run(
    make_replica: MakeReplica, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Any, CrawlOutcome, Any, Any]]:
    """`run --channel` of the channel with the most videos, given as its link."""
    async with make_replica(**SMALL) as rep:
        now = rep.clock.now()
        found = max((rep.truth.channel(uid, now) for uid in rep.truth.channel_uids()),
                    key=lambda c: c.videos)
        settings = crawl_settings(rep, tmp_path_factory.mktemp("channel"), no_media=True,
                                  max_videos=None, channels=(found.link,))
        yield rep, await run_crawl(settings), settings, found


async def test_run_channel_stores_every_video_of_the_channel(channel_run: Any) -> None:
    rep, outcome, settings, found = channel_run
    truth, now = rep.truth, rep.clock.now()
    assert found.videos > 20  # its list has two pages
    assert any(truth.video(vid).category is None for vid in found.vids)  # off-catalogue
    async with open_store(settings.store) as store:
        videos = await docs(store, "videos")
        channels = await docs(store, "channels")
        snapshots = await docs(store, "channel_snapshots")
    assert sorted(videos) == sorted(found.vids)
    for doc in videos.values():
        assert_video_as_truth(doc, truth, now)
        assert doc["lists"] == [f"channel:{found.uid}"]
        assert doc["published"] == truth.video(doc["_id"]).published_date  # as the list shows
    assert list(channels) == [found.uid]
    assert_channel_as_truth(channels[found.uid], found)
    assert channels[found.uid]["first_visit"] == channels[found.uid]["last_visit"]
    (snap,) = snapshots.values()
    assert snap["_id"] == f"{found.uid}:{outcome.run.run_id}"
    assert {k: snap[k] for k in ("uid", "followers", "followers_text", "videos", "plays_text")} \
        == {k: channels[found.uid][k] for k in ("uid", "followers", "followers_text", "videos",
                                                "plays_text")}
    assert outcome.run.category == f"channel:{found.uid}"
    assert outcome.stats.examples[Count.CHANNELS_RECORDED] == [
        f"{found.name} ({found.followers_text} followers)"]  # the summary's channels line
    assert outcome.stats["videos.failed"] == 0


async def test_a_plain_get_of_a_channel_home_lacks_the_followers(channel_run: Any) -> None:
    """The head is inserted by the page's script: the served HTML has no figures, the
    rendered page (what the run stored) has them."""
    rep, _, settings, found = channel_run
    status, _, body = await get(rep, found.link)
    assert status == 200
    site = load_site(settings)
    plain = extract_page(body.decode(), site.channel, base_scheme="http")
    assert {"name", "followers", "followers_text"} <= set(plain.missing)
    assert plain.values["followers"] is None and found.followers_text not in (
        plain.values.get("followers_text") or "")
    async with open_store(settings.store) as store:
        stored = await store.get_doc("channels", found.uid)
    assert stored is not None and stored["followers_text"] == found.followers_text


async def test_run_category_all_and_a_channel_records_every_list(
    make_replica: MakeReplica, tmp_path: Path
) -> None:
    """Every video of every category once, with the lists it was seen in: its category and,
    for the channel given too, that channel; a later run of one category loses none."""
    async with make_replica(**{**SMALL, "channel_videos": 1}) as rep:
        truth, now = rep.truth, rep.clock.now()
        listed = {vid: slug for slug in ("jrrm", "jkjs", "jsqy")
                  for vid in truth.catalogue(slug, now)}
        channels = [truth.channel(uid, now) for uid in truth.channel_uids()]
        found = max(channels, key=lambda c: sum(v in listed for v in c.vids))
        settings = crawl_settings(rep, tmp_path, no_media=True, max_videos=None,
                                  categories=("all",), channels=(found.uid + "==",))
        outcome = await run_crawl(settings)
        expected = {vid: [f"category:{CLI_NAMES[slug]}"] for vid, slug in listed.items()}
        for vid in found.vids:
            expected.setdefault(vid, []).append(f"channel:{found.uid}")
        async with open_store(settings.store) as store:
            videos = await docs(store, "videos")
        assert {vid: sorted(doc["lists"]) for vid, doc in videos.items()} == {
            vid: sorted(lists) for vid, lists in expected.items()}
        for doc in videos.values():
            assert_video_as_truth(doc, truth, now)
        # The day only a channel list shows, whichever list queued the video first.
        assert {vid: doc.get("published") for vid, doc in videos.items()} == {
            vid: truth.video(vid).published_date if vid in found.vids else None
            for vid in expected}
        crawled = sum(outcome.stats[f"videos.{s}"] for s in ("ok", "unavailable", "partial"))
        assert crawled == len(expected)  # each once, however many lists it was on
        assert outcome.run.category == f"today-hot+surveillance+military+channel:{found.uid}"

        await run_crawl(replace(settings, categories=("today-hot",), channels=()))
        async with open_store(settings.store) as store:
            again = await docs(store, "videos")
        assert {vid: (doc["lists"], doc.get("published")) for vid, doc in again.items()} == {
            vid: (doc["lists"], doc.get("published")) for vid, doc in videos.items()}


async def test_an_unknown_channel_is_one_line(make_replica: MakeReplica, tmp_path: Path) -> None:
    async with make_replica(**SMALL) as rep:
        rc, _, err = await scrape(
            "-q", "run", "--channel", "UMTIzNDU2Nzg5MA==", "--resolve", rep.resolve,
            "--store", str(tmp_path / "store"), "--no-media", cwd=tmp_path)
    one_error_line(err, 2, rc, "channel UMTIzNDU2Nzg5MA does not exist")
