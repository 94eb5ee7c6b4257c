"""A directory store written by the previous code (``tests/fixtures/dirstore-v1``, see its
README) is imported into the SQLite store once, whole, and its files are left alone."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from bson import json_util

from scraper.errors import StoreError
from scraper.store.target import open_store
from tests.test_cli import scrape
from tests.test_store import all_docs, make_video

LEGACY = Path(__file__).parent / "fixtures" / "dirstore-v1"
_JSON = json_util.JSONOptions(json_mode=json_util.JSONMode.RELAXED, tz_aware=True, tzinfo=UTC)


def legacy_docs(root: Path) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every document of the old store, read here independently of the import."""
    found: dict[str, dict[Any, dict[str, Any]]] = {}
    for path in root.glob("*/*.json"):
        doc = json_util.loads(path.read_text(encoding="utf-8"), json_options=_JSON)
        found.setdefault(path.parent.name, {})[doc["_id"]] = doc
    return found


def snapshot_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    return Path(shutil.copytree(LEGACY, tmp_path / "scrape-data", ignore=shutil.ignore_patterns(
        "README.md")))


async def test_every_document_is_imported_once(
    old_store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected = legacy_docs(old_store)
    files_before = snapshot_of(old_store)
    assert sum(map(len, expected.values())) == 89 and len(expected["misc"]) == 7
    with caplog.at_level(logging.WARNING):
        async with open_store(str(old_store)) as store:
            for collection, docs in expected.items():
                stored = {doc["_id"]: doc for doc in await all_docs(store, collection)}
                assert stored == docs, collection
                assert [list(doc) for doc in stored.values()] == [list(d) for d in docs.values()]
            assert await store.get_doc("videos", "XMcut") is None  # the write cut short
            [run] = await store.find_docs("runs", {})
            assert await store.frontier_counts(run["_id"]) == {
                "pending": 0, "claimed": 0, "done": 4, "failed": 0}
            await store.save_video(make_video("XMnew"))
    [notice] = [r.getMessage() for r in caplog.records if "imported" in r.getMessage()]
    assert notice == (f"imported 89 documents of the directory store in {old_store} into "
                      f"{old_store / 'scrape.db'}; its files are left in place")
    assert {k: v for k, v in snapshot_of(old_store).items()
            if not k.startswith("scrape.db")} == files_before

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        async with open_store(str(old_store)) as store:  # once: the next open imports nothing
            assert await store.count("videos") == 4
            assert await store.count("misc") == 7
    assert not caplog.records


async def test_a_broken_old_file_stops_the_import_and_leaves_no_store(old_store: Path) -> None:
    broken = next((old_store / "snapshots").glob("*.json"))
    broken.write_text('{"_id": "cut', encoding="utf-8")
    with pytest.raises(StoreError, match=f"cannot import directory store file {broken}"):
        async with open_store(str(old_store)):
            pass
    broken.unlink()
    async with open_store(str(old_store)) as store:  # tried again, whole
        assert await store.count("snapshots") == 4 and await store.count("comments") == 45


async def test_the_cli_says_it_once(old_store: Path) -> None:
    rc, out, err = await scrape("export", "--store", str(old_store), "--what", "videos",
                                cwd=old_store.parent)
    assert rc == 0 and len(out.splitlines()) == 3, err
    [notice] = [line for line in err.splitlines() if "directory store" in line]
    assert "imported 89 documents of the directory store" in notice
    rc, _, err = await scrape("export", "--store", str(old_store), "--what", "videos",
                              cwd=old_store.parent)
    assert rc == 0 and "directory store" not in err
