"""The scraper's own HTTP client: one aiohttp session for a whole run.

Hosts are mapped like curl's ``--resolve`` (a custom resolver: the connection goes to the
rule's address and port while the URL, and so the ``Host`` header, keep the original
name). Cookies are sent per request as a ``Cookie`` header, never kept in a jar: they
come from the browser. aiohttp and timeout errors stop here, translated to ``FetchError``.
"""

from __future__ import annotations

import random
import re
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from ..config import ResolveRule
from ..errors import FetchError

__all__ = ["HttpClient", "MappedResolver", "backoff_delay", "cookie_header"]

class MappedResolver(AbstractResolver):
    """Resolve hosts matching a rule to its address *and port*; others go to ``fallback``."""

    def __init__(self, rules: tuple[ResolveRule, ...], fallback: AbstractResolver) -> None:
        self._rules = rules
        self._fallback = fallback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        rule = next((r for r in self._rules if r.matches(host)), None)
        if rule is None:
            return await self._fallback.resolve(host, port, family)
        if not _is_ip(rule.addr):
            # A rule may name a host (``localhost``): look that up, keep the rule's port.
            found = await self._fallback.resolve(rule.addr, rule.port, family)
            return [ResolveResult(**{**r, "hostname": host}) for r in found]
        ip_family = socket.AF_INET6 if ":" in rule.addr else socket.AF_INET
        return [
            ResolveResult(
                hostname=host,
                host=rule.addr,
                port=rule.port,
                family=ip_family,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
        ]

    async def close(self) -> None:
        await self._fallback.close()


def _is_ip(addr: str) -> bool:
    # Rules come from config.parse_resolve: a colon only appears in an IPv6 address.
    return ":" in addr or re.fullmatch(r"[0-9.]+", addr) is not None


def cookie_header(cookies: Mapping[str, str]) -> str:
    """``{"a": "1", "b": "2"}`` -> ``"a=1; b=2"`` (values are sent as the browser had them)."""
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def backoff_delay(attempt: int, *, base_s: float, max_s: float) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(max, base * 2**attempt))``."""
    return random.uniform(0.0, min(max_s, base_s * 2.0**attempt))


class HttpClient:
    """One ``aiohttp.ClientSession`` for the run; use as ``async with HttpClient(...) as http``.

    ``timeout_s`` bounds connecting and each socket read; ``get_text`` is also bounded as a
    whole (a download is not: a large file may take longer than one read).
    """

    def __init__(
        self,
        *,
        resolve: tuple[ResolveRule, ...],
        timeout_s: float,
        user_agent: str,
        limit: int = 32,
    ) -> None:
        self._resolve = resolve
        self._timeout_s = timeout_s
        self._user_agent = user_agent
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        resolver = MappedResolver(self._resolve, aiohttp.DefaultResolver())
        connector = aiohttp.TCPConnector(limit=self._limit, resolver=resolver)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": self._user_agent},
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self._timeout_s, sock_read=self._timeout_s
            ),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session (for what the two methods below do not cover)."""
        if self._session is None:
            raise RuntimeError("HttpClient is not open: use `async with HttpClient(...)`")
        return self._session

    async def get_text(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> tuple[int, str]:
        """GET ``url`` and return ``(status, body decoded as UTF-8)``; any status is returned."""
        timeout = aiohttp.ClientTimeout(
            total=self._timeout_s, sock_connect=self._timeout_s, sock_read=self._timeout_s
        )
        try:
            async with self.session.get(
                url, params=params, headers=_headers(headers, cookies), timeout=timeout
            ) as resp:
                body = await resp.read()
                return resp.status, body.decode("utf-8", errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FetchError(f"GET {url}: {self._reason(exc)}") from exc

    @asynccontextmanager
    async def stream(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET ``url`` following redirects and yield the response with its body unread.

        aiohttp and timeout errors raised while the caller reads the body inside the
        ``async with`` block are translated too.
        """
        try:
            async with self.session.get(url, headers=_headers(headers, cookies)) as resp:
                yield resp
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FetchError(f"GET {url}: {self._reason(exc)}") from exc

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"timed out ({self._timeout_s:g} s)"
        text = str(exc)
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _headers(
    headers: Mapping[str, str] | None, cookies: Mapping[str, str] | None
) -> dict[str, Any]:
    merged: dict[str, Any] = dict(headers or {})
    if cookies:
        merged["Cookie"] = cookie_header(cookies)
    return merged
