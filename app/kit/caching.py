"""Responses that every visitor gets alike: a strong ETag, ``304`` to a conditional request,
and ``public`` caching with a short lifetime, so a shared cache (or the browser) can keep them.

Only for responses with nothing personal and no per-visitor token: the letter page, the list of
letters and of public signers, the public API."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

# Short: a new signature, or a withdrawn name, shows within this (plus the stale window).
PUBLIC_MAX_AGE_SECONDS = 10
STALE_WHILE_REVALIDATE_SECONDS = 30


def public_cache_control(max_age: int = PUBLIC_MAX_AGE_SECONDS, *, page: bool = False) -> str:
    """For a ``page``, browsers keep a copy but ask again each time (``max-age=0``: a signer
    who has just confirmed, back on the letter's page, sees their signature counted, at the
    price of a request answered ``304``), while shared caches keep it ``s-maxage`` seconds,
    which is what spares the server when a letter makes the news. Data (the API) is cached
    ``max-age`` seconds everywhere."""
    swr = f"stale-while-revalidate={STALE_WHILE_REVALIDATE_SECONDS}"
    if page:
        return f"public, max-age=0, s-maxage={max_age}, {swr}"
    return f"public, max-age={max_age}, {swr}"


def strong_etag(body: bytes) -> str:
    """The body's own hash: two responses share it only if they are byte for byte the same."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_listed(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 13.1.2: If-None-Match uses the weak comparison (a ``W/`` prefix is ignored on
    either side); ``*`` matches any current representation; the value may list several."""
    if if_none_match == etag or if_none_match == b"*":  # what browsers and caches send
        return True
    wanted = etag.removeprefix(b"W/")
    for candidate in if_none_match.split(b","):
        candidate = candidate.strip()
        if candidate == b"*" or candidate.removeprefix(b"W/") == wanted:
            return True
    return False


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """``etag_listed`` for a header as Starlette gives it (decoded as latin-1)."""
    if not if_none_match:
        return False
    return etag_listed(if_none_match.encode("latin-1"), etag.encode("latin-1"))


def cacheable(
    request: Request,
    response: Response,
    *,
    max_age: int = PUBLIC_MAX_AGE_SECONDS,
    page: bool = False,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    """Mark a rendered 200 response as shared-cacheable, or answer 304 when the client holds
    the same bytes. Other statuses are left as they are (never cached here)."""
    if response.status_code != 200:
        return response
    assert "set-cookie" not in response.headers, "a cacheable response must not set a cookie"
    etag = strong_etag(bytes(response.body))
    headers = {
        "etag": etag,
        "cache-control": public_cache_control(max_age, page=page),
        **(extra_headers or {}),
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        not_modified = Response(status_code=304, headers=headers)
        for name in ("vary", "content-language"):
            if name in response.headers:
                not_modified.headers[name] = response.headers[name]
        return not_modified
    for name, value in headers.items():
        response.headers[name] = value
    return response
