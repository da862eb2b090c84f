"""The counter endpoints as framework routes.

The fast path (fastpath.py) answers them before the framework sees the request; these routes
give the very same bytes when it hands a request on (too many first lookups at once, or the
database failing), and they are what the router knows of these paths (trailing-slash
redirects, 405 for other methods)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from app.counters.cache import CounterCache, Overloaded
from app.counters.fastpath import answer
from app.counters.render import Prepared
from app.kit.admission import RETRY_AFTER_SECONDS
from app.letters.service import LetterNotFound

router = APIRouter()


class _PreparedResponse(Response):
    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await answer(scope, send, self.prepared, private=True)


async def _counter(request: Request, slug: str, kind: str) -> Response:
    cache: CounterCache = request.app.state.counters
    entry = await cache.lookup(slug, queue=True)
    if isinstance(entry, Overloaded):  # the database failed: busy, not missing
        return PlainTextResponse(
            "The service is busy. Please try again in a moment.",
            status_code=503,
            headers={"retry-after": str(RETRY_AFTER_SECONDS), "cache-control": "no-store"},
        )
    if entry is None:
        raise LetterNotFound(slug)
    return _PreparedResponse(cache.prepared(entry, kind, request.scope["query_string"]))


@router.api_route("/letters/{slug}/count.json", methods=["GET", "HEAD"])
async def count_json(request: Request, slug: str) -> Response:
    return await _counter(request, slug, "count.json")


@router.api_route("/letters/{slug}/badge.svg", methods=["GET", "HEAD"])
async def badge_svg(request: Request, slug: str) -> Response:
    return await _counter(request, slug, "badge.svg")


@router.api_route("/letters/{slug}/embed", methods=["GET", "HEAD"])
async def embed(request: Request, slug: str) -> Response:
    return await _counter(request, slug, "embed")


@router.api_route("/embed.js", methods=["GET", "HEAD"])
async def embed_script(request: Request) -> Response:
    cache: CounterCache = request.app.state.counters
    return _PreparedResponse(cache.script)
