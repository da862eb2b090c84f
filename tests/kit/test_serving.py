"""Our uvicorn protocol (TCP_NODELAY, a response's writes joined into one) delivers every kind
of answer intact: small ones, streamed large ones, HEAD, many on one kept-alive connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from app.kit.serving import HTTP_PROTOCOL
from tests.pg import free_port

CHUNK = bytes(range(256)) * 256  # 64 KiB


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/big":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(16):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    body = scope["path"].encode() * 3
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def server() -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, http=HTTP_PROTOCOL
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


def test_answers_arrive_whole_and_in_order(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        for n in range(200):  # one kept-alive connection
            response = client.get(f"/n{n}")
            assert response.content == f"/n{n}".encode() * 3
        assert client.head("/head").content == b""
        assert client.head("/head").headers["content-length"] == str(len(b"/head" * 3))
        assert client.get("/big").content == CHUNK * 16
        assert client.get("/after").content == b"/after" * 3
