"""The public pages are the same for every visitor, so shared caches may keep them: no cookie,
a strong ETag, 304; static files under content-hashed names; link previews."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.jobs.worker import JobWorker
from tests.conftest import BASE_URL
from tests.helpers import add_signature, catch_up_counts, links, new_mail, press_button, sign
from tests.html import parse
from tests.smtp import SMTPServer

PAGES = ["/", "/letters/all-for-all", "/letters/all-for-all/signatures"]


@pytest.mark.parametrize("path", PAGES)
def test_public_pages_carry_an_etag_and_answer_304(
    client: TestClient, engine: Engine, letter_slug: str, path: str
) -> None:
    first = client.get(path)
    assert first.status_code == 200
    assert "set-cookie" not in first.headers
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: no W/
    cache_control = first.headers["cache-control"]
    assert cache_control.startswith("public, ")
    assert re.search(r"\bs-maxage=\d+", cache_control)
    assert "stale-while-revalidate=" in cache_control
    assert client.get(path).headers["etag"] == etag  # the same bytes for the next visitor
    again = client.get(path, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == cache_control
    assert "set-cookie" not in again.headers
    # A new public signer changes every one of these pages, and so their ETag.
    add_signature(engine, letter_slug, name="Newly Signed", email="new@example.org")
    catch_up_counts(client)
    changed = client.get(path, headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_the_letter_page_sets_no_cookie_and_holds_nothing_per_visitor(
    client: TestClient, letter_slug: str
) -> None:
    one = client.get(f"/letters/{letter_slug}")
    with TestClient(client.app) as other_visitor:  # type: ignore[arg-type]
        two = other_visitor.get(f"/letters/{letter_slug}")
    assert one.text == two.text
    assert "set-cookie" not in one.headers and "set-cookie" not in two.headers
    assert not client.cookies
    assert 'name="csrf_token"' not in one.text
    # The honeypot stays.
    assert parse(one.text).find("input", name="website") is not None


def test_a_form_sent_back_for_correction_is_never_stored(
    client: TestClient, letter_slug: str
) -> None:
    refused = sign(client, letter_slug, email="not-an-address")
    assert refused.status_code == 400
    assert refused.headers["cache-control"] == "no-store"
    assert "etag" not in refused.headers


def test_the_count_is_fresh_for_the_signer_who_just_confirmed(
    client: TestClient, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    before = client.get(f"/letters/{letter_slug}")
    assert sign(client, letter_slug).status_code == 200
    [mail] = new_mail(worker, smtp)
    assert press_button(client, links(mail)["confirm"]).status_code == 200
    after = client.get(f"/letters/{letter_slug}", headers={"if-none-match": before.headers["etag"]})
    assert after.status_code == 200
    assert "Anna Example" in after.text


def test_static_files_have_hashed_names_cached_for_a_year(
    client: TestClient, letter_slug: str
) -> None:
    page = client.get(f"/letters/{letter_slug}").text
    [style] = re.findall(r'href="(/static/style\.[0-9a-f]{12}\.css)"', page)
    hashed = client.get(style)
    assert hashed.status_code == 200
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = client.get("/static/style.css")
    assert plain.status_code == 200
    assert plain.content == hashed.content
    assert "immutable" not in plain.headers["cache-control"]
    # An old hash (a page cached before a deploy) still gets the file, but not for a year.
    stale = client.get("/static/style.000000000000.css")
    assert stale.status_code == 200
    assert "immutable" not in stale.headers["cache-control"]
    for path in ["/static/nothing.0123456789ab.css", "/static/..%2fconfig.py", "/static/"]:
        assert client.get(path).status_code == 404, path


def test_link_previews(client: TestClient, letter_slug: str) -> None:
    tree = parse(client.get(f"/letters/{letter_slug}").text)

    def meta(key: str, value: str) -> str:
        found = tree.find("meta", **{key: value})
        assert found is not None, value
        return str(found.attrs["content"])

    url = f"{BASE_URL}/letters/{letter_slug}"
    assert meta("property", "og:url") == url
    assert meta("property", "og:type") == "article"
    assert meta("property", "og:title").startswith("All for all")
    assert meta("property", "og:description").startswith("Eleven Russian political prisoners")
    assert meta("name", "description") == meta("property", "og:description")
    assert meta("name", "twitter:card") == "summary"
    canonical = tree.find("link", rel="canonical")
    assert canonical is not None and canonical.attrs["href"] == url
