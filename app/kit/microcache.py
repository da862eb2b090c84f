"""A per-process, seconds-long cache of the pages every visitor gets alike.

The letter page, the list of letters and of public signers, and the public API are the same
for everyone (``app.kit.caching`` marks them ``public`` and they set no cookie). When a letter
makes the news, thousands of people ask for the same page each second; rendering it for each
one costs a database round trip and a template. This layer, in front of the framework, keeps
each such answer for a fraction of the counts' freshness interval and serves it as stored
bytes, answering conditional requests with ``304`` itself.

What it will keep, and when, is deliberately narrow:
- only ``GET`` and ``HEAD`` without a ``Cookie`` header (an organiser, signed in, always
  reaches the app), outside ``/organise``;
- only a ``200`` whose ``Cache-Control`` says ``public`` and that sets no cookie and varies on
  no request header;
- keyed by the exact path and query string, bounded in entries and bytes (least recently used
  go first), bodies above a limit never kept.
Each process keeps its own copy and lets it expire, so processes stay coherent within the TTL.
A page is rendered by one request at a time: when many ask for it as it expires, one renders
it while the others get the copy it replaces (or, with none, wait for it), so a burst costs
one render, not one per request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.caching import etag_listed

MAX_ENTRIES = 512
# While one request renders a page anew, the others get the copy it replaces if that expired
# less than this long ago (else they wait for the new one): one render per page per process,
# and a page (a withdrawn name on it) at most TTL + this old.
STALE_SECONDS = 1.0
MAX_BODY_BYTES = 512 * 1024
MAX_TOTAL_BYTES = 32 * 1024 * 1024
_CONDITIONAL = (b"if-none-match", b"if-modified-since")
_NOT_KEPT_ON_304 = (b"content-length", b"content-type")


@dataclass(frozen=True, slots=True)
class _Entry:
    expires: float
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes | None


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _keepable(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    if status != 200:
        return False
    cache_control = (_header(headers, b"cache-control") or b"").lower()
    if b"public" not in cache_control or b"no-store" in cache_control:
        return False
    return _header(headers, b"set-cookie") is None and _header(headers, b"vary") is None


class PageCache:
    """Pure ASGI middleware; ``ttl`` in seconds, ``clock`` for tests."""

    def __init__(
        self, app: ASGIApp, *, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.ttl = ttl
        self.clock = clock
        self.entries: OrderedDict[tuple[str, bytes], _Entry] = OrderedDict()
        self.total_bytes = 0
        # Pages being rendered now, each by one request; the others wait for it or take the
        # copy it replaces (see ``__call__``).
        self.filling: dict[tuple[str, bytes], asyncio.Future[_Entry | None]] = {}

    def _eligible(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return False
        path: str = scope["path"]
        if path.startswith("/organise") or path.startswith("/static"):
            return False
        return not any(key == b"cookie" for key, _ in scope["headers"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.ttl <= 0 or not self._eligible(scope):
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope.get("query_string", b""))
        entry = self.entries.get(key)
        now = self.clock()
        if entry is not None and entry.expires > now:
            self.entries.move_to_end(key)
            await self._answer(scope, send, entry)
            return
        filling = self.filling.get(key)
        if filling is not None:
            # Another request is rendering this page: serve what it replaces meanwhile (if it
            # is not much older than it may be), or wait for it, rather than render it too.
            if entry is not None and entry.expires + STALE_SECONDS > now:
                await self._answer(scope, send, entry)
                return
            fresh = await asyncio.shield(filling)
            if fresh is not None:
                await self._answer(scope, send, fresh)
                return
        if filling is not None:  # what it rendered could not be kept: ask the app
            await self.app(scope, receive, send)
            return
        done: asyncio.Future[_Entry | None] = asyncio.get_running_loop().create_future()
        self.filling[key] = done
        try:
            await self._fill(scope, receive, send, key, done)
        finally:
            if not done.done():
                done.set_result(None)
            if self.filling.get(key) is done:
                del self.filling[key]

    async def _fill(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: tuple[str, bytes],
        done: asyncio.Future[_Entry | None],
    ) -> None:
        """Ask the app unconditionally (so the whole answer can be kept), then answer the
        request as it was asked, conditionals included."""
        plain_scope = dict(scope)
        plain_scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in _CONDITIONAL]
        plain_scope["method"] = "GET"  # a HEAD fills the cache too, then gets no body
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        passing = False  # not keepable: messages go straight through
        bodiless = scope["method"] == "HEAD"

        async def through(message: Message) -> None:
            if bodiless and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        async def capture(message: Message) -> None:
            nonlocal start, size, passing
            if passing or message["type"] not in ("http.response.start", "http.response.body"):
                await through(message)  # (the test client's template debug messages included)
                return
            if message["type"] == "http.response.start":
                start = message
                if not _keepable(message["status"], list(message.get("headers", []))):
                    passing = True
                    await through(message)
                return
            body = message.get("body", b"")
            chunks.append(body)
            size += len(body)
            if size > MAX_BODY_BYTES:  # too big to keep: send what was held, then stream
                passing = True
                assert start is not None
                await through(start)
                await through(
                    {
                        "type": "http.response.body",
                        "body": b"".join(chunks),
                        "more_body": message.get("more_body", False),
                    }
                )
                return
            if not message.get("more_body", False):
                assert start is not None
                headers = list(start.get("headers", []))
                entry = _Entry(
                    expires=self.clock() + self.ttl,
                    headers=headers,
                    body=b"".join(chunks),
                    etag=_header(headers, b"etag"),
                )
                self._keep(key, entry)
                done.set_result(entry)  # the requests waiting for it are answered too
                await self._answer(scope, send, entry)

        await self.app(plain_scope, receive, capture)

    def _keep(self, key: tuple[str, bytes], entry: _Entry) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.total_bytes -= len(old.body)
        self.entries[key] = entry
        self.total_bytes += len(entry.body)
        while len(self.entries) > MAX_ENTRIES or self.total_bytes > MAX_TOTAL_BYTES:
            _, dropped = self.entries.popitem(last=False)
            self.total_bytes -= len(dropped.body)

    async def _answer(self, scope: Scope, send: Send, entry: _Entry) -> None:
        if_none_match = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        etag = entry.etag
        if etag is not None and if_none_match is not None and etag_listed(if_none_match, etag):
            headers = [(k, v) for k, v in entry.headers if k.lower() not in _NOT_KEPT_ON_304]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": list(entry.headers)})
        body = entry.body if scope["method"] == "GET" else b""
        await send({"type": "http.response.body", "body": body})
