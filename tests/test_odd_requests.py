"""Odd requests against the running app (uvicorn on loopback, raw HTTP): form bodies in odd
charsets, forged Host headers with trailing-slash redirects, and tokens in odd paths. Each gets
a clear answer, never a 500, never a Location off the site, never a token in the log."""

from __future__ import annotations

import http.client
import logging
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine

from tests.helpers import queued_jobs, signatures

ODD_CHARSET = "Forms must be sent in UTF-8."


def raw(
    live_server: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, http.client.HTTPResponse, str]:
    """Sends exactly this path and these headers (no client-side URL clean-up)."""
    netloc = urlsplit(live_server).netloc
    connection = http.client.HTTPConnection(netloc, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": netloc, "Content-Length": str(len(body))} | (headers or {})
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        return response.status, response, text
    finally:
        connection.close()


def multipart(fields: dict[str, bytes], boundary: str = "odd-boundary") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value
        for name, value in fields.items()
    ]
    return b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()


SIGNER = {"email": b"anna@example.org", "visibility": b"public"}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "application/x-www-form-urlencoded; charset=utf-7",
            b"name=Anna+%2B2AA-&email=anna%40example.org&visibility=public",
        ),
        (
            "multipart/form-data; boundary=odd-boundary; charset=utf-7",
            multipart({"name": b"Anna +2AA-"} | SIGNER),  # a lone surrogate once decoded
        ),
        (
            "multipart/form-data; boundary=odd-boundary; charset=raw-unicode-escape",
            multipart({"name": b"Anna \\ud800"} | SIGNER),
        ),
        (
            'multipart/form-data; boundary=odd-boundary; charset="UTF-7"',
            multipart({"name": b"Anna", "email": b"+2AA-@example.org"} | SIGNER),
        ),
        (
            "multipart/form-data; boundary=odd-boundary; charset=undefined",
            multipart({"name": b"Anna Example"} | SIGNER),
        ),
    ],
)
def test_forms_in_odd_charsets_get_a_400_page(
    live_server: str, engine: Engine, letter_slug: str, content_type: str, body: bytes
) -> None:
    status, response, text = raw(
        live_server,
        "POST",
        f"/letters/{letter_slug}/sign",
        headers={"Content-Type": content_type},
        body=body,
    )

    assert status == 400
    assert response.getheader("content-type", "").startswith("text/html")
    assert '<section class="message-page">' in text  # our error page, not a bare message
    assert signatures(engine) == []
    assert queued_jobs(engine) == []


def test_a_utf8_form_still_goes_through(live_server: str, engine: Engine, letter_slug: str) -> None:
    status, response, _ = raw(
        live_server,
        "POST",
        f"/letters/{letter_slug}/sign",
        headers={
            "Content-Type": "multipart/form-data; boundary=odd-boundary; charset=UTF-8",
        },
        body=multipart({"name": "Zoë Example".encode()} | SIGNER),
    )
    assert status == 303
    assert response.getheader("location") == f"/letters/{letter_slug}/check-email"
    assert [s.name for s in signatures(engine)] == ["Zoë Example"]


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/letters/{slug}/", "/letters/{slug}"),
        ("/letters/{slug}///", "/letters/{slug}"),
        ("//letters/{slug}/", "/letters/{slug}"),
        ("/letters/{slug}/?page=2", "/letters/{slug}?page=2"),
        ("/letters/{slug}/count.json/", "/letters/{slug}/count.json"),
    ],
)
def test_trailing_slash_redirects_stay_on_the_site(
    live_server: str, letter_slug: str, path: str, location: str
) -> None:
    status, response, _ = raw(
        live_server, "GET", path.format(slug=letter_slug), headers={"Host": "evil.example"}
    )
    assert status == 307
    assert response.getheader("location") == location.format(slug=letter_slug)


@pytest.mark.parametrize(
    "path", ["//evil.example/", "///evil.example/", "/\\evil.example/", "/%5Cevil.example/"]
)
def test_no_redirect_leads_elsewhere(live_server: str, path: str) -> None:
    status, response, text = raw(live_server, "GET", path, headers={"Host": "evil.example"})
    assert status == 404
    assert response.getheader("location") is None
    assert "evil.example" not in text


def request_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The request log's lines; the server writes its line just after the response is sent,
    so wait (a bounded while) for it to be there."""
    deadline = time.monotonic() + 10
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == "undersigned.requests"]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


TOKEN = "SECRETtoken123"  # not token-shaped, so only the request log's own rule can hide it


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (f"/confirm/{TOKEN}", "/confirm/{token}"),
        (f"/withdraw/{TOKEN}", "/withdraw/{token}"),
        (f"//confirm/{TOKEN}", "<unmatched>"),
        (f"/Confirm/{TOKEN}", "<unmatched>"),
        (f"/confirm/{TOKEN}/x", "<unmatched>"),
        (f"/withdraw/{TOKEN}/", "<unmatched>"),
        (f"/%63onfirm/{TOKEN}", "/confirm/{token}"),
        (f"/confirm%2F{TOKEN}", "/confirm/{token}"),  # the server decodes %2F first
        (f"/confirm/{TOKEN}%2Fx", "<unmatched>"),
        (f"/static/{TOKEN}", "/static/{path}"),
        (f"/{TOKEN}", "<unmatched>"),
    ],
)
def test_tokens_never_reach_the_request_log(
    live_server: str, caplog: pytest.LogCaptureFixture, path: str, logged: str
) -> None:
    caplog.set_level(logging.INFO, logger="undersigned.requests")
    raw(live_server, "GET", path)

    lines = request_log(caplog)
    assert len(lines) == 1
    assert lines[0].split()[1] == logged
    assert TOKEN.lower() not in lines[0].lower()
