"""A burst of signers on a real server is served in turn, never frozen; far past the configured
limits the overflow is refused at once with 503 and Retry-After."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from sqlalchemy import Engine
from starlette.types import ASGIApp

from app.config import Settings
from app.main import create_app
from tests.helpers import SAME_ORIGIN, address_of, signatures
from tests.live import serving

# More simultaneous requests than the thread pool has threads (40) and the database pool has
# connections: the case that used to freeze the site.
SIGNERS = 100
READERS = 4


def test_a_burst_of_signers_is_served_in_turn(
    live_server: str, engine: Engine, letter_slug: str
) -> None:
    barrier = threading.Barrier(SIGNERS + READERS)

    def sign(n: int) -> int:
        form = {
            "name": f"Burst Signer {n}",
            "email": f"burst-{n}@example.org",
            "visibility": "public",
        }
        with httpx.Client(base_url=live_server, headers=SAME_ORIGIN, timeout=120) as c:
            barrier.wait(timeout=30)
            response = c.post(f"/letters/{letter_slug}/sign", data=form, follow_redirects=False)
            return response.status_code

    def read(_: int) -> list[int]:
        with httpx.Client(base_url=live_server, timeout=120) as c:
            barrier.wait(timeout=30)
            return [
                c.get(f"/letters/{letter_slug}").status_code,
                c.get(f"/letters/{letter_slug}/count.json").status_code,
            ]

    with ThreadPoolExecutor(max_workers=SIGNERS + READERS) as pool:
        reads = [pool.submit(read, n) for n in range(READERS)]
        signs = list(pool.map(sign, range(SIGNERS)))

    assert Counter(signs) == {303: SIGNERS}
    assert [future.result() for future in reads] == [[200, 200]] * READERS
    stored = {address_of(signature) for signature in signatures(engine)}
    assert stored == {f"burst-{n}@example.org" for n in range(SIGNERS)}


class HeldRequest:
    """A sign request whose body never finishes arriving: it holds its place in the app."""

    def __init__(self, base_url: str, slug: str) -> None:
        parts = urlsplit(base_url)
        assert parts.hostname and parts.port
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.sock.sendall(
            (
                f"POST /letters/{slug}/sign HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 1000\r\n\r\nname=Slow"
            ).encode()
        )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def tiny_limits(request: pytest.FixtureRequest, settings: Settings) -> Iterator[str]:
    """The app with room for one request at a time and the given queue; yields its base URL."""
    queue, wait = request.param
    tiny = settings.model_copy(
        update={"max_active_requests": 1, "max_queued_requests": queue, "max_queue_seconds": wait}
    )
    app = create_app(tiny)
    try:
        with serving(app) as base_url:
            yield base_url
    finally:
        app.state.engine.dispose()


def first_refusal(base_url: str, path: str) -> httpx.Response:
    """Ask until the server refuses: the held request may not have been let in yet."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for _ in range(500):
            response = client.get(path)
            if response.status_code != 200:
                return response
    raise AssertionError("the server never refused while its only place was held")


@pytest.mark.parametrize(
    "tiny_limits",
    # The other limit is out of reach in each case: a client would give up before it applied.
    [pytest.param((0, 600.0), id="queue-full"), pytest.param((10, 0.2), id="waited-too-long")],
    indirect=True,
)
def test_past_the_limits_the_overflow_is_refused_at_once(
    tiny_limits: str, letter_slug: str
) -> None:
    held = HeldRequest(tiny_limits, letter_slug)
    try:
        refused = first_refusal(tiny_limits, f"/letters/{letter_slug}/count.json")
    finally:
        held.close()
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in refused.headers
    assert refused.headers["cache-control"] == "no-store"

    # Once the place is free again, requests are served.
    with httpx.Client(base_url=tiny_limits, timeout=60) as client:
        statuses = {client.get(f"/letters/{letter_slug}/count.json").status_code for _ in range(3)}
    assert statuses == {200}


def test_static_files_pass_the_queue(settings: Settings, letter_slug: str) -> None:
    tiny = settings.model_copy(update={"max_active_requests": 1, "max_queued_requests": 0})
    app: ASGIApp = create_app(tiny)
    try:
        with serving(app) as base_url:
            held = HeldRequest(base_url, letter_slug)
            try:
                first_refusal(base_url, f"/letters/{letter_slug}/count.json")
                with httpx.Client(base_url=base_url, timeout=60) as client:
                    assert client.get("/static/style.css").status_code == 200
            finally:
                held.close()
    finally:
        app.state.engine.dispose()  # type: ignore[attr-defined]
