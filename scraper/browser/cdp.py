"""The Chrome DevTools Protocol over the pipe Chromium opens with --remote-debugging-pipe.

Chromium reads commands on its fd 3 and writes replies and events on its fd 4, each a
JSON message ended by a NUL byte. One ``Connection`` carries every target's messages:
commands for a page name its ``sessionId`` (the protocol's "flat" sessions), and so do
the page's events.

Hand-written rather than a library's: the Python CDP clients on PyPI (pycdp,
chrome-remote-interface, the automation frameworks built on them) speak WebSocket to a
debugging port, which any local user could connect to, while the pipe needs no port and
is what Playwright and Puppeteer use themselves. What the crawl needs of the protocol is
a dozen commands, so the framing and the command/reply matching here are all there is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from typing import Any

import orjson

from ..errors import BrowserError

__all__ = ["CdpClosed", "CdpError", "Connection", "Handler", "Session", "fail_quietly"]

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]


class CdpError(BrowserError):
    """Chromium answered a command with an error."""


class CdpClosed(CdpError):
    """The pipe closed: Chromium exited or was killed, or the target went away."""


class _Reader(asyncio.Protocol):
    """Splits the bytes Chromium writes into messages (NUL-terminated JSON)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        start = 0
        with memoryview(self._buffer) as view:  # parsed in place, not copied
            while (end := self._buffer.find(0, start)) >= 0:
                message, start = _parse(view[start:end]), end + 1
                if message is not None:
                    self._connection._dispatch(message)
        del self._buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        self._connection._lost("Chromium closed its DevTools pipe")


def _parse(raw: memoryview) -> dict[str, Any] | None:
    """One message; a string with half a UTF-16 pair (JavaScript allows it, orjson does
    not) falls back to ``json``; a message neither can read is logged and skipped."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            parsed = json.loads(bytes(raw).decode("utf-8", errors="replace"))
        except ValueError:
            log.warning("skipped a DevTools message that is not JSON (%d bytes)", len(raw))
            return None
    return parsed if isinstance(parsed, dict) else None


class Connection:
    """Commands out, replies and events in, over one Chromium's pipe pair."""

    def __init__(self) -> None:
        self._next_id = 0
        # id -> (future, method, session id)
        self._pending: dict[int, tuple[asyncio.Future[dict[str, Any]], str, str | None]] = {}
        self._handlers: dict[tuple[str | None, str], list[Handler]] = {}
        self._on_close: list[Callable[[str], None]] = []
        self._writer: asyncio.WriteTransport | None = None
        self._reader: asyncio.BaseTransport | None = None
        self.closed = asyncio.Event()
        self.close_reason = ""

    async def open(self, read_fd: int, write_fd: int) -> None:
        """Read Chromium's messages from ``read_fd``; write commands to ``write_fd``."""
        loop = asyncio.get_running_loop()
        self._reader, _ = await loop.connect_read_pipe(
            lambda: _Reader(self), os.fdopen(read_fd, "rb", buffering=0))
        self._writer, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(write_fd, "wb", buffering=0))

    @property
    def is_closed(self) -> bool:
        return self.closed.is_set()

    def session(self, session_id: str | None = None) -> Session:
        """The browser's own session (``None``) or a page's, by the id attaching gave."""
        return Session(self, session_id)

    async def send(self, method: str, params: dict[str, Any] | None = None,
                   session_id: str | None = None) -> dict[str, Any]:
        if self._writer is None or self.is_closed:
            raise CdpClosed(f"{method}: {self.close_reason or 'the browser is not running'}")
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = (future, method, session_id)
        try:
            self._writer.write(orjson.dumps(message) + b"\0")
            return await future
        finally:
            self._pending.pop(message["id"], None)

    def on(self, session_id: str | None, event: str, handler: Handler) -> None:
        self._handlers.setdefault((session_id, event), []).append(handler)

    def on_close(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(why)`` once, when the pipe closes (Chromium exited or was
        killed, or ``close``)."""
        self._on_close.append(callback)

    def forget(self, session_id: str) -> None:
        """Drop the handlers of a session that was detached."""
        for key in [key for key in self._handlers if key[0] == session_id]:
            del self._handlers[key]

    def fail_session(self, session_id: str, why: str) -> None:
        """Fail the commands waiting on a session whose target crashed or went away:
        Chromium does not always answer them."""
        for message_id, (future, method, session) in list(self._pending.items()):
            if session == session_id:
                del self._pending[message_id]
                fail_quietly(future, CdpClosed(f"{method}: {why}"))

    def close(self) -> None:
        """Stop reading and writing (Chromium is told to exit elsewhere)."""
        for transport in (self._writer, self._reader):
            if transport is not None:
                transport.close()
        self._lost("the browser was closed")

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            pending = self._pending.pop(message["id"], None)
            if pending is None or pending[0].done():
                return
            future, method, _ = pending
            if "error" in message:
                text = str(message["error"].get("message", message["error"]))
                error_type = CdpClosed if _gone(text) else CdpError
                future.set_exception(error_type(f"{method}: {text}"))
            else:
                future.set_result(message.get("result", {}))
            return
        key = (message.get("sessionId"), message.get("method", ""))
        for handler in list(self._handlers.get(key, ())):
            try:
                handler(message.get("params", {}))
            except Exception:  # a handler's bug must not stop every other message
                log.exception("a handler of %s failed", key[1])

    def _lost(self, why: str) -> None:
        if self.is_closed:
            return
        self.close_reason = why
        self.closed.set()
        for future, method, _ in list(self._pending.values()):
            fail_quietly(future, CdpClosed(f"{method}: {why}"))
        self._pending.clear()
        for callback in self._on_close:
            callback(why)


# How Chromium words a command that reached a target, session or document that is gone
# (closed, crashed, or replaced while the command waited).
_GONE = ("session with given id not found", "no target with given id", "target crashed",
         "target closed", "inspected target navigated or closed",
         "cannot find context with specified id", "execution context was destroyed")


def fail_quietly(future: asyncio.Future[Any], exc: BaseException) -> None:
    """Fail ``future`` unless it is done; whoever waits gets ``exc``, and when nobody
    waits any more no "exception was never retrieved" is logged."""
    if not future.done():
        future.set_exception(exc)
        future.exception()


def _gone(text: str) -> bool:
    """Whether an error reply says the session, target or document no longer exists."""
    lowered = text.lower()
    return any(phrase in lowered for phrase in _GONE)


class Session:
    """Commands to, and events from, one target (or the browser, with no session id)."""

    def __init__(self, connection: Connection, session_id: str | None) -> None:
        self.connection = connection
        self.id = session_id

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.connection.send(method, params, self.id)

    def on(self, event: str, handler: Handler) -> None:
        self.connection.on(self.id, event, handler)
