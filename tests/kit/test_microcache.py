"""The page cache: public pages alike for every visitor are kept a moment and served as bytes;
nothing personal, no organiser page, no cookie-carrying request and no refused form is kept."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

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
