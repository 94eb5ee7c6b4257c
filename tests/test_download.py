"""download.py against a small CDN-like server reached through fake host names."""

from __future__ import annotations

import asyncio
import hashlib
import io
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from scraper.config import ResolveRule
from scraper.errors import DiskFull, TokenRejected
from scraper.net.client import HttpClient
from scraper.net.download import FLUSH_BYTES, DownloadResult, download, jpeg_dimensions
from tests.conftest import tiny_tmpfs

FAST = {"backoff_base_s": 0.001, "backoff_max_s": 0.005}
BLOCK = bytes(range(256)) * 256  # 64 KiB


def content(name: str, size: int) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@dataclass
class Cdn:
    """Segment server; query flags pick the fault: fail=N, status=, lie=N, cut=N, stall=N."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=dict)
    big_writes: int = 0

    def _nth(self, name: str) -> int:
        self.used[name] = self.used.get(name, 0) + 1
        return self.used[name]

    async def file(self, request: web.Request) -> web.StreamResponse:
        name, q = request.match_info["name"], request.query
        self.requests.append({"host": request.host, "path": request.path,
                              "range": request.headers.get("Range")})
        nth = self._nth(name)
        if nth <= int(q.get("fail", 0)):
            return web.Response(status=502, text="<html><center>502 Bad Gateway</center></html>")
        if "status" in q:
            return web.Response(status=int(q["status"]))
        body = content(name, int(q["size"]))
        if nth <= int(q.get("lie", 0)):
            body = content(name, int(q["size"]) + int(q.get("by", -7)))
        if nth <= int(q.get("stall", 0)):
            await asyncio.sleep(5)
        start = 0
        if (rng := request.headers.get("Range")) and "ignore_range" not in q:
            start = int(rng.removeprefix("bytes=").split("-")[0])
        resp = web.StreamResponse(status=206 if start else 200)
        if start:
            resp.headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        resp.content_length = len(body) - start
        await resp.prepare(request)
        if nth <= int(q.get("cut", 0)):
            await resp.write(body[start : start + int(q["at"])])
            await asyncio.sleep(0.1)  # let the client take the bytes before the cut
            assert request.transport is not None
            request.transport.close()
            return resp
        await resp.write(body[start:])
        return resp

    async def redirect(self, request: web.Request) -> web.Response:
        self.requests.append({"host": request.host, "path": request.path, "range": None})
        target = f"http://vali.ykcdn.test/file/{request.match_info['name']}?{request.query_string}"
        raise web.HTTPFound(target)

    async def big(self, request: web.Request) -> web.StreamResponse:
        size = int(request.query["size"])
        resp = web.StreamResponse()
        resp.content_length = size
        await resp.prepare(request)
        for _ in range(size // len(BLOCK)):
            await resp.write(BLOCK)
            self.big_writes += 1
        return resp


@pytest.fixture
async def cdn() -> AsyncIterator[tuple[Cdn, HttpClient]]:
    state = Cdn()
    app = web.Application()
    app.router.add_get("/file/{name}", state.file)
    app.router.add_get("/redirect/{name}", state.redirect)
    app.router.add_get("/big", state.big)
    async with TestServer(app, host="127.0.0.1") as srv:
        assert srv.port is not None
        rule = ResolveRule("*.ykcdn.test", "127.0.0.1", srv.port)
        async with HttpClient(resolve=(rule,), timeout_s=0.5, user_agent="t") as http:
            yield state, http


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_exact_bytes_and_sha256(cdn: tuple[Cdn, HttpClient], tmp_path: Path) -> None:
    state, http = cdn
    dest = tmp_path / "v" / "seg0.mp4"
    url = "http://cdn1.ykcdn.test/file/a?size=100000&vkey=k"
    result = await download(http, url, dest, expected_size=100_000, chunk_size=4096, **FAST)
    body = content("a", 100_000)
    assert result == DownloadResult(dest, 100_000, _sha(body), 1, ok=True)
    assert dest.read_bytes() == body
    assert list(dest.parent.iterdir()) == [dest]  # no .part left behind
    assert state.requests == [{"host": "cdn1.ykcdn.test", "path": "/file/a", "range": None}]


async def test_unknown_size_is_accepted(cdn: tuple[Cdn, HttpClient], tmp_path: Path) -> None:
    _, http = cdn
    dest = tmp_path / "thumb"
    result = await download(http, "http://vthumb.ykcdn.test/file/t?size=5000", dest,
                            expected_size=None, **FAST)
    assert (result.ok, result.size, result.sha256) == (True, 5000, _sha(content("t", 5000)))


async def test_redirect_to_another_host(cdn: tuple[Cdn, HttpClient], tmp_path: Path) -> None:
    state, http = cdn
    dest = tmp_path / "seg.mp4"
    url = "http://cdn2.ykcdn.test/redirect/r?size=3000"
    result = await download(http, url, dest, expected_size=3000, **FAST)
    assert result.ok and result.sha256 == _sha(content("r", 3000))
    assert [r["host"] for r in state.requests] == ["cdn2.ykcdn.test", "vali.ykcdn.test"]


async def test_502_twice_then_ok(cdn: tuple[Cdn, HttpClient], tmp_path: Path) -> None:
    state, http = cdn
    url = "http://cdn1.ykcdn.test/file/f?size=2000&fail=2"
    result = await download(http, url, tmp_path / "f", expected_size=2000, **FAST)
    assert (result.ok, result.attempts, result.sha256) == (True, 3, _sha(content("f", 2000)))
    assert len(state.requests) == 3


async def test_persistent_502_fails(cdn: tuple[Cdn, HttpClient], tmp_path: Path) -> None:
    state, http = cdn
    url = "http://cdn1.ykcdn.test/file/p?size=2000&fail=99"
    dest = tmp_path / "p"
    result = await download(http, url, dest, expected_size=2000, retries=4, **FAST)
    assert result == DownloadResult(None, 0, None, 4, ok=False, error="HTTP 502", status_code=502)
    assert len(state.requests) == 4
    assert not dest.exists()


async def test_403_raises_token_rejected(cdn: tuple[Cdn, HttpClient], tmp_path: Path) -> None:
    state, http = cdn
    with pytest.raises(TokenRejected, match="403"):
        await download(http, "http://cdn1.ykcdn.test/file/x?size=10&status=403", tmp_path / "x",
                       expected_size=10, **FAST)
    assert len(state.requests) == 1


async def test_404_is_not_retried(cdn: tuple[Cdn, HttpClient], tmp_path: Path) -> None:
    state, http = cdn
    result = await download(http, "http://cdn1.ykcdn.test/file/x?size=10&status=404",
                            tmp_path / "x", expected_size=10, **FAST)
    assert (result.ok, result.attempts, result.status_code) == (False, 1, 404)
    assert len(state.requests) == 1


async def test_resume_from_part_with_range(cdn: tuple[Cdn, HttpClient], tmp_path: Path) -> None:
    state, http = cdn
    body = content("res", 50_000)
    dest = tmp_path / "res.mp4"
    (tmp_path / "res.mp4.part").write_bytes(body[:20_000])
    result = await download(http, "http://cdn1.ykcdn.test/file/res?size=50000", dest,
                            expected_size=50_000, **FAST)
    assert state.requests[0]["range"] == "bytes=20000-"
    assert (result.ok, result.attempts, result.sha256) == (True, 1, _sha(body))
    assert dest.read_bytes() == body


async def test_resume_restarts_when_server_sends_everything(
    cdn: tuple[Cdn, HttpClient], tmp_path: Path
) -> None:
    state, http = cdn
    dest = tmp_path / "ign.mp4"
    (tmp_path / "ign.mp4.part").write_bytes(b"stale bytes from another file")
    result = await download(http, "http://cdn1.ykcdn.test/file/ign?size=9000&ignore_range=1",
                            dest, expected_size=9000, **FAST)
    assert state.requests[0]["range"] == "bytes=29-"
    assert (result.ok, result.sha256) == (True, _sha(content("ign", 9000)))
    assert dest.read_bytes() == content("ign", 9000)


async def test_cut_connection_is_resumed(cdn: tuple[Cdn, HttpClient], tmp_path: Path) -> None:
    state, http = cdn
    url = "http://cdn1.ykcdn.test/file/cut?size=80000&cut=1&at=30000"
    result = await download(http, url, tmp_path / "cut", expected_size=80_000, **FAST)
    assert (result.ok, result.attempts, result.sha256) == (True, 2, _sha(content("cut", 80_000)))
    assert [r["range"] for r in state.requests] == [None, "bytes=30000-"]


async def test_stalled_body_times_out_and_retries(
    cdn: tuple[Cdn, HttpClient], tmp_path: Path
) -> None:
    _, http = cdn
    url = "http://cdn1.ykcdn.test/file/st?size=1000&stall=1"
    result = await download(http, url, tmp_path / "st", expected_size=1000, **FAST)
    assert (result.ok, result.attempts) == (True, 2)


@pytest.mark.parametrize("by", [-7, 7])
async def test_wrong_size_once_is_retried_from_scratch(
    cdn: tuple[Cdn, HttpClient], tmp_path: Path, by: int
) -> None:
    state, http = cdn
    url = f"http://cdn1.ykcdn.test/file/w?size=4000&lie=1&by={by}"
    result = await download(http, url, tmp_path / "w", expected_size=4000, **FAST)
    assert (result.ok, result.attempts, result.sha256) == (True, 2, _sha(content("w", 4000)))
    assert [r["range"] for r in state.requests] == [None, None]


async def test_wrong_size_always_fails(cdn: tuple[Cdn, HttpClient], tmp_path: Path) -> None:
    _, http = cdn
    dest = tmp_path / "w"
    result = await download(http, "http://cdn1.ykcdn.test/file/w?size=4000&lie=99", dest,
                            expected_size=4000, retries=3, **FAST)
    assert (result.ok, result.attempts) == (False, 3)
    assert result.error == "got 3993 bytes, expected 4000"
    assert not dest.exists() and not (tmp_path / "w.part").exists()


async def test_existing_complete_file_is_skipped(
    cdn: tuple[Cdn, HttpClient], tmp_path: Path
) -> None:
    state, http = cdn
    dest = tmp_path / "done.mp4"
    dest.write_bytes(b"z" * 1234)
    result = await download(http, "http://cdn1.ykcdn.test/file/done?size=1234", dest,
                            expected_size=1234, **FAST)
    assert result == DownloadResult(dest, 1234, _sha(b"z" * 1234), 0, ok=True)
    assert state.requests == []


async def test_complete_part_is_renamed_without_a_request(
    cdn: tuple[Cdn, HttpClient], tmp_path: Path
) -> None:
    state, http = cdn
    dest = tmp_path / "crash.mp4"
    (tmp_path / "crash.mp4.part").write_bytes(b"q" * 300)
    result = await download(http, "http://cdn1.ykcdn.test/file/crash?size=300", dest,
                            expected_size=300, **FAST)
    assert result == DownloadResult(dest, 300, _sha(b"q" * 300), 0, ok=True)
    assert state.requests == []
    assert dest.read_bytes() == b"q" * 300


async def test_memory_stays_flat_for_a_large_file(
    cdn: tuple[Cdn, HttpClient], tmp_path: Path
) -> None:
    state, http = cdn
    size = 20 * 1024 * 1024
    expected = hashlib.sha256()
    for _ in range(size // len(BLOCK)):
        expected.update(BLOCK)
    tracemalloc.start()
    try:
        result = await download(http, f"http://cdn1.ykcdn.test/big?size={size}",
                                tmp_path / "big.mp4", expected_size=size, **FAST)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.ok, result.size, result.sha256) == (True, size, expected.hexdigest())
    assert state.big_writes == size // len(BLOCK)  # the server streamed it in 64 KiB writes
    assert peak < 5 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


async def test_a_small_file_takes_two_thread_calls(
    cdn: tuple[Cdn, HttpClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, http = cdn
    calls: list[str] = []
    to_thread = asyncio.to_thread

    async def counted(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn.__name__)
        return await to_thread(fn, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    result = await download(http, "http://cdn1.ykcdn.test/file/hop?size=300000",
                            tmp_path / "v" / "hop.mp4", expected_size=300_000,
                            chunk_size=4096, **FAST)
    assert (result.ok, result.sha256) == (True, _sha(content("hop", 300_000)))
    assert calls == ["_on_disk", "finish"]  # not one per chunk, open, close or stat


async def test_every_byte_received_before_a_cut_is_kept_and_resumed(
    cdn: tuple[Cdn, HttpClient], tmp_path: Path
) -> None:
    state, http = cdn
    size, at = 3 * FLUSH_BYTES, FLUSH_BYTES + FLUSH_BYTES // 2  # one flush, then half of one
    url = f"http://cdn1.ykcdn.test/file/long?size={size}&cut=1&at={at}"
    dest = tmp_path / "long.mp4"
    failed = await download(http, url, dest, expected_size=size, retries=1, **FAST)
    assert (failed.ok, failed.attempts) == (False, 1)
    body = content("long", size)
    assert (tmp_path / "long.mp4.part").read_bytes() == body[:at]
    result = await download(http, url, dest, expected_size=size, **FAST)
    assert [r["range"] for r in state.requests] == [None, f"bytes={at}-"]
    assert (result.ok, result.attempts, result.sha256) == (True, 1, _sha(body))
    assert dest.read_bytes() == body and not (tmp_path / "long.mp4.part").exists()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KB tmpfs for the downloads."""
    with tiny_tmpfs(tmp_path / "disk") as where:
        yield where


async def test_a_full_disk_raises_disk_full_and_keeps_the_part(
    cdn: tuple[Cdn, HttpClient], tiny_disk: Path
) -> None:
    state, http = cdn
    size = 400_000  # more than the disk holds
    dest, part = tiny_disk / "v" / "0.mp4", tiny_disk / "v" / "0.mp4.part"
    url = f"http://cdn1.ykcdn.test/file/full?size={size}"
    with pytest.raises(DiskFull, match="no space left on the device of "):
        await download(http, url, dest, expected_size=size, **FAST)
    kept, body = part.read_bytes(), content("full", size)
    assert 0 < len(kept) < size and body.startswith(kept)
    grown = await asyncio.create_subprocess_exec("mount", "-o", "remount,size=4m", str(tiny_disk))
    assert await grown.wait() == 0
    result = await download(http, url, dest, expected_size=size, **FAST)
    assert state.requests[-1]["range"] == f"bytes={len(kept)}-"
    assert (result.ok, result.sha256) == (True, _sha(body))
    assert dest.read_bytes() == body and not part.exists()


# --- jpeg_dimensions ----------------------------------------------------------------


def _jpeg(width: int, height: int, **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "JPEG", **save)
    return out.getvalue()


@pytest.mark.parametrize(
    ("save", "size"),
    [
        ({}, (200, 112)),
        ({"progressive": True}, (109, 300)),
        ({"exif": b"Exif\x00\x00" + b"\x00" * 4000}, (640, 360)),
    ],
)
def test_jpeg_dimensions(save: dict[str, Any], size: tuple[int, int], tmp_path: Path) -> None:
    data = _jpeg(*size, **save)
    assert jpeg_dimensions(data) == size
    (tmp_path / "thumb").write_bytes(data)
    assert jpeg_dimensions(tmp_path / "thumb") == size
    assert jpeg_dimensions(str(tmp_path / "thumb")) == size


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xd8", b"GIF89a....", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30,
     b"<html>404</html>", _jpeg(50, 50)[:20]],
)
def test_jpeg_dimensions_of_non_jpegs(data: bytes) -> None:
    assert jpeg_dimensions(data) is None
