"""The counters' fast path: plain ASGI in front of the whole framework.

``GET``/``HEAD``/``OPTIONS`` of ``/letters/{slug}/count.json``, ``badge.svg``, ``embed`` and
``/embed.js`` are answered here from the process's cache (app/counters/cache.py): ready header
lists and bodies, conditional requests compared against a precomputed ETag, no routing, no
dependency injection, no thread. The answers carry the site's security headers themselves
(render.py builds them from app.kit.security's), since the framework's middleware never sees
them; nor does the request log: like files from a CDN, these are not logged one by one.

Everything else, including these paths with another method, a trailing slash or a slug that
cannot be one, goes on to the framework, whose routes in routes.py give the same answers.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC
from email.utils import parsedate_to_datetime

from starlette.types import ASGIApp, Receive, Scope, Send

from app.counters.cache import KINDS, CounterCache, Overloaded
from app.counters.render import PREFLIGHT, Prepared
from app.kit.caching import etag_listed

log = logging.getLogger(__name__)

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,78}[a-z0-9])")
_EMPTY: dict[str, object] = {"type": "http.response.body", "body": b""}
_PREFLIGHT = {"type": "http.response.start", "status": 204, "headers": PREFLIGHT}
_PREFIX = "/letters/"


def not_modified(headers: list[tuple[bytes, bytes]], prepared: Prepared) -> bool:
    """RFC 9110: If-None-Match (weak comparison) decides when present; else If-Modified-Since."""
    match = since = None
    for name, value in headers:
        if name == b"if-none-match":
            match = value if match is None else match + b"," + value
        elif name == b"if-modified-since":
            since = value
    if match is not None:
        return etag_listed(match, prepared.etag)
    if since is None or prepared.last_modified_at is None:
        return False
    if since == prepared.last_modified:
        return True
    try:
        moment = parsedate_to_datetime(since.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return prepared.last_modified_at <= moment


async def answer(scope: Scope, send: Send, prepared: Prepared, *, private: bool = False) -> None:
    """Sends the prepared messages as they are. ``private``: send copies, for a ``send`` that
    may change what it is given (the framework's middleware adds headers in place)."""
    start: dict[str, object]
    body: dict[str, object]
    if prepared.etag and not_modified(scope["headers"], prepared):
        start, body = prepared.not_modified, _EMPTY
    else:
        start = prepared.ok
        body = prepared.body if scope["method"] == "GET" else _EMPTY
    if private:
        start = {**start, "headers": list(start["headers"])}  # type: ignore[call-overload]
        body = dict(body)
    await send(start)
    await send(body)


class CounterFastPath:
    """``handle`` answers a request it knows and returns True; as ASGI middleware (``app``
    given) it hands every other request on. main.py calls ``handle`` before Starlette's own
    outermost layer runs, which saves that layer's cost on every counter request."""

    def __init__(self, app: ASGIApp | None = None, *, cache: CounterCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self.handle(scope, send):
            assert self.app is not None
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, send: Send) -> bool:
        if scope["type"] != "http":
            return False
        path: str = scope["path"]
        if path == "/embed.js":
            return await self._script(scope, send)
        if path.startswith(_PREFIX):
            slug, _, kind = path[len(_PREFIX) :].partition("/")
            if kind in KINDS and SLUG.fullmatch(slug):
                return await self._counter(scope, send, slug, kind)
        return False

    async def _script(self, scope: Scope, send: Send) -> bool:
        method = scope["method"]
        if method == "OPTIONS":
            await send(_PREFLIGHT)
            await send(_EMPTY)
            return True
        if method not in ("GET", "HEAD"):
            return False
        await answer(scope, send, self.cache.script)
        return True

    async def _counter(self, scope: Scope, send: Send, slug: str, kind: str) -> bool:
        method = scope["method"]
        if method == "OPTIONS":
            # The same for every slug, so a preflight tells nothing about drafts.
            await send(_PREFLIGHT)
            await send(_EMPTY)
            return True
        if method not in ("GET", "HEAD"):
            return False
        try:
            entry = await self.cache.lookup(slug)
            if isinstance(entry, Overloaded):
                return False
            if entry is None:
                prepared = self.cache.not_found[kind]
            else:
                prepared = self.cache.prepared(entry, kind, scope["query_string"])
        except Exception:
            # Nothing sent yet: the framework answers, with its error page and headers.
            log.exception("counters: the fast path failed; handing the request on")
            return False
        await answer(scope, send, prepared)
        return True
