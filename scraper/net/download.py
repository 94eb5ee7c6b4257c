"""Stream files to disk: resumable, retried, size-checked, hashed, atomically renamed.

A download writes ``<dest>.part``, resumes it with ``Range`` on the next attempt, and only
a complete file of the expected size is renamed to ``dest``; so a ``dest`` that exists is
complete. Received bytes are gathered up to ``FLUSH_BYTES`` and written (and hashed) in one
thread call, which also opens the part file and, for the last bytes, renames it: a small
file costs two thread calls (what is on disk; write and rename), however many chunks it
arrives in. So memory stays flat whatever the file's size, a connection cut or a server
error keeps everything received (it is written before the retry), and a crash costs at
most the bytes not yet written (about ``FLUSH_BYTES``). A full disk (ENOSPC) raises
``DiskFull`` and keeps the part file: what it holds is a prefix of the body, resumed once
there is space.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from ..errors import DiskFull, FetchError, TokenRejected
from .client import HttpClient, backoff_delay

__all__ = ["FLUSH_BYTES", "DownloadResult", "download", "jpeg_dimensions"]

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-\d+/(?:\d+|\*)")
FLUSH_BYTES = 1024 * 1024  # received bytes held before one thread call writes them


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


class _Part:
    """``<dest>.part``: the size and sha256 of what it holds, and the bytes received since,
    which ``write`` appends in a thread. Only one coroutine uses it at a time."""

    def __init__(self, dest: Path, expected_size: int | None) -> None:
        self.dest = dest
        self.path = dest.with_name(dest.name + ".part")
        self.expected_size = expected_size
        self.size = 0  # bytes in the file, then received: what ``Range`` resumes from
        self.hasher = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._truncate = True

    def load(self) -> None:
        """Read what the part file holds (in a thread): an overlong one is dropped."""
        self.restart()
        with contextlib.suppress(FileNotFoundError):
            size = self.path.stat().st_size
            if self.expected_size is not None and size > self.expected_size:
                self.path.unlink()
            elif size:
                self.size, self.hasher, self._truncate = size, _hash_file(self.path), False

    def restart(self) -> None:
        """Start from byte 0: the next write truncates the file."""
        self.size, self.hasher, self._truncate = 0, hashlib.sha256(), True
        self._pending, self._pending_size = [], 0

    async def add(self, chunk: bytes) -> None:
        """Take a received chunk; write what is held once it reaches ``FLUSH_BYTES``."""
        self.size += len(chunk)
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size >= FLUSH_BYTES:
            await asyncio.to_thread(self.write)

    async def keep(self) -> None:
        """Write what is held, so that the next attempt resumes after it."""
        if self._pending:
            await asyncio.to_thread(self.write)

    def write(self) -> None:
        """Append (and hash) the held bytes, creating or truncating the file first if new."""
        chunks, self._pending, self._pending_size = self._pending, [], 0
        with self.path.open("wb" if self._truncate else "ab") as out:
            self._truncate = False
            for chunk in chunks:
                self.hasher.update(chunk)
                out.write(chunk)

    def finish(self) -> str:
        """Write the rest, rename the part file to ``dest``; returns the file's sha256."""
        self.write()
        self.path.replace(self.dest)
        return self.hasher.hexdigest()


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
    part = _Part(dest, expected_size)
    with _disk_errors(part.path):
        done = await asyncio.to_thread(_on_disk, part)
    if done is not None:
        return done
    failure: _Retry | _GiveUp | None = None
    for attempt in range(1, max(1, retries) + 1):
        if attempt > 1:
            delay = backoff_delay(attempt - 2, base_s=backoff_base_s, max_s=backoff_max_s)
            await asyncio.sleep(delay)
        try:
            size, digest = await _attempt(http, url, part, chunk_size, headers)
        except _GiveUp as exc:
            failure = exc
            break
        except _Retry as exc:
            failure = exc
            log.debug("download %s attempt %d: %s", url, attempt, exc)
            if exc.restart:
                part.restart()
                await asyncio.to_thread(_remove, part.path)
            continue
        return DownloadResult(dest, size, digest, attempt, ok=True, status_code=None)
    assert failure is not None
    return DownloadResult(
        None, 0, None, attempt, ok=False, error=str(failure), status_code=failure.status
    )


def _on_disk(part: _Part) -> DownloadResult | None:
    """A result if ``dest`` (or a complete part file) is already there; else make its
    directory and read where the part file resumes. One thread call."""
    dest, expected_size = part.dest, part.expected_size
    size = dest.stat().st_size if dest.is_file() else None
    if size is not None and (expected_size is None or size == expected_size):
        return DownloadResult(dest, size, _hash_file(dest).hexdigest(), 0, ok=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part.load()
    if expected_size and part.size == expected_size:
        # A crash between the last chunk and the rename: nothing left to fetch.
        part.path.replace(dest)
        return DownloadResult(dest, expected_size, part.hasher.hexdigest(), 0, ok=True)
    return None


async def _attempt(
    http: HttpClient,
    url: str,
    part: _Part,
    chunk_size: int,
    headers: Mapping[str, str] | None,
) -> tuple[int, str]:
    """One request: resume or restart the part file, and on success rename it to ``dest``;
    returns the file's size and sha256."""
    request_headers = dict(headers or {})
    if part.size:
        request_headers["Range"] = f"bytes={part.size}-"
    with _disk_errors(part.path):  # aiohttp's errors are FetchErrors here
        try:
            async with http.stream(url, headers=request_headers) as resp:
                if _check_status(resp, part.size) == 0:
                    part.restart()
                size = await _receive(resp, part, chunk_size)
            if part.expected_size is not None and size != part.expected_size:
                raise _Retry(f"got {size} bytes, expected {part.expected_size}", restart=True)
            return size, await asyncio.to_thread(part.finish)
        except TokenRejected:
            raise
        except FetchError as exc:
            await part.keep()
            raise _Retry(str(exc)) from exc


@contextlib.contextmanager
def _disk_errors(path: Path) -> Iterator[None]:
    """An OSError of the part file ``path``: ``DiskFull`` (ENOSPC) or ``FetchError``."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"no space left on the device of {path.parent}") from exc
        raise FetchError(f"cannot write {path}: {exc.strerror or exc}") from exc


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


async def _receive(resp: aiohttp.ClientResponse, part: _Part, chunk_size: int) -> int:
    """Hand the body to ``part``; returns the file's size."""
    expected_size = part.expected_size
    # read(n) hands over what has arrived (up to n bytes) at once, so a connection cut
    # loses little: iter_chunked(n) would drop a partly filled chunk.
    while chunk := await resp.content.read(chunk_size):
        if expected_size is not None and part.size + len(chunk) > expected_size:
            # Stop reading an overlong body; the caller retries from scratch.
            return part.size + len(chunk)
        await part.add(chunk)
    return part.size


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _hash_file(path: Path) -> hashlib._Hash:
    with path.open("rb") as src:
        return hashlib.file_digest(src, "sha256")


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
