"""Stream files to disk: resumable, retried, size-checked, hashed, atomically renamed.

A download writes ``<dest>.part`` in chunks (memory does not grow with the file), resumes
it with ``Range`` on the next attempt, and only a complete file of the expected size is
renamed to ``dest``; so a ``dest`` that exists is complete, and a crash costs at most the
bytes after the last chunk written. A full disk (ENOSPC) raises ``DiskFull`` and keeps the
part file: what it holds is a prefix of the body, resumed once there is space.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os
import aiohttp

from ..errors import DiskFull, FetchError, TokenRejected
from .client import HttpClient, backoff_delay

__all__ = ["DownloadResult", "download", "jpeg_dimensions"]

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-\d+/(?:\d+|\*)")
_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What became of one download. ``attempts`` counts HTTP requests (0: already on disk)."""

    path: Path | None
    size: int
    sha256: str | None
    attempts: int
    ok: bool
    error: str | None = None
    status_code: int | None = None


class _Retry(Exception):
    """One attempt failed in a way worth another try; ``restart`` drops the partial file."""

    def __init__(self, reason: str, *, status: int | None = None, restart: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.restart = restart


class _GiveUp(Exception):
    """The server said no for good (404, most 4xx): no retry."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.status = status


async def download(
    http: HttpClient,
    url: str,
    dest: Path,
    *,
    expected_size: int | None,
    retries: int = 5,
    backoff_base_s: float = 0.25,
    backoff_max_s: float = 8.0,
    chunk_size: int = 64 * 1024,
    headers: Mapping[str, str] | None = None,
) -> DownloadResult:
    """Download ``url`` to ``dest``, making at most ``retries`` requests.

    Raises ``TokenRejected`` on 403 (an expired ``vkey``: get a fresh URL and call again;
    the partial file is kept and resumed) and ``DiskFull`` when the disk is full. Every
    other failure is returned, not raised.
    """
    if await _complete(dest, expected_size):
        digest = (await _hash_file(dest)).hexdigest()
        return DownloadResult(dest, await _size(dest), digest, 0, ok=True)
    part = dest.with_name(dest.name + ".part")
    if expected_size and await _complete(part, expected_size):
        # A crash between the last chunk and the rename: nothing left to fetch.
        digest = (await _hash_file(part)).hexdigest()
        await aiofiles.os.replace(part, dest)
        return DownloadResult(dest, expected_size, digest, 0, ok=True)
    await aiofiles.os.makedirs(dest.parent, exist_ok=True)
    failure: _Retry | _GiveUp | None = None
    for attempt in range(1, max(1, retries) + 1):
        if attempt > 1:
            delay = backoff_delay(attempt - 2, base_s=backoff_base_s, max_s=backoff_max_s)
            await asyncio.sleep(delay)
        try:
            size, digest = await _attempt(http, url, part, expected_size, chunk_size, headers)
        except _GiveUp as exc:
            failure = exc
            break
        except _Retry as exc:
            failure = exc
            log.debug("download %s attempt %d: %s", url, attempt, exc)
            if exc.restart:
                await _remove(part)
            continue
        await aiofiles.os.replace(part, dest)
        return DownloadResult(dest, size, digest, attempt, ok=True, status_code=None)
    assert failure is not None
    return DownloadResult(
        None, 0, None, attempt, ok=False, error=str(failure), status_code=failure.status
    )


async def _attempt(
    http: HttpClient,
    url: str,
    part: Path,
    expected_size: int | None,
    chunk_size: int,
    headers: Mapping[str, str] | None,
) -> tuple[int, str]:
    """One request: resume or restart ``part``; returns its final size and sha256."""
    offset = await _size(part) if await aiofiles.os.path.exists(part) else 0
    if expected_size is not None and offset > expected_size:
        await _remove(part)
        offset = 0
    request_headers = dict(headers or {})
    if offset:
        request_headers["Range"] = f"bytes={offset}-"
    try:
        async with http.stream(url, headers=request_headers) as resp:
            offset = _check_status(resp, offset)
            hasher = await _hash_file(part, limit=offset) if offset else hashlib.sha256()
            size = await _write_body(resp, part, offset, hasher, expected_size, chunk_size)
    except TokenRejected:
        raise
    except FetchError as exc:
        raise _Retry(str(exc)) from exc
    except OSError as exc:  # writing the part file; aiohttp's errors are FetchErrors here
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"no space left on the device of {part.parent}") from exc
        raise FetchError(f"cannot write {part}: {exc.strerror or exc}") from exc
    if expected_size is not None and size != expected_size:
        raise _Retry(f"got {size} bytes, expected {expected_size}", restart=True)
    return size, hasher.hexdigest()


def _check_status(resp: aiohttp.ClientResponse, offset: int) -> int:
    """Judge the status; return the offset the body starts at (0 when the server restarts)."""
    status = resp.status
    if status == 403:
        raise TokenRejected(f"GET {resp.url}: HTTP 403 (token expired or refused)")
    if status == 416:
        raise _Retry("HTTP 416: cannot resume", status=status, restart=True)
    if status >= 500 or status in (408, 429):
        raise _Retry(f"HTTP {status}", status=status)
    if not 200 <= status < 300:
        raise _GiveUp(f"HTTP {status}", status=status)
    if status != 206 or offset == 0:
        return 0
    match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
    start = int(match[1]) if match else -1
    if start != offset:
        raise _Retry(f"HTTP 206 from byte {start}, asked {offset}", status=status, restart=True)
    return offset


async def _write_body(
    resp: aiohttp.ClientResponse,
    part: Path,
    offset: int,
    hasher: hashlib._Hash,
    expected_size: int | None,
    chunk_size: int,
) -> int:
    size = offset
    async with aiofiles.open(part, "ab" if offset else "wb") as out:
        # read(n) hands over what has arrived (up to n bytes) at once, so a connection cut
        # loses little: iter_chunked(n) would drop a partly filled chunk.
        while chunk := await resp.content.read(chunk_size):
            size += len(chunk)
            if expected_size is not None and size > expected_size:
                # Stop reading an overlong body; the caller retries from scratch.
                return size
            hasher.update(chunk)
            await out.write(chunk)
    return size


async def _complete(dest: Path, expected_size: int | None) -> bool:
    if not await aiofiles.os.path.isfile(dest):
        return False
    return expected_size is None or await _size(dest) == expected_size


async def _size(path: Path) -> int:
    return (await aiofiles.os.stat(path)).st_size


async def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        await aiofiles.os.remove(path)


async def _hash_file(path: Path, *, limit: int | None = None) -> hashlib._Hash:
    """sha256 of the first ``limit`` bytes of ``path`` (all of it by default)."""
    hasher = hashlib.sha256()
    remaining = limit
    async with aiofiles.open(path, "rb") as src:
        while remaining is None or remaining > 0:
            want = _HASH_CHUNK if remaining is None else min(_HASH_CHUNK, remaining)
            chunk = await src.read(want)
            if not chunk:
                break
            hasher.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return hasher


# --- JPEG size ----------------------------------------------------------------------

# SOFn markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}


def jpeg_dimensions(
    data_or_path: bytes | bytearray | memoryview | str | os.PathLike[str],
) -> tuple[int, int] | None:
    """``(width, height)`` from a JPEG's SOF marker, or None if it is not a readable JPEG."""
    if isinstance(data_or_path, bytes | bytearray | memoryview):
        data = bytes(data_or_path)
    else:
        data = Path(data_or_path).read_bytes()
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF:
            if pos + 9 > len(data) or length < 7:
                return None
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return width, height
        if marker in (0xD9, 0xDA) or length < 2:  # end of image / scan before any frame
            return None
        pos += 2 + length
    return None
