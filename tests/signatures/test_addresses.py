"""Addresses are parsed once into one plain ASCII spelling; anything a mail library could read
as another address is refused, as a unit and through the sign form."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.signatures.addresses import canonical_email, normalise_email
from tests.helpers import address_of, hash_of, queued_jobs, sign, signatures
from tests.html import field_errors, parse

BAD_EMAIL = "Please enter a valid email address, like name@example.org."

# RFC 2047 encoded words: a header decoder would read another mailbox, a list, or a new header.
ENCODED_WORDS = [
    "=?utf-8?q?victim=40example.org?=@evil.example",
    "=?utf-8?q?victim=40example.org?=@evil.test",
    "=?UTF-8?Q?victim=40example.org?=@evil.example",
    "=?utf-8?b?dmljdGltQGV4YW1wbGUub3Jn?=@evil.example",
    "=?utf-8?q?a=40x.org=2C_b=40y.org?=@evil.example",  # decodes to a comma list
    "=?utf-8?q?a=0D=0ABcc=3A_b=40y.org?=@evil.example",  # decodes to CR LF and a header
    "anna=?utf-8?q?=40?=x@example.org",
    "anna@=?utf-8?q?example.org?=",
    "anna=?x@example.org",
]

AMBIGUOUS = [
    '"anna smith"@example.org',  # quoted local part
    '"anna@evil.example"@example.org',
    "ännä@example.org",  # non-ASCII local part (SMTPUTF8)
    "anna\u00a0@example.org",  # no-break space
    "anna\u2028@example.org",  # line separator
    "anna\r\n@example.org",
    "anna\t@example.org",
    "anna\u200b@example.org",  # zero-width space
    "Anna <anna@example.org>",  # display name
    "anna@[127.0.0.1]",  # domain literal
    "anna@example.org,bob@example.org",
    "anna@evil.test",  # special-use domain
]


@pytest.mark.parametrize("raw", ENCODED_WORDS + AMBIGUOUS)
def test_ambiguous_addresses_are_refused(raw: str) -> None:
    assert normalise_email(raw) is None


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("anna@faß.de", "anna@xn--fa-hia.de"),  # IDNA 2008: ß is kept, not folded to "ss"
        ("anna@FASS.de", "anna@fass.de"),
        ("anna@münchen.de", "anna@xn--mnchen-3ya.de"),
        ("anna@MÜNCHEN.DE", "anna@xn--mnchen-3ya.de"),
        ("anna@xn--fa-hia.de", "anna@xn--fa-hia.de"),
        ("anna@XN--MNCHEN-3YA.DE", "anna@xn--mnchen-3ya.de"),
        ("anna@пример.рф", "anna@xn--e1afmkfd.xn--p1ai"),
    ],
)
def test_international_domains_are_spelled_in_ascii(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised
    assert normalised.isascii()


def test_faß_and_fass_are_different_mailboxes() -> None:
    faß, fass = normalise_email("anna@faß.de"), normalise_email("anna@fass.de")
    assert faß is not None and fass is not None
    assert canonical_email(faß) != canonical_email(fass)


@pytest.mark.parametrize("raw", ENCODED_WORDS[:6] + AMBIGUOUS[:3])
def test_the_sign_form_refuses_ambiguous_addresses(
    client: TestClient, engine: Engine, letter_slug: str, raw: str
) -> None:
    response = sign(client, letter_slug, email=raw)

    assert response.status_code == 400
    doc = parse(response.text)
    [form] = [f for f in doc.find_all("form") if f.attrs.get("action", "").endswith("/sign")]
    errors = field_errors(doc, form)
    assert set(errors) == {"email"}
    assert BAD_EMAIL in errors["email"]
    assert signatures(engine) == []
    assert queued_jobs(engine) == []


def test_the_sign_form_stores_an_international_domain_in_ascii(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    assert sign(client, letter_slug, email="Anna@Faß.de").status_code == 200
    [stored] = signatures(engine)
    assert address_of(stored) == "Anna@xn--fa-hia.de"
    assert stored.email_hash == hash_of(stored.letter_id, "anna@xn--fa-hia.de")
