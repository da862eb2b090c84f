"""What the public pages reveal and how they protect visitors: who is named, no email
addresses, security headers, nothing loaded from elsewhere, cross-site posts refused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.jobs.worker import JobWorker
from app.signatures.models import SignatureState, Visibility
from tests.conftest import BASE_URL
from tests.helpers import (
    add_signature,
    count,
    form_token,
    links,
    new_mail,
    press_button,
    queued_jobs,
    sign,
    signatures,
)
from tests.html import parse
from tests.smtp import SMTPServer

EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
SIGNERS = [
    ("Pat Public", "pat.public7@example.org", "public", "Publicville", "Open Society"),
    ("Lena Letteronly", "lena.quiet9@example.org", "letter_only", "Lettertown", "Quiet Union"),
    ("Carl Countedonly", "carl.hidden3+x@example.org", "counted_only", "Countburg", "Hidden Guild"),
]
HIDDEN = ["Lena Letteronly", "Lettertown", "Quiet Union", "Carl Countedonly", "Countburg"]


def sign_up_everyone(
    client: TestClient, slug: str, worker: JobWorker, smtp: SMTPServer
) -> list[str]:
    """Each signer signs and confirms through the mail; returns the pages they saw."""
    seen = []
    for name, email, visibility, city, affiliation in SIGNERS:
        fields = {"visibility": visibility, "city": city, "affiliation": affiliation}
        checked = sign(client, slug, name=name, email=email, **fields)
        [mail] = new_mail(worker, smtp)
        found = links(mail)
        seen += [checked.text, client.get(found["confirm"]).text]
        seen += [press_button(client, found["confirm"]).text, client.get(found["withdraw"]).text]
    return seen


def public_pages(client: TestClient, slug: str) -> list[str]:
    paths = ["/", *(f"/letters/{slug}{p}" for p in ("", "/signatures", "/count.json"))]
    paths += [f"/letters/{slug}{p}" for p in ("/check-email", "/thank-you", "/withdrawn")]
    return [client.get(path).text for path in paths]


def test_only_public_signers_are_named(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    add_signature(
        engine,
        letter_slug,
        name="Pending Pia",
        email="pia@example.org",
        state=SignatureState.PENDING,
    )
    sign_up_everyone(client, letter_slug, worker, smtp)
    stored = {s.name: s.visibility for s in signatures(engine)}
    assert stored["Pat Public"] is Visibility.PUBLIC
    assert stored["Lena Letteronly"] is Visibility.LETTER_ONLY
    assert stored["Carl Countedonly"] is Visibility.COUNTED_ONLY

    assert count(client, letter_slug) == 3  # everyone confirmed counts, named or not
    letter = client.get(f"/letters/{letter_slug}").text
    listing = client.get(f"/letters/{letter_slug}/signatures").text
    assert "3 people have signed." in listing
    assert "1 of them chose to be named here." in listing
    for page in (letter, listing):
        assert "Pat Public" in page
        assert "Publicville" in page
        assert "Open Society" in page
    pages = public_pages(client, letter_slug)
    for hidden in [*HIDDEN, "Pending Pia"]:
        assert not any(hidden in page for page in pages), hidden


def test_no_page_shows_an_email_address(
    client: TestClient, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    pages = sign_up_everyone(client, letter_slug, worker, smtp) + public_pages(client, letter_slug)
    for page in pages:
        assert EMAIL_ADDRESS.search(page) is None, EMAIL_ADDRESS.search(page)
        for _, email, *_ in SIGNERS:
            assert email.split("@")[0] not in page


PAGE_PATHS = [
    "/",
    "/letters/all-for-all",
    "/letters/all-for-all/signatures",
    "/letters/all-for-all/check-email",
    "/letters/nope",
]


def test_security_headers(client: TestClient, letter_slug: str) -> None:
    for path in [*PAGE_PATHS, "/letters/all-for-all/count.json", "/static/style.css"]:
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        # Never tell another site where a reader came from.
        assert headers["referrer-policy"] in ("same-origin", "no-referrer"), path


def test_pages_with_forms_or_names_are_not_stored(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    assert sign(client, letter_slug).status_code == 200
    [mail] = new_mail(worker, smtp)
    found = links(mail)
    for path in [
        f"/letters/{letter_slug}",
        f"/letters/{letter_slug}/signatures",
        found["confirm"],
        found["withdraw"],
        "/letters/nope",
    ]:
        assert client.get(path).headers["cache-control"] == "no-store", path
    refused = sign(client, letter_slug, email="not-an-address")
    assert refused.headers["cache-control"] == "no-store"
    # A page opened from a mailed link keeps its token even from our own pages.
    for path in (found["confirm"], found["withdraw"], "/confirm/tampered"):
        assert client.get(path).headers["referrer-policy"] == "no-referrer", path


def test_the_form_cookie_is_protected(client: TestClient, letter_slug: str) -> None:
    cookie = client.get(f"/letters/{letter_slug}").headers["set-cookie"]
    assert cookie.startswith("us_csrf=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    # Once set, it is not issued again.
    assert "set-cookie" not in client.get(f"/letters/{letter_slug}").headers


def test_pages_load_nothing_from_other_sites(client: TestClient, letter_slug: str) -> None:
    for path in PAGE_PATHS:
        for element in parse(client.get(path).text).iter():
            if element.tag in ("script", "img", "link", "iframe", "source", "style", "video"):
                for attr in ("src", "href", "srcset"):
                    value = element.attrs.get(attr, "")
                    assert not re.match(r"\s*(https?:)?//", value), (path, element)


CROSS_SITE = [
    {"origin": "https://evil.example"},
    {"origin": "http://undersigned.test.evil.example"},
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},
    {"origin": BASE_URL, "sec-fetch-site": "cross-site"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_posts_are_refused(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    headers: dict[str, str],
) -> None:
    token = form_token(client, letter_slug)
    data = {"name": "Anna Example", "email": "anna@example.org", "csrf_token": token}
    refused = client.post(f"/letters/{letter_slug}/sign", data=data, headers=headers)
    assert refused.status_code == 403
    assert "another website" in refused.text
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert signatures(engine) == []
    assert queued_jobs(engine) == []

    assert sign(client, letter_slug).status_code == 200
    [mail] = new_mail(worker, smtp)
    found = links(mail)
    for route in ("confirm", "withdraw"):
        posted = client.post(found[route], data={"csrf_token": token}, headers=headers)
        assert posted.status_code == 403
    assert [s.state for s in signatures(engine)] == [SignatureState.PENDING]


def test_same_origin_posts_are_accepted(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    headers = {"origin": BASE_URL, "sec-fetch-site": "same-origin"}
    token = form_token(client, letter_slug)
    data = {"name": "Anna Example", "email": "anna@example.org", "csrf_token": token}
    response = client.post(f"/letters/{letter_slug}/sign", data=data, headers=headers)
    assert response.status_code == 200
    assert "Check your email" in response.text
    assert len(signatures(engine)) == 1


def test_an_origin_of_null_is_left_to_the_form_token(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    # Browsers send "Origin: null" from pages that send no referrer, our own included.
    headers = {"origin": "null"}
    data = {"name": "Anna Example", "email": "anna@example.org"}
    refused = client.post(f"/letters/{letter_slug}/sign", data=data, headers=headers)
    assert refused.status_code == 400
    assert signatures(engine) == []
    data["csrf_token"] = form_token(client, letter_slug)
    accepted = client.post(f"/letters/{letter_slug}/sign", data=data, headers=headers)
    assert accepted.status_code == 200
    assert len(signatures(engine)) == 1


def test_oversized_posts_are_refused_and_store_nothing(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    token = form_token(client, letter_slug)
    huge = {"name": "A" * 100_000, "email": "anna@example.org", "csrf_token": token}
    refused = client.post(f"/letters/{letter_slug}/sign", data=huge)
    assert refused.status_code == 413
    assert refused.headers["x-content-type-options"] == "nosniff"

    def chunks():  # no Content-Length: sent chunked
        yield f"csrf_token={token}&email=anna%40example.org&name=".encode()
        for _ in range(100):
            yield b"A" * 1000

    headers = {"content-type": "application/x-www-form-urlencoded"}
    cut = client.post(f"/letters/{letter_slug}/sign", content=chunks(), headers=headers)
    assert cut.status_code == 400
    assert signatures(engine) == []
