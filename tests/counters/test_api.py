"""The public API: what it shows (never an address, a pending signature or a draft), counts by
country with small ones left out, cursor pagination, caching, CORS, its OpenAPI document."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.db import utcnow
from app.letters.models import LetterStatus
from app.signatures.models import SignatureState, Visibility
from tests.helpers import add_letter, add_signature, catch_up_counts, update_letter
from tests.html import parse

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def get(client: TestClient, path: str, status: int = 200) -> dict:  # type: ignore[type-arg]
    """The answer once the counts caught up with what the test just wrote."""
    catch_up_counts(client)
    response = client.get(path)
    assert response.status_code == status, (path, response.text)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert "set-cookie" not in response.headers
    body: dict = response.json()  # type: ignore[type-arg]
    return body


def add_many(engine: Engine, slug: str, count: int, *, prefix: str, **values: object) -> None:
    for n in range(count):
        add_signature(
            engine,
            slug,
            name=f"{prefix} Signer{chr(65 + n % 26)}{n}",
            email=f"{prefix.lower()}{n}@example.org",
            **values,  # type: ignore[arg-type]
        )


def test_drafts_are_invisible_to_every_endpoint(client: TestClient, engine: Engine) -> None:
    add_letter(engine, "secret-draft", status=LetterStatus.DRAFT)
    add_signature(engine, "secret-draft", name="Draft Signer", email="d@example.org")
    add_letter(engine, "open-one")
    listed = get(client, "/api/letters")
    assert [letter["slug"] for letter in listed["letters"]] == ["open-one"]
    for path in ["", "/signatures", "/signatures?cursor=abc"]:
        assert get(client, f"/api/letters/secret-draft{path}", 404) == {"error": "Letter not found"}
    for path in ["/openapi.json", "/docs"]:
        assert "secret-draft" not in client.get(path).text


def test_a_letter_shows_what_its_page_shows_and_nothing_private(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    add_signature(engine, letter_slug, name="Pat Public", email="pat@example.org", city="Riga")
    add_signature(
        engine,
        letter_slug,
        name="Lena Letteronly",
        email="lena@example.org",
        visibility=Visibility.LETTER_ONLY,
    )
    add_signature(
        engine,
        letter_slug,
        name="Carl Counted",
        email="carl@example.org",
        visibility=Visibility.COUNTED_ONLY,
    )
    add_signature(
        engine,
        letter_slug,
        name="Penny Pending",
        email="penny@example.org",
        state=SignatureState.PENDING,
    )
    hidden = add_signature(engine, letter_slug, name="Hugo Hidden", email="hugo@example.org")
    update_signature_hidden(engine, hidden.id)

    detail = get(client, f"/api/letters/{letter_slug}")
    assert detail["signatures"] == 4  # confirmed ones; the hidden one counts, unnamed
    assert detail["status"] == "open" and detail["accepting"] is True
    assert detail["url"] == f"http://undersigned.test/letters/{letter_slug}"
    assert [r["name"] for r in detail["recipients"]][:2] == ["Vladimir Putin", "Volodymyr Zelensky"]
    assert set(detail["recipients"][0]) == {"name", "title", "organisation", "country"}
    assert detail["first_signatories"][0]["name"] == "Alexei Gorinov"
    assert sum(day["signatures"] for day in detail["per_day"]) == 4
    signers = get(client, f"/api/letters/{letter_slug}/signatures")["signers"]
    assert [s["name"] for s in signers] == ["Pat Public"]
    assert signers[0]["city"] == "Riga"

    everything = "".join(
        client.get(path).text
        for path in [
            "/api/letters",
            f"/api/letters/{letter_slug}",
            f"/api/letters/{letter_slug}/signatures",
        ]
    )
    assert not EMAIL.search(everything)
    for secret in ["Lena", "Carl", "Penny", "Hugo", "Rue de la Loi", "postal"]:
        assert secret not in everything


def update_signature_hidden(engine: Engine, signature_id: int | None) -> None:
    from app.db import open_session
    from app.signatures.models import Signature

    with open_session(engine, write=True) as session:
        row = session.get_one(Signature, signature_id)
        row.hidden_at = utcnow()
        session.add(row)
        session.commit()


def test_counts_under_five_are_hidden_by_country(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    add_many(engine, letter_slug, 5, prefix="Dee", country="DE")
    add_many(engine, letter_slug, 4, prefix="Fra", country="FR")
    add_many(engine, letter_slug, 1, prefix="Usa", country="US")
    add_many(engine, letter_slug, 6, prefix="Nowhere")  # no country given
    add_many(engine, letter_slug, 3, prefix="Pen", country="FR", state=SignatureState.PENDING)
    detail = get(client, f"/api/letters/{letter_slug}")
    assert detail["signatures"] == 16
    by_country = detail["by_country"]
    assert by_country["minimum"] == 5
    assert by_country["countries"] == [{"country": "DE", "signatures": 5}]
    assert "fewer than 5" in by_country["note"]
    # One more in France makes five: now it shows.
    add_many(engine, letter_slug, 1, prefix="Frb", country="FR")
    countries = get(client, f"/api/letters/{letter_slug}")["by_country"]["countries"]
    assert {"country": "FR", "signatures": 5} in countries


def test_signers_are_paged_by_a_cursor_stable_under_new_signatures(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    start = utcnow() - timedelta(hours=1)
    for n in range(7):
        add_signature(
            engine,
            letter_slug,
            name=f"Signer Number{chr(65 + n)}",
            email=f"s{n}@example.org",
            confirmed_at=start + timedelta(minutes=n // 2),
        )  # pairs share a confirmation time: the row id breaks the tie
    seen: list[str] = []
    page = get(client, f"/api/letters/{letter_slug}/signatures?limit=3")
    seen += [s["name"] for s in page["signers"]]
    # Someone signs while the reader pages: they come at the end, nobody is skipped or repeated.
    add_signature(engine, letter_slug, name="Late Comer", email="late@example.org")
    while page["next"]:
        assert page["next"].endswith("&limit=3")
        page = get(client, page["next"])
        seen += [s["name"] for s in page["signers"]]
    assert seen == [f"Signer Number{chr(65 + n)}" for n in range(7)] + ["Late Comer"]
    assert page["next_cursor"] is None


@pytest.mark.parametrize(
    "cursor",
    [
        "nonsense",
        "!!!",
        "MjAyNnxub3Q",
        "x" * 500,
        "MjAyNi0wMS0wMVQwMDowMDowMHwx",  # no time zone
        "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHw5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ",  # an id past 32 bits
        "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwtMQ",
        "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMAB8MQ",
    ],
)
def test_a_cursor_we_did_not_make_is_a_400(
    client: TestClient, letter_slug: str, cursor: str
) -> None:
    body = get(client, f"/api/letters/{letter_slug}/signatures?cursor={cursor}", 400)
    assert body == {"error": "This cursor is not valid."}


def test_bad_parameters_are_a_400_in_json(client: TestClient, letter_slug: str) -> None:
    for limit in ["0", "201", "many"]:
        get(client, f"/api/letters/{letter_slug}/signatures?limit={limit}", 400)


@pytest.mark.parametrize(
    "path", ["/api/letters", "/api/letters/all-for-all", "/api/letters/all-for-all/signatures"]
)
def test_answers_carry_an_etag_and_304_until_they_change(
    client: TestClient, engine: Engine, letter_slug: str, path: str
) -> None:
    first = client.get(path)
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert first.headers["cache-control"].startswith("public, max-age=")
    assert "stale-while-revalidate=" in first.headers["cache-control"]
    for sent in [etag, f"W/{etag}", f'"other", {etag}', "*"]:
        again = client.get(path, headers={"if-none-match": sent})
        assert again.status_code == 304, sent
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["access-control-allow-origin"] == "*"
    assert client.get(path, headers={"if-none-match": '"other"'}).status_code == 200
    head = client.head(path, headers={"if-none-match": etag})
    assert head.status_code == 304
    add_signature(engine, letter_slug, name="New Signer", email="new@example.org")
    catch_up_counts(client)
    changed = client.get(path, headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_cors_preflight_for_conditional_requests(client: TestClient, letter_slug: str) -> None:
    response = client.options(
        f"/api/letters/{letter_slug}",
        headers={
            "origin": "https://news.example",
            "access-control-request-method": "GET",
            "access-control-request-headers": "if-none-match",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "GET" in response.headers["access-control-allow-methods"]
    assert "if-none-match" in response.headers["access-control-allow-headers"].lower()
    assert "set-cookie" not in response.headers


def test_closed_letters_are_listed_after_open_ones(client: TestClient, engine: Engine) -> None:
    add_letter(engine, "closed-one", status=LetterStatus.CLOSED, goal=100)
    add_letter(engine, "open-one")
    update_letter(engine, "open-one", closes_at=utcnow() + timedelta(days=3))
    letters = get(client, "/api/letters")["letters"]
    assert [(item["slug"], item["status"], item["accepting"]) for item in letters] == [
        ("open-one", "open", True),
        ("closed-one", "closed", False),
    ]
    assert letters[1]["goal"] == 100
    assert letters[0]["closes_at"] is not None
    assert letters[0]["languages"] == ["en"]


def test_the_openapi_document_and_its_reference_page(client: TestClient) -> None:
    document = get(client, "/openapi.json")
    assert set(document["paths"]) == {
        "/api/letters",
        "/api/letters/{slug}",
        "/api/letters/{slug}/signatures",
    }
    assert document["servers"] == [{"url": "http://undersigned.test"}]
    schemas = document["components"]["schemas"]
    assert {"LetterList", "LetterDetail", "SignerPage", "ByCountry"} <= set(schemas)
    assert "HTTPValidationError" not in json.dumps(document)
    signers = document["paths"]["/api/letters/{slug}/signatures"]["get"]
    assert {"200", "304", "400", "404"} <= set(signers["responses"])

    page = client.get("/docs")
    assert page.status_code == 200
    assert "set-cookie" not in page.headers
    tree = parse(page.text)
    assert tree.find("script") is None  # rendered on the server; nothing to load
    for element in tree.iter():
        for attr in ("src", "href"):
            assert not re.match(r"\s*(https?:)?//", element.attrs.get(attr, "")), element
    for path in document["paths"]:
        assert path in page.text
    assert "next_cursor" in page.text
