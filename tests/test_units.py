"""Small pure functions: email spellings, text checks, Markdown rendering, the sign form."""

from __future__ import annotations

import pytest

from app.kit.markdown import render_markdown
from app.kit.text import (
    clean_line,
    contains_link,
    contains_url,
    has_control_characters,
    starts_like_formula,
)
from app.kit.tokens import Purpose, TokenError, Tokens
from app.signatures.addresses import canonical_email, normalise_email
from app.signatures.schemas import parse_sign_form


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        ("anna@example.org", "anna@example.org"),
        ("Anna@Example.ORG", "anna@example.org"),
        ("anna+letters@example.org", "anna@example.org"),
        ("anna+a+b@example.org", "anna@example.org"),
        ("a.nna@example.org", "a.nna@example.org"),  # dots matter outside Gmail
        ("anna.example@gmail.com", "annaexample@gmail.com"),
        ("A.N.N.A.Example+x@GMail.com", "annaexample@gmail.com"),
        ("anna.example@googlemail.com", "annaexample@gmail.com"),
        ("anna@mail.gmail.com", "anna@mail.gmail.com"),  # not Gmail's own domain
        ("+news@example.org", "+news@example.org"),  # nothing before the tag: keep it
    ],
)
def test_canonical_email(email: str, canonical: str) -> None:
    assert canonical_email(email) == canonical


def test_canonical_email_keeps_different_mailboxes_apart() -> None:
    assert canonical_email("+a@example.org") != canonical_email("+b@example.org")
    assert canonical_email("anna@example.org") != canonical_email("anna@example.com")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("anna@example.org", "anna@example.org"),
        ("  Anna@Example.ORG \t", "Anna@example.org"),  # local part kept as typed
        ("o'neil+tag@sub.example.co.uk", "o'neil+tag@sub.example.co.uk"),
        ("anna@Bücher.example", "anna@xn--bcher-kva.example"),
        ("anna@xn--bcher-kva.example", "anna@xn--bcher-kva.example"),
        ("a" * 64 + "@example.org", "a" * 64 + "@example.org"),
    ],
)
def test_normalise_email_accepts(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "anna",
        "anna@",
        "@example.org",
        "anna@example",
        "anna@@example.org",
        "anna@example..org",
        "anna @example.org",
        "anna..b@example.org",
        ".anna@example.org",
        "anna.@example.org",
        "anna@-example.org",
        "anna@example-.org",
        "anna@exa_mple.org",
        "anna@example.c",
        "anna@example.123",
        "anna@example.org.",
        "anna\x00@example.org",
        "anna\u202e@example.org",
        "anna@exa\nmple.org",
        "an<na>@example.org",
        "a" * 65 + "@example.org",
        "anna@" + "a" * 64 + ".org",
        ".".join(["b" * 60] * 5) + "@example.org",
        "anna@" + ".".join(["b" * 60] * 5) + ".org",
    ],
)
def test_normalise_email_rejects(raw: str) -> None:
    assert normalise_email(raw) is None


def test_normalise_email_rejects_an_international_domain_too_long_in_ascii() -> None:
    # 231 characters as typed, 315 once the domain is spelled in ASCII: too long to store.
    label = "äöüßéèêëïîôœùûçñäöüßéèêëïîôœùûçñäöüßéèê"
    typed = "a" * 64 + "@" + ".".join([label] * 4) + ".de"
    assert len(typed) <= 254
    assert normalise_email(typed) is None


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Anna Example", "Anna Example"),
        ("  Anna \t  Example \n", "Anna Example"),
        ("Anna\u00a0\u00a0Example", "Anna Example"),
        ("Ame\u0301lie", "Am\u00e9lie"),  # NFC: one character, not two
        ("", ""),
    ],
)
def test_clean_line(raw: str, cleaned: str) -> None:
    assert clean_line(raw) == cleaned


def test_clean_line_composes_so_lengths_are_counted_as_people_see_them() -> None:
    assert len(clean_line("e\u0301" * 10)) == 10


@pytest.mark.parametrize(
    "text",
    [
        "http://spam.example",
        "HTTPS://SPAM",
        "ftp://files",
        "Anna www.spam",
        "t.me/channel",
        "bit.ly/x",
        "mailto:anna",
        "anna@example.org",
    ],
)
def test_contains_url_finds_addresses(text: str) -> None:
    assert contains_url(text)
    assert contains_link(text)


@pytest.mark.parametrize(
    "text", ["buy at cheap-pills.com now", "EXAMPLE.COM", "spam.ru", "win.xyz"]
)
def test_bare_domains_are_links_but_not_urls(text: str) -> None:
    # An organisation may be called "Booking.com"; a name may not.
    assert contains_link(text)
    assert not contains_url(text)


@pytest.mark.parametrize(
    "text",
    [
        "A. Smith",
        "Jean-Luc",
        "Jean-Luc Picard",
        "J.R.R. Tolkien",
        "Mary O'Neil",
        "St. Petersburg",
        "Ph.D.",
        "Univ. of Oxford",
        "Smith & Co.",
        "Dr. Anna Müller-Lüdenscheidt",
        "Алексей Горинов",
        "São Tomé",
    ],
)
def test_contains_url_leaves_names_alone(text: str) -> None:
    assert not contains_url(text)
    assert not contains_link(text)


@pytest.mark.parametrize("text", ["\x00", "a\x07b", "a\u202eb", "a\u200bb", "a\ufeffb", "a\tb"])
def test_control_characters_found(text: str) -> None:
    assert has_control_characters(text)


@pytest.mark.parametrize("text", ["Anna", "Zoë", "Алексей", "李小龙", "a b"])
def test_ordinary_text_has_no_control_characters(text: str) -> None:
    assert not has_control_characters(text)


@pytest.mark.parametrize("text", ["=1+1", "+7 999", "-2", "@home", '=HYPERLINK("x")'])
def test_formula_prefixes(text: str) -> None:
    assert starts_like_formula(text)


@pytest.mark.parametrize("text", ["Anna-Maria", "Anna = Maria", "", "1+1"])
def test_not_formulas(text: str) -> None:
    assert not starts_like_formula(text)


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "Hello <b onclick=alert(1)>there</b>",
        '<img src="http://evil.example/x.png" onerror=alert(1)>',
        "<iframe src=//evil.example></iframe>",
    ],
)
def test_markdown_drops_raw_html(source: str) -> None:
    html = str(render_markdown(source))
    for tag in ("<script", "<b ", "<img", "<iframe"):
        assert tag not in html
    assert "&lt;" in html  # shown as text, not silently lost


def test_markdown_renders_no_images() -> None:
    html = str(render_markdown("![a cat](http://evil.example/cat.png)"))
    assert "<img" not in html


@pytest.mark.parametrize(
    "link",
    [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "[click](vbscript:msgbox(1))",
        "<javascript:alert(1)>",
        "[click][x]\n\n[x]: javascript:alert(1)",
    ],
)
def test_markdown_drops_dangerous_links(link: str) -> None:
    html = str(render_markdown(link)).lower()
    assert "href" not in html
    assert "<a" not in html


def test_markdown_keeps_ordinary_formatting_and_links() -> None:
    html = str(render_markdown("**All** for *all*.\n\n[Read more](https://example.org/a?b=1&c=2)"))
    assert "<strong>All</strong>" in html
    assert "<em>all</em>" in html
    assert '<a href="https://example.org/a?b=1&amp;c=2">Read more</a>' in html


def test_tokens_are_bound_to_their_purpose() -> None:
    tokens = Tokens(["key"])
    token = tokens.make(Purpose.CONFIRM, "abc")
    assert tokens.read(Purpose.CONFIRM, token, max_age_seconds=60) == "abc"
    with pytest.raises(TokenError) as caught:
        tokens.read(Purpose.WITHDRAW, token, max_age_seconds=60)
    assert not caught.value.expired


def test_tokens_sign_with_the_first_key_and_accept_all() -> None:
    rotated = Tokens(["new", "old"])
    old_token = Tokens(["old"]).make(Purpose.CONFIRM, "abc")
    assert rotated.read(Purpose.CONFIRM, old_token, max_age_seconds=60) == "abc"
    new_token = rotated.make(Purpose.CONFIRM, "abc")
    assert Tokens(["new"]).read(Purpose.CONFIRM, new_token, max_age_seconds=60) == "abc"
    with pytest.raises(TokenError):
        Tokens(["old"]).read(Purpose.CONFIRM, new_token, max_age_seconds=60)


def test_tokens_need_a_key() -> None:
    with pytest.raises(ValueError):
        Tokens([])


def test_sign_form_keeps_what_was_typed_and_cleans_what_is_stored() -> None:
    form = parse_sign_form(
        {"name": "  Anna   Example ", "email": " Anna@Example.ORG ", "visibility": ""}
    )
    assert form.valid, form.errors
    assert form.values["name"] == "  Anna   Example "
    data = form.to_input()
    assert data.name == "Anna Example"
    assert data.email == "Anna@example.org"
    assert data.visibility.value == "counted_only"  # the safest choice when none is made


def test_sign_form_caps_what_it_echoes() -> None:
    form = parse_sign_form({"name": "x" * 5000, "email": "a@example.org"})
    assert form.errors["name"] == "This is too long."
    assert len(form.values["name"]) == 1000
