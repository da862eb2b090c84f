"""The page cache: public pages alike for every visitor are kept a moment and served as bytes;
nothing personal, no organiser page, no cookie-carrying request and no refused form is kept."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from app.kit.microcache import PageCache
from tests.helpers import SAME_ORIGIN, update_letter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app_and_engine: tuple[object, Engine]) -> Clock:
    """The app's page cache switched on (the suite's settings turn it off), on a fake clock."""
    app = app_and_engine[0]
    clock = Clock()
    app.page_cache = PageCache(app.framework, ttl=2.0, clock=clock)  # type: ignore[attr-defined]
    return clock


def test_a_public_page_is_kept_until_it_expires(
    client: TestClient, engine: Engine, letter_slug: str, clock: Clock
) -> None:
    path = f"/letters/{letter_slug}"
    first = client.get(path)
    assert first.status_code == 200 and "All for all" in first.text
    update_letter(engine, letter_slug, title="Changed behind the cache")
    kept = client.get(path)
    assert kept.content == first.content  # served from memory: the change is not seen yet
    assert kept.headers["etag"] == first.headers["etag"]
    assert kept.headers["x-content-type-options"] == "nosniff"  # the headers came with it
    assert client.head(path).status_code == 200
    clock.now += 2.5
    fresh = client.get(path)
    assert "Changed behind the cache" in fresh.text
    assert fresh.headers["etag"] != first.headers["etag"]


def test_conditional_requests_are_answered_from_the_cache(
    client: TestClient, letter_slug: str, clock: Clock
) -> None:
    path = f"/api/letters/{letter_slug}"
    etag = client.get(path).headers["etag"]
    for sent in (etag, f"W/{etag}", f'"other", {etag}'):
        again = client.get(path, headers={"if-none-match": sent})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["access-control-allow-origin"] == "*"
    assert client.get(path, headers={"if-none-match": '"other"'}).status_code == 200
    # A first request that is conditional still fills the cache with the whole answer.
    clock.now += 5
    assert client.get(path, headers={"if-none-match": etag}).status_code == 304
    assert client.get(path).content


def test_requests_with_cookies_and_organiser_pages_reach_the_app(
    client: TestClient, engine: Engine, letter_slug: str, clock: Clock
) -> None:
    path = f"/letters/{letter_slug}"
    client.get(path)
    update_letter(engine, letter_slug, title="Seen at once by a signed-in organiser")
    with_cookie = client.get(path, headers={"cookie": "us_organiser=anything"})
    assert "Seen at once by a signed-in organiser" in with_cookie.text
    sign_in = client.get("/organise/sign-in")
    assert not any(key == ("/organise/sign-in", b"") for key in client.app.page_cache.entries)  # type: ignore[attr-defined]
    assert sign_in.headers["cache-control"] == "no-store"


def test_a_form_sent_back_with_errors_is_never_kept(
    client: TestClient, letter_slug: str, clock: Clock
) -> None:
    path = f"/letters/{letter_slug}"
    refused = client.post(
        f"{path}/sign", data={"name": "Typed By Someone", "email": "bad"}, headers=SAME_ORIGIN
    )
    assert refused.status_code == 400 and "Typed By Someone" in refused.text
    assert "Typed By Someone" not in client.get(path).text
    assert all(
        b"Typed By Someone" not in entry.body for entry in client.app.page_cache.entries.values()
    )  # type: ignore[attr-defined]


def test_the_cache_stays_bounded(client: TestClient, letter_slug: str, clock: Clock) -> None:
    cache: PageCache = client.app.page_cache  # type: ignore[attr-defined]
    for n in range(600):  # every query string its own entry: an attacker's flood
        client.get(f"/api/letters?n={n}")
    assert len(cache.entries) <= 512
    assert cache.total_bytes == sum(len(entry.body) for entry in cache.entries.values())


class SlowPage:
    """A bare ASGI app rendering a numbered page slowly; ``status`` for pages not kept."""

    def __init__(self, status: int = 200) -> None:
        self.renders = 0
        self.status = status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.renders += 1
        number = self.renders
        await asyncio.sleep(0.05)
        headers = [
            (b"cache-control", b"public, max-age=0, s-maxage=10"),
            (b"etag", b'"%d"' % number),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"render %d" % number})


async def ask(cache: PageCache, path: str = "/letters/x", method: str = "GET") -> tuple[int, bytes]:
    scope = {"type": "http", "method": method, "path": path, "query_string": b"", "headers": []}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await cache(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_burst_for_a_page_costs_one_render_fresh_or_expired() -> None:
    page, clock = SlowPage(), Clock()
    cache = PageCache(page, ttl=2.0, clock=clock)

    async def burst() -> list[tuple[int, bytes]]:
        return await asyncio.gather(*(ask(cache) for _ in range(20)))

    first = asyncio.run(burst())  # nothing kept yet: one renders, the others wait for it
    assert page.renders == 1 and first == [(200, b"render 1")] * 20
    clock.now += 2.5  # just expired: one renders anew, the others get the copy it replaces
    second = asyncio.run(burst())
    assert page.renders == 2
    assert sorted(second) == [(200, b"render 1")] * 19 + [(200, b"render 2")]
    assert asyncio.run(ask(cache)) == (200, b"render 2")
    clock.now += 60  # far past: the old copy is too old to stand in, so all wait for the new
    assert asyncio.run(burst()) == [(200, b"render 3")] * 20 and page.renders == 3

    async def heads() -> list[tuple[int, bytes]]:
        return await asyncio.gather(*(ask(cache, method="HEAD") for _ in range(20)))

    clock.now += 60  # HEAD requests are coalesced alike, answered without a body
    assert asyncio.run(heads()) == [(200, b"")] * 20 and page.renders == 4
    assert asyncio.run(ask(cache)) == (200, b"render 4")  # and they filled the cache


def test_a_page_that_cannot_be_kept_is_rendered_for_each_request() -> None:
    page = SlowPage(status=404)
    cache = PageCache(page, ttl=2.0, clock=Clock())

    async def burst() -> list[tuple[int, bytes]]:
        return await asyncio.gather(*(ask(cache) for _ in range(5)))

    answers = asyncio.run(burst())
    assert page.renders == 5 and {status for status, _ in answers} == {404}
    assert cache.entries == {} and cache.filling == {}
    assert asyncio.run(ask(cache, method="HEAD")) == (404, b"")  # rendered, sent bodiless


def test_a_render_abandoned_half_way_leaves_no_one_waiting_forever() -> None:
    page, clock = SlowPage(), Clock()
    cache = PageCache(page, ttl=2.0, clock=clock)

    async def abandoned_then_asked() -> tuple[int, bytes]:
        first = asyncio.create_task(ask(cache))
        await asyncio.sleep(0.01)
        waiting = asyncio.create_task(ask(cache))
        await asyncio.sleep(0.01)
        first.cancel()  # the client that was rendering it went away
        return await asyncio.wait_for(waiting, timeout=5)

    assert asyncio.run(abandoned_then_asked()) == (200, b"render 2")
    assert cache.filling == {}
