"""HttpClient against a small aiohttp server reached through a fake host name."""

from __future__ import annotations

import ast
import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from scraper.config import ResolveRule
from scraper.errors import FetchError
from scraper.net.client import HttpClient, MappedResolver, backoff_delay, cookie_header


async def _echo(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "host": request.headers.get("Host"),
            "cookie": request.headers.get("Cookie"),
            "referer": request.headers.get("Referer"),
            "user_agent": request.headers.get("User-Agent"),
            "query": dict(request.query),
        },
        headers={"Set-Cookie": "jar=should-not-be-kept; Path=/"},
    )


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


async def _stall_body(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Length": "100"})
    await resp.prepare(request)
    await resp.write(b"x" * 10)
    await asyncio.sleep(5)
    return resp


async def _cut_body(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Length": "100"})
    await resp.prepare(request)
    await resp.write(b"x" * 10)
    assert request.transport is not None
    request.transport.close()
    return resp


async def _utf8(request: web.Request) -> web.Response:
    return web.Response(body="评论 😀".encode(), content_type="text/plain", charset="gbk")


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/echo", _echo)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/stall", _stall_body)
    app.router.add_get("/cut", _cut_body)
    app.router.add_get("/utf8", _utf8)
    async with TestServer(app, host="127.0.0.1") as srv:
        yield srv


def _client(port: int, *, addr: str = "127.0.0.1", timeout_s: float = 5.0) -> HttpClient:
    return HttpClient(
        resolve=(ResolveRule("*.youku.test", addr, port),), timeout_s=timeout_s, user_agent="ua/1"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_rule_maps_host_and_port_and_keeps_host_header(server: TestServer) -> None:
    assert server.port is not None
    async with _client(server.port) as http:
        status, body = await http.get_text("http://ups.youku.test/echo", params={"q": "1"})
        _, with_port = await http.get_text("http://v.youku.test:8080/echo")
    assert status == 200
    assert '"host": "ups.youku.test"' in body
    assert '"user_agent": "ua/1"' in body
    assert '"query": {"q": "1"}' in body
    # The URL's port is replaced by the rule's for the connection, not in the Host header.
    assert '"host": "v.youku.test:8080"' in with_port


async def test_rule_address_may_be_a_host_name(server: TestServer) -> None:
    assert server.port is not None
    async with _client(server.port, addr="localhost") as http:
        status, body = await http.get_text("http://news.youku.test/echo")
    assert status == 200
    assert '"host": "news.youku.test"' in body


async def test_unmatched_hosts_use_the_default_resolver(server: TestServer) -> None:
    assert server.port is not None
    async with _client(_free_port()) as http:
        status, body = await http.get_text(f"http://localhost:{server.port}/echo")
    assert status == 200
    assert f'"host": "localhost:{server.port}"' in body


class _Fallback(AbstractResolver):
    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host="10.9.9.9", port=port, family=family,
                              proto=0, flags=0)]

    async def close(self) -> None:
        pass


async def test_resolver_returns_rule_address_and_port() -> None:
    resolver = MappedResolver((ResolveRule("*.ykcdn.test", "127.0.0.2", 4321),), _Fallback())
    [mapped] = await resolver.resolve("cdn1.ykcdn.test", 80)
    assert mapped["hostname"] == "cdn1.ykcdn.test"
    assert (mapped["host"], mapped["port"]) == ("127.0.0.2", 4321)
    [other] = await resolver.resolve("example.org", 80)
    assert (other["host"], other["port"]) == ("10.9.9.9", 80)
    [v6] = await MappedResolver((ResolveRule("*", "::1", 81),), _Fallback()).resolve("a.test")
    assert (v6["host"], v6["port"], v6["family"]) == ("::1", 81, socket.AF_INET6)


async def test_cookies_are_sent_per_request_and_never_kept(server: TestServer) -> None:
    assert server.port is not None
    async with _client(server.port) as http:
        _, first = await http.get_text(
            "http://ups.youku.test/echo",
            headers={"Referer": "http://v.youku.test/v_show/id_X.html"},
            cookies={"cna": "abc+/=", "P_sck": "z"},
        )
        _, second = await http.get_text("http://ups.youku.test/echo")
    assert '"cookie": "cna=abc+/=; P_sck=z"' in first
    assert '"referer": "http://v.youku.test/v_show/id_X.html"' in first
    assert '"cookie": null' in second  # the Set-Cookie of the first reply was not kept


async def test_body_is_decoded_as_utf8_whatever_the_charset_says(server: TestServer) -> None:
    assert server.port is not None
    async with _client(server.port) as http:
        assert await http.get_text("http://v.youku.test/utf8") == (200, "评论 😀")


async def test_timeout_becomes_fetch_error(server: TestServer) -> None:
    assert server.port is not None
    async with _client(server.port, timeout_s=0.2) as http:
        expected = r"^GET http://ups\.youku\.test/slow: timed out"
        with pytest.raises(FetchError, match=expected) as info:
            await http.get_text("http://ups.youku.test/slow")
    assert isinstance(info.value.__cause__, TimeoutError)


async def test_read_timeout_inside_stream_becomes_fetch_error(server: TestServer) -> None:
    assert server.port is not None
    async with _client(server.port, timeout_s=0.2) as http:
        with pytest.raises(FetchError, match="timed out"):
            async with http.stream("http://cdn1.youku.test/stall") as resp:
                assert resp.status == 200
                await resp.read()


async def test_cut_body_becomes_fetch_error(server: TestServer) -> None:
    assert server.port is not None
    async with _client(server.port) as http:
        with pytest.raises(FetchError, match=r"^GET http://cdn1\.youku\.test/cut: ") as info:
            async with http.stream("http://cdn1.youku.test/cut") as resp:
                await resp.read()
    assert info.value.__cause__ is not None


async def test_refused_connection_becomes_fetch_error() -> None:
    async with _client(_free_port()) as http:
        with pytest.raises(FetchError, match=r"^GET http://ups\.youku\.test/echo: ClientConnector"):
            await http.get_text("http://ups.youku.test/echo")


async def test_cancellation_propagates(server: TestServer) -> None:
    assert server.port is not None
    async with _client(server.port) as http:
        task = asyncio.create_task(http.get_text("http://ups.youku.test/slow"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()


async def test_session_only_inside_async_with() -> None:
    http = _client(1)
    with pytest.raises(RuntimeError, match="not open"):
        await http.get_text("http://ups.youku.test/echo")


def test_helpers() -> None:
    assert cookie_header({"a": "1", "b": "x=y"}) == "a=1; b=x=y"
    delays = [backoff_delay(n, base_s=0.5, max_s=3.0) for n in range(8) for _ in range(20)]
    assert all(0.0 <= d <= 3.0 for d in delays)
    assert max(backoff_delay(0, base_s=0.5, max_s=3.0) for _ in range(50)) <= 0.5


_HTTP_MODULES = ("net/client.py", "api/play_info.py", "api/comments.py", "net/download.py")
_OURS = {
    "ScraperError", "FetchError", "TokenRejected", "MalformedResponse", "VideoUnavailable",
    "DiskFull", "_Retry", "_GiveUp",
}


def _caught_names(handler: ast.ExceptHandler) -> set[str]:
    node = handler.type
    items = node.elts if isinstance(node, ast.Tuple) else [node] if node else []
    return {ast.unparse(item) for item in items}


@pytest.mark.parametrize("module", _HTTP_MODULES)
def test_every_caught_third_party_error_is_translated(module: str) -> None:
    """Like httpx's map_httpcore_exceptions test: no foreign error is caught and dropped."""
    source = (Path(__file__).parent.parent / "scraper" / module).read_text(encoding="utf-8")
    for handler in ast.walk(ast.parse(source)):
        if not isinstance(handler, ast.ExceptHandler):
            continue
        foreign = _caught_names(handler) - _OURS
        if not foreign:
            continue
        raises = [n for n in ast.walk(handler) if isinstance(n, ast.Raise)]
        assert raises, f"{module}:{handler.lineno} catches {foreign} without raising"
        for node in raises:
            assert node.exc is not None and node.cause is not None, (
                f"{module}:{node.lineno}: translate with `raise OurError(...) from exc`"
            )
            assert ast.unparse(node.exc).split("(")[0] in _OURS, f"{module}:{node.lineno}"
