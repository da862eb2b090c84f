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
    SAME_ORIGIN,
    add_signature,
    count,
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


def test_pages_for_one_person_are_not_stored(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    assert sign(client, letter_slug).status_code == 200
    [mail] = new_mail(worker, smtp)
    found = links(mail)
    for path in [found["confirm"], found["withdraw"], "/letters/nope"]:
        assert client.get(path).headers["cache-control"] == "no-store", path
    # The pages everyone sees alike may be kept by shared caches, briefly.
    for path in ["/", f"/letters/{letter_slug}", f"/letters/{letter_slug}/signatures"]:
        cache_control = client.get(path).headers["cache-control"]
        assert cache_control.startswith("public, max-age="), path
    refused = sign(client, letter_slug, email="not-an-address")
    assert refused.headers["cache-control"] == "no-store"
    # A page opened from a mailed link keeps its token even from our own pages.
    for path in (found["confirm"], found["withdraw"], "/confirm/tampered"):
        assert client.get(path).headers["referrer-policy"] == "no-referrer", path


def test_public_pages_set_no_cookie(client: TestClient, letter_slug: str) -> None:
    for path in [*PAGE_PATHS, f"/letters/{letter_slug}/manage"]:
        assert "set-cookie" not in client.get(path).headers, path
    assert not client.cookies


def test_the_workspace_form_cookie_is_protected(client: TestClient) -> None:
    cookie = client.get("/organise/sign-in").headers["set-cookie"]
    assert cookie.startswith("us_csrf=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    # Once set, it is not issued again.
    assert "set-cookie" not in client.get("/organise/sign-in").headers


def test_pages_load_nothing_from_other_sites(client: TestClient, letter_slug: str) -> None:
    for path in PAGE_PATHS:
        for element in parse(client.get(path).text).iter():
            if element.tag in ("script", "img", "link", "iframe", "source", "style", "video"):
                if element.attrs.get("rel") in ("canonical", "alternate"):  # ours, never fetched
                    assert element.attrs["href"].startswith(BASE_URL + "/")
                    continue
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
    data = {"name": "Anna Example", "email": "anna@example.org"}
    refused = client.post(f"/letters/{letter_slug}/sign", data=data, headers=headers)
    assert refused.status_code == 403
    assert "sent from another website" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert signatures(engine) == []
    assert queued_jobs(engine) == []

    assert sign(client, letter_slug).status_code == 200
    [mail] = new_mail(worker, smtp)
    found = links(mail)
    for route in ("confirm", "withdraw"):
        posted = client.post(found[route], data={}, headers=headers)
        assert posted.status_code == 403
    assert [s.state for s in signatures(engine)] == [SignatureState.PENDING]


def test_same_origin_posts_are_accepted(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    page = client.get(f"/letters/{letter_slug}")
    assert "set-cookie" not in page.headers
    [form] = [f for f in parse(page.text).find_all("form") if f.attrs.get("method") == "post"]
    assert {field.attrs.get("name") for field in form.find_all("input")} <= {
        "name",
        "email",
        "affiliation",
        "city",
        "may_contact",
        "visibility",
        "website",
        "language",  # the language of the text shown, the same for everyone
    }  # no per-visitor token: the page is the same for everyone
    data = {"name": "Anna Example", "email": "anna@example.org"}
    for number, headers in enumerate(
        [
            SAME_ORIGIN,
            {"sec-fetch-site": "same-origin"},
            {"sec-fetch-site": "none"},  # typed in, or a bookmark
            {"origin": BASE_URL},  # an older browser: Origin alone
            {"origin": BASE_URL.upper()},
            {},  # neither: no browser sent it, so no other site's page did
        ],
        start=1,
    ):
        data["email"] = f"anna{number}@example.org"
        response = client.post(f"/letters/{letter_slug}/sign", data=data, headers=headers)
        assert response.status_code == 200, headers
        assert "Check your email" in response.text
        assert len(signatures(engine)) == number


def test_the_host_header_is_never_trusted_as_our_origin(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    # A client picks its Host header; only the configured public origin counts.
    headers = {"origin": "https://evil.example", "host": "evil.example"}
    data = {"name": "Anna Example", "email": "anna@example.org"}
    refused = client.post(f"/letters/{letter_slug}/sign", data=data, headers=headers)
    assert refused.status_code == 403
    # "Origin: null" (a sandboxed frame, or a page with no referrer) is not our origin either;
    # the browsers that send it also send Sec-Fetch-Site, which is read first.
    refused = client.post(f"/letters/{letter_slug}/sign", data=data, headers={"origin": "null"})
    assert refused.status_code == 403
    assert signatures(engine) == []


def test_oversized_posts_are_refused_and_store_nothing(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    huge = {"name": "A" * 100_000, "email": "anna@example.org"}
    refused = client.post(f"/letters/{letter_slug}/sign", data=huge)
    assert refused.status_code == 413
    assert refused.headers["x-content-type-options"] == "nosniff"

    def chunks():  # no Content-Length: sent chunked
        yield b"email=anna%40example.org&name="
        for _ in range(100):
            yield b"A" * 1000

    headers = {"content-type": "application/x-www-form-urlencoded"}
    cut = client.post(f"/letters/{letter_slug}/sign", content=chunks(), headers=headers)
    assert cut.status_code == 400
    assert signatures(engine) == []
