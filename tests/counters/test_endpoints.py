"""count.json, badge.svg, embed and embed.js over HTTP: validators and 304s, caching and
security headers, CORS, drafts, odd requests, and the process cache's freshness."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from sqlalchemy import Engine, update
from starlette.testclient import TestClient

from app.counters.models import LetterCount
from app.counters.render import EMBED_CSS
from app.counters.service import fold_pending
from app.db import open_session, utcnow
from app.letters.models import LetterStatus
from tests.helpers import add_letter, add_signature, catch_up_counts, update_letter
from tests.html import parse

ENDPOINTS = ["count.json", "badge.svg", "embed"]
CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=50"


@pytest.fixture
def counted(client: TestClient, engine: Engine) -> str:
    """An open letter with 1,234 confirmed signatures' worth of count and a goal."""
    add_letter(engine, "counted", goal=5000)
    for n in range(3):
        add_signature(engine, "counted", name="A B", email=f"{n}@ex.org", country="DE")
    catch_up_counts(client)
    return "counted"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_validators_and_caching_headers(client: TestClient, counted: str, endpoint: str) -> None:
    path = f"/letters/{counted}/{endpoint}"
    first = client.get(path)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[A-Za-z0-9_-]{24}"', etag)  # strong: no W/
    assert first.headers["cache-control"] == CACHE_CONTROL
    modified = parsedate_to_datetime(first.headers["last-modified"])
    assert modified <= utcnow()
    assert "set-cookie" not in first.headers
    assert first.headers["x-content-type-options"] == "nosniff"
    assert first.headers["referrer-policy"] == "same-origin"

    for headers in (
        {"if-none-match": etag},
        {"if-none-match": f'"other", W/{etag}'},
        {"if-none-match": "*"},
        {"if-modified-since": first.headers["last-modified"]},
        {"if-modified-since": format_datetime(utcnow(), usegmt=True)},
    ):
        again = client.get(path, headers=headers)
        assert again.status_code == 304, headers
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == CACHE_CONTROL
    for headers in (
        {"if-none-match": '"other"'},
        {"if-none-match": '"other"', "if-modified-since": first.headers["last-modified"]},
        {"if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {"if-modified-since": "not a date"},
    ):
        assert client.get(path, headers=headers).status_code == 200, headers

    head = client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == etag
    assert head.headers["content-length"] == str(len(first.content))
    assert client.head(path, headers={"if-none-match": etag}).status_code == 304


def test_the_etag_follows_the_count(client: TestClient, engine: Engine, counted: str) -> None:
    before = client.get(f"/letters/{counted}/count.json")
    add_signature(engine, counted, name="New Signer", email="new@ex.org")
    catch_up_counts(client)
    after = client.get(
        f"/letters/{counted}/count.json", headers={"if-none-match": before.headers["etag"]}
    )
    assert after.status_code == 200
    assert after.json()["signatures"] == 4
    assert after.headers["etag"] != before.headers["etag"]


def test_count_json_is_for_every_origin_and_sets_no_cookie(
    client: TestClient, counted: str
) -> None:
    path = f"/letters/{counted}/count.json"
    client.cookies.set("us_csrf", "x" * 43)
    response = client.get(path, headers={"origin": "https://news.example"})
    assert response.json() == {
        "slug": "counted",
        "signatures": 3,
        "goal": 5000,
        "updated_at": response.json()["updated_at"],
    }
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "set-cookie" not in response.headers

    preflight = client.options(
        path,
        headers={
            "origin": "https://news.example",
            "access-control-request-method": "GET",
            "access-control-request-headers": "if-none-match",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert set(preflight.headers["access-control-allow-methods"].split(", ")) == {
        "GET",
        "HEAD",
        "OPTIONS",
    }
    assert preflight.headers["access-control-allow-headers"] == "*"
    assert "set-cookie" not in preflight.headers


def test_drafts_are_invisible_to_every_counter_endpoint(client: TestClient, engine: Engine) -> None:
    add_letter(engine, "secret-draft", status=LetterStatus.DRAFT, goal=10)
    add_signature(engine, "secret-draft", name="A B", email="a@ex.org")
    catch_up_counts(client)
    for endpoint in ENDPOINTS:
        for method in ("GET", "HEAD", "OPTIONS"):
            draft = client.request(method, f"/letters/secret-draft/{endpoint}")
            unknown = client.request(method, f"/letters/no-such-letter/{endpoint}")
            assert draft.status_code == unknown.status_code, (endpoint, method)
            assert draft.content == unknown.content
            assert dict(draft.headers) == dict(unknown.headers)
            if method != "OPTIONS":
                assert draft.status_code == 404
            assert b"secret" not in draft.content
    assert client.get("/letters/no-such-letter/count.json").json() == {"error": "Letter not found"}

    # Published, it appears once the short negative cache has run out.
    update_letter(engine, "secret-draft", status=LetterStatus.OPEN)
    catch_up_counts(client)
    assert client.get("/letters/secret-draft/count.json").json()["signatures"] == 1


def test_the_process_cache_rereads_five_times_per_freshness_interval(
    client: TestClient, engine: Engine, counted: str
) -> None:
    cache = client.app.state.counters  # type: ignore[attr-defined]
    now = [1000.0]
    cache.clock = lambda: now[0]
    cache.forget()
    assert client.get(f"/letters/{counted}/count.json").json()["signatures"] == 3
    add_signature(engine, counted, name="New Signer", email="new@ex.org")
    fold_pending(engine)  # the counts table moved...
    now[0] += 0.9
    assert client.get(f"/letters/{counted}/count.json").json()["signatures"] == 3  # ...not yet
    now[0] += 0.15  # a fifth of the freshness interval is over: one query, the new count
    assert client.get(f"/letters/{counted}/count.json").json()["signatures"] == 4
    # An unknown slug is looked up again only after that time too.
    assert client.get("/letters/later-letter/count.json").status_code == 404
    add_letter(engine, "later-letter")
    assert client.get("/letters/later-letter/count.json").status_code == 404
    now[0] += 1.05
    assert client.get("/letters/later-letter/count.json").status_code == 200


def test_letter_changes_reach_the_counters(
    client: TestClient, engine: Engine, counted: str
) -> None:
    update_letter(engine, counted, goal=10, title="A new title")
    catch_up_counts(client)
    assert client.get(f"/letters/{counted}/count.json").json()["goal"] == 10
    assert "A new title" in client.get(f"/letters/{counted}/badge.svg").text


def test_the_badge_is_safe_svg_in_the_language_asked(client: TestClient, engine: Engine) -> None:
    add_letter(engine, "badge")
    update_letter(engine, "badge", title="<script>alert(\"x\")</script> & 'friends'")
    for n in range(2):
        add_signature(engine, "badge", name="A B", email=f"{n}@ex.org")
    catch_up_counts(client)
    with open_session(engine, write=True) as session:  # a big number, without a big table
        session.execute(update(LetterCount).values(total=1234567))
        session.commit()
    client.app.state.counters.forget()  # type: ignore[attr-defined]

    english = client.get("/letters/badge/badge.svg")
    assert english.headers["content-type"] == "image/svg+xml; charset=utf-8"
    assert english.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "<script" not in english.text
    root = ET.fromstring(english.content)  # well-formed XML, whatever the title held
    texts = [node.text for node in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts[1] == "1,234,567 signatures"
    assert texts[0] is not None and texts[0].startswith("<script>alert(")
    assert root.attrib["role"] == "img"

    german = client.get("/letters/badge/badge.svg?lang=de")
    assert "1.234.567 signatures" in german.text
    assert german.headers["etag"] != english.headers["etag"]
    assert client.get("/letters/badge/badge.svg?lang=de-DE").text == german.text
    # Nonsense falls back to the letter's language, and is never echoed.
    for odd in ("xx-%ff", "%3Cscript%3E", "de" * 200, "../../etc", "en&lang=fr"):
        response = client.get(f"/letters/badge/badge.svg?lang={odd}")
        assert response.status_code == 200
        assert "<script>" not in response.text


def test_the_embed_page_may_be_framed_and_needs_no_script(client: TestClient, counted: str) -> None:
    light = client.get(f"/letters/{counted}/embed")
    assert light.status_code == 200
    csp = light.headers["content-security-policy"]
    assert "frame-ancestors *" in csp
    assert "x-frame-options" not in light.headers
    style_hash = base64.b64encode(hashlib.sha256(EMBED_CSS.encode()).digest()).decode()
    assert f"'sha256-{style_hash}'" in csp
    assert "script" not in csp  # default-src 'none': no script runs here
    doc = parse(light.text)
    assert doc.find_all("script") == []
    assert doc.find("html").attrs["class"] == "theme-light"  # type: ignore[union-attr]
    assert "3" in doc.find("p", class_="count").text()  # type: ignore[union-attr]
    progress = doc.find("progress")
    assert progress is not None
    assert (progress.attrs["value"], progress.attrs["max"]) == ("3", "5000")
    [link] = doc.find_all("a")
    assert link.attrs["href"] == "http://undersigned.test/letters/counted"
    assert link.attrs["target"] == "_top"
    assert EMBED_CSS in light.text  # exactly the hashed bytes

    dark = client.get(f"/letters/{counted}/embed?theme=dark&lang=fr")
    assert parse(dark.text).find("html").attrs["class"] == "theme-dark"  # type: ignore[union-attr]
    assert client.get(f"/letters/{counted}/embed?theme=<b>").text == light.text

    # Every other page keeps refusing to be framed.
    for path in (f"/letters/{counted}", f"/letters/{counted}/count.json", "/"):
        assert "frame-ancestors 'none'" in client.get(path).headers["content-security-policy"]


def test_embed_js(client: TestClient) -> None:
    script = client.get("/embed.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"
    assert script.headers["cache-control"] == CACHE_CONTROL
    assert "setInterval(refresh, refreshMs)" in script.text
    assert "var refreshMs = 5 * 1000" in script.text
    assert 'credentials: "omit"' in script.text
    assert "document.cookie" not in script.text
    assert (
        client.get("/embed.js", headers={"if-none-match": script.headers["etag"]}).status_code
        == 304
    )


def test_odd_requests(client: TestClient, counted: str) -> None:
    assert client.post(f"/letters/{counted}/count.json").status_code in (403, 405)
    assert client.delete(f"/letters/{counted}/count.json").status_code in (403, 405)
    moved = client.get(f"/letters/{counted}/count.json/", follow_redirects=False)
    assert moved.status_code == 307
    assert moved.headers["location"] == f"/letters/{counted}/count.json"
    for path in (
        "/letters/COUNTED/count.json",
        "/letters/counted%00/count.json",
        "/letters//count.json",
        "/letters/counted/count.json.bak",
        "/letters/counted/embed/extra",
        "/letters/a/count.json",
        "/letters/" + "a" * 300 + "/badge.svg",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
    many = "&".join(f"f{n}=x" for n in range(50)) + "&theme=dark"
    for endpoint in ("badge.svg", "embed"):
        crowded = client.get(f"/letters/{counted}/{endpoint}?{many}")
        assert crowded.status_code == 200
        assert crowded.content == client.get(f"/letters/{counted}/{endpoint}").content
    # Cache busters and junk in the query share the one answer.
    plain = client.get(f"/letters/{counted}/count.json")
    busted = client.get(f"/letters/{counted}/count.json?_=123&%ff=%00")
    assert busted.content == plain.content


def test_the_framework_routes_give_the_same_answers(client: TestClient, counted: str) -> None:
    """When the fast path hands a request on (too many first lookups at once), the routes
    answer with the same bytes."""
    fast = {e: client.get(f"/letters/{counted}/{e}?lang=de") for e in ENDPOINTS}
    cache = client.app.state.counters  # type: ignore[attr-defined]
    cache.forget()
    cache.max_loading = 0  # every first lookup is handed on
    for endpoint, answer in fast.items():
        routed = client.get(f"/letters/{counted}/{endpoint}?lang=de")
        assert routed.status_code == 200
        assert routed.content == answer.content
        assert routed.headers["etag"] == answer.headers["etag"]
        assert routed.headers["cache-control"] == CACHE_CONTROL
        cache.forget()
    missing = client.get("/letters/no-such-letter/count.json")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Letter not found"}
    # What the framework's middleware added on its way out stayed on its own copy: the same
    # entry, served by the fast path next, has no X-Frame-Options.
    routed = client.get(f"/letters/{counted}/embed?lang=de")
    assert routed.headers["x-frame-options"] == "DENY"  # added by SecurityMiddleware
    cache.max_loading = 8
    framed = client.get(f"/letters/{counted}/embed?lang=de")
    assert "x-frame-options" not in framed.headers
    assert framed.headers["etag"] == fast["embed"].headers["etag"]


def test_the_letter_page_offers_embed_codes(client: TestClient, counted: str) -> None:
    doc = parse(client.get(f"/letters/{counted}").text)
    codes = {code.attrs["id"]: code.text() for code in doc.find_all("pre")}
    assert 'src="http://undersigned.test/letters/counted/embed"' in codes["embed-iframe"]
    assert '<div data-letter="counted"></div>' in codes["embed-script"]
    assert 'src="http://undersigned.test/embed.js"' in codes["embed-script"]
    assert "/letters/counted/badge.svg" in codes["embed-badge"]
    assert "3" in doc.find("p", class_="count").text()  # type: ignore[union-attr]
