"""Bad input on the sign form: 400, each error next to its field, what was typed kept,
nothing stored. Bots filling the hidden field get the ordinary page and nothing else."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.jobs.worker import JobWorker
from app.signatures.models import Visibility
from tests.helpers import SAME_ORIGIN, address_of, hash_of, new_mail, queued_jobs, sign, signatures
from tests.html import Element, field_errors, form_values, parse
from tests.smtp import SMTPServer

EMPTY_NAME = "Please enter your name."
SHORT_NAME = "Please enter your full name."
TOO_LONG = "This is too long."
FORMULA = "This cannot start with =, +, - or @."
URL = "Web addresses are not allowed here."
CONTROL = "Please remove the special or invisible characters."
NO_EMAIL = "Please enter your email address."
BAD_EMAIL = "Please enter a valid email address, like name@example.org."
LONG_EMAIL = "This email address is too long."
COUNTRY = "Please choose a country from the list."
VISIBILITY = "Please choose how your name may be shown."
SUMMARY = "Please correct the fields marked below."

IDN_LABEL = "äöüßéèêëïîôœùûçñäöüßéèêëïîôœùûçñäöüßéèê"

CASES: list[tuple[dict[str, str], dict[str, str]]] = [
    ({"name": "", "email": ""}, {"name": EMPTY_NAME, "email": NO_EMAIL}),
    ({"name": "   ", "email": "  "}, {"name": EMPTY_NAME, "email": NO_EMAIL}),
    ({"name": "A"}, {"name": SHORT_NAME}),
    ({"name": "A" * 121}, {"name": TOO_LONG}),
    ({"affiliation": "B" * 161}, {"affiliation": TOO_LONG}),
    ({"city": "C" * 81}, {"city": TOO_LONG}),
    ({"email": "a" * 64 + "@" + "b" * 186 + ".org"}, {"email": LONG_EMAIL}),
    ({"name": '=HYPERLINK("http://x","y")'}, {"name": FORMULA}),
    ({"name": "+44 Anna"}, {"name": FORMULA}),
    ({"name": "-Anna"}, {"name": FORMULA}),
    ({"name": " @anna"}, {"name": FORMULA}),
    ({"city": "=1+1", "affiliation": "@cmd"}, {"city": FORMULA, "affiliation": FORMULA}),
    ({"name": "Anna http://spam.example"}, {"name": URL}),
    ({"name": "Anna www.spam"}, {"name": URL}),
    ({"name": "Anna cheap-pills.com"}, {"name": URL}),
    ({"affiliation": "See t.me/channel"}, {"affiliation": URL}),
    ({"email": "anna"}, {"email": BAD_EMAIL}),
    ({"email": "anna@"}, {"email": BAD_EMAIL}),
    ({"email": "anna@example"}, {"email": BAD_EMAIL}),
    ({"email": "anna smith@example.org"}, {"email": BAD_EMAIL}),
    ({"email": "anna@@example.org"}, {"email": BAD_EMAIL}),
    ({"email": "anna\x00@example.org"}, {"email": BAD_EMAIL}),
    # Short as typed but too long once the domain is spelled in ASCII.
    ({"email": "a" * 64 + "@" + ".".join([IDN_LABEL] * 4) + ".de"}, {"email": BAD_EMAIL}),
    ({"name": "Anna\x00Example"}, {"name": CONTROL}),
    ({"name": "Anna \u202eelpmaxE"}, {"name": CONTROL}),
    ({"city": "Ri\u200bga"}, {"city": CONTROL}),
    ({"country": "XX"}, {"country": COUNTRY}),
    ({"country": "ZZ"}, {"country": COUNTRY}),
    ({"country": "EU"}, {"country": COUNTRY}),
    ({"country": "ru"}, {"country": COUNTRY}),
    ({"country": "Russia"}, {"country": COUNTRY}),
    ({"visibility": "everyone"}, {"visibility": VISIBILITY}),
]


def sign_form(html: str) -> tuple[Element, Element]:
    doc = parse(html)
    [form] = [f for f in doc.find_all("form") if f.attrs.get("action", "").endswith("/sign")]
    return doc, form


def assert_nothing_stored(engine: Engine) -> None:
    assert signatures(engine) == []
    assert queued_jobs(engine) == []


@pytest.mark.parametrize(("fields", "expected"), CASES)
def test_bad_input_is_refused_next_to_its_field(
    client: TestClient,
    engine: Engine,
    letter_slug: str,
    fields: dict[str, str],
    expected: dict[str, str],
) -> None:
    response = sign(client, letter_slug, **fields)

    assert response.status_code == 400
    assert response.headers["cache-control"] == "no-store"
    assert not response.history  # shown again in place, not redirected
    doc, form = sign_form(response.text)
    assert SUMMARY in doc.text()
    errors = field_errors(doc, form)
    assert set(errors) == set(expected)
    for field, message in expected.items():
        assert message in errors[field]
    assert_nothing_stored(engine)


def test_everything_typed_is_kept_and_escaped(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    typed = {
        "name": 'Anna "<b>Bold</b>" O\'Neil & Sons',
        "email": 'anna"><script>alert(1)</script>',
        "affiliation": "Union <i>of</i> Writers",
        "city": "Tbilisi </textarea>",
        "country": "GE",
        "visibility": "letter_only",
    }
    response = sign(client, letter_slug, **typed)

    assert response.status_code == 400
    doc, form = sign_form(response.text)
    assert set(field_errors(doc, form)) == {"email"}
    kept = form_values(form)
    for field, value in typed.items():
        assert kept[field] == value, field
    for raw in ("<b>", "<script>", "<i>", "</textarea>", '"><script'):
        assert raw not in response.text
    assert "&lt;script&gt;" in response.text
    assert_nothing_stored(engine)


def test_the_longest_allowed_values_are_stored(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    email = "a" * 64 + "@" + ".".join(["b" * 61] * 3) + ".org"
    assert len(email) == 254
    response = sign(
        client,
        letter_slug,
        name="N" * 120,
        email=email,
        affiliation="A" * 160,
        city="C" * 80,
        country="UA",
        visibility="letter_only",
    )
    assert response.status_code == 200
    [stored] = signatures(engine)
    assert (len(stored.name), len(stored.affiliation), len(stored.city)) == (120, 160, 80)
    assert address_of(stored) == email
    assert stored.country == "UA"
    assert stored.visibility is Visibility.LETTER_ONLY


def test_what_is_stored_is_cleaned(client: TestClient, engine: Engine, letter_slug: str) -> None:
    response = sign(
        client,
        letter_slug,
        name="  Ame\u0301lie   Dupont ",
        email=" Amelie@Example.ORG ",
        city=" Saint-\u00c9tienne ",
        visibility="",
    )
    assert response.status_code == 200
    [stored] = signatures(engine)
    assert stored.name == "Am\u00e9lie Dupont"
    assert address_of(stored) == "Amelie@example.org"
    assert stored.email_hash == hash_of(stored.letter_id, "amelie@example.org")
    assert stored.city == "Saint-\u00c9tienne"
    assert stored.visibility is Visibility.COUNTED_ONLY  # no choice made: never named


@pytest.mark.parametrize("country", ["RU", "UA", "US", "DE", "GE"])
def test_known_countries_are_accepted(
    client: TestClient, engine: Engine, letter_slug: str, country: str
) -> None:
    assert sign(client, letter_slug, country=country).status_code == 200
    assert [s.country for s in signatures(engine)] == [country]


def test_the_honeypot_gets_the_ordinary_page_and_nothing_else(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    response = sign(client, letter_slug, website="http://spam.example")

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [303]
    assert str(response.url).endswith(f"/letters/{letter_slug}/check-email")
    assert response.text == client.get(f"/letters/{letter_slug}/check-email").text
    assert_nothing_stored(engine)
    assert new_mail(worker, smtp) == []
    assert smtp.messages == []


def test_the_honeypot_is_hidden_and_empty(client: TestClient, letter_slug: str) -> None:
    _, form = sign_form(client.get(f"/letters/{letter_slug}").text)
    honeypot = form.find("input", name="website")
    assert honeypot is not None
    assert honeypot.attrs.get("value", "") == ""
    assert honeypot.attrs.get("tabindex") == "-1"
    assert any(a.attrs.get("aria-hidden") == "true" for a in honeypot.ancestors())


def test_a_corrected_form_goes_through(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    refused = sign(client, letter_slug, email="anna@example")
    assert refused.status_code == 400
    _, form = sign_form(refused.text)
    values = form_values(form) | {"email": "anna@example.org"}
    accepted = client.post(f"/letters/{letter_slug}/sign", data=values, headers=SAME_ORIGIN)
    assert accepted.status_code == 200
    assert "Check your email" in accepted.text
    [stored] = signatures(engine)
    assert (stored.name, address_of(stored)) == ("Anna Example", "anna@example.org")
