"""Names that are names, and organisations that are not web addresses: the pure checks."""

from __future__ import annotations

import pytest

from app.kit.text import (
    EMPTY_NAME,
    FORMULA,
    HIDDEN,
    LINK,
    SHORT_NAME,
    TOO_LONG,
    check_affiliation,
    check_name,
    fold_for_links,
    has_hidden_characters,
)

PERSIAN = "مهرداد می\u200cخواهد"  # noqa: RUF001 - the non-joiner keeps two words apart

GOOD_NAMES = [
    "Anna Example",
    "Zoë Ångström",
    "A. Smith",
    "J.R.R. Tolkien",
    "Ph.D. Anna Ivanova",
    "Dr. Anna Müller-Lüdenscheidt",
    "Mary O'Neil",
    "Алексей Горинов",
    "李明",
    "Nguyễn Thị Minh Khai",
    PERSIAN,
    "\u0645\u06cc\u200c\u0634\u0648\u062f",  # ZWNJ between two letters
    "\u0915\u094d\u200d\u0937 Devi",  # ZWJ after a virama (a mark) in Devanagari
    "An\u0301na Mari\u0301a",  # combining marks on letters
    "Nguye\u0302\u0303n",  # Vietnamese: two marks on one letter, decomposed
]

# (name, the message it gets)
BAD_NAMES = [
    ("", EMPTY_NAME),
    ("   ", EMPTY_NAME),
    ("A", SHORT_NAME),
    ("A\u0301", SHORT_NAME),
    ("\u0301\u0301\u0301\u0301", SHORT_NAME),  # combining marks alone
    ("12345", SHORT_NAME),
    ("\u2800\u2800\u2800", HIDDEN),  # braille blanks
    ("Anna\u2800Example", HIDDEN),
    ("\u3164\u3164\u3164", HIDDEN),  # Hangul fillers
    ("\u115f\u1160\u115f", HIDDEN),
    ("\uffa0\uffa0\uffa0", HIDDEN),
    ("Anna \u3164", HIDDEN),
    ("\u17b4\u17b5 Anna", HIDDEN),  # Khmer inherent vowels, invisible
    ("Anna\u034fExample", HIDDEN),  # combining grapheme joiner
    ("\u200c\u200c\u200c", HIDDEN),  # joiners joining nothing
    ("Anna\u200c", HIDDEN),
    ("\u200dAnna", HIDDEN),
    ("Anna\u200c Example", HIDDEN),
    ("Anna\u200b Example", HIDDEN),  # zero-width space
    ("Anna \u202eelpmaxE", HIDDEN),
    ("Anna\U000e0041\U000e0042", HIDDEN),  # tag characters
    ("\ue000\ue001 Anna", HIDDEN),  # private use
    ("\ufe0fAnna", HIDDEN),  # a variation selector after nothing
    ("Za" + "\u0301" * 100, HIDDEN),  # marks stacked far past any script's need
    ("Anna" + "\u0301\u0302\u0303\u0304\u0306\u0307", HIDDEN),  # five left after NFC
    ("Ali\u200dBob", HIDDEN),  # a joiner inside a Latin name only makes a look-alike
    ("\u0410\u043d\u200c\u043d\u0430 Ivanova", HIDDEN),  # and in Cyrillic
    ("N" * 121, TOO_LONG),
    ("=Anna", FORMULA),
    ("evil.app", LINK),
    ("Anna evil.app", LINK),
    ("Anna Evil.App", LINK),
    ("\uff45\uff56\uff49\uff4c\uff0e\uff43\uff4f\uff4d", LINK),  # full-width evil.com
    ("evil\u3002com", LINK),  # ideographic full stop
    ("evil\uff61com", LINK),  # half-width ideographic full stop
    ("evil\u2024com", LINK),  # one dot leader
    ("evil\ufe52com", LINK),  # small full stop
    ("evil\u2e3ccom", LINK),
    ("\u24d4\u24e5\u24d8\u24db.\u24d2\u24de\u24dc", SHORT_NAME),  # circled: no letters
    ("Anna \u24d4\u24e5\u24d8\u24db.\u24d2\u24de\u24dc", LINK),
    ("пример.рф", LINK),
    ("Anna a.xn--p1ai", LINK),
    ("Anna.Smith", LINK),
    ("x@y.z", LINK),
    ("Anna \uff20 evil", LINK),  # full-width @
    ("http:", LINK),
    ("Anna http:", LINK),
    ("Anna HTTPS\uff1a\uff0f\uff0fevil", LINK),
    ("Anna www.evil", LINK),
    ("Anna (t.me/evil)", LINK),
]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_names_that_are_names_pass(name: str) -> None:
    assert check_name(name) is None


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_names_that_are_not_names_are_refused(name: str, message: str) -> None:
    assert check_name(name) == message


GOOD_AFFILIATIONS = [
    "",
    "Booking.com",
    "Booking.com B.V.",
    "Amnesty International",
    "St.Petersburg State University",
    "Univ. of Oxford",
    "Smith & Co.",
    "Open Data Georgia",
    "Союз журналистов",
    PERSIAN,
]

BAD_AFFILIATIONS = [
    ("https://booking.com", LINK),
    ("HTTPS://BOOKING.COM", LINK),
    ("http:booking.com", LINK),
    ("Booking javascript:alert(1)", LINK),
    ("mailto:anna", LINK),
    ("//evil.example", LINK),
    ("www.booking.com", LINK),
    ("WWW2.evil.org", LINK),
    ("booking.com/careers", LINK),
    ("See t.me/channel", LINK),
    ("bit.ly/x", LINK),
    ("evil.com:8080/x", LINK),
    ("\uff57\uff57\uff57\uff0eevil\uff0ecom", LINK),  # full-width www.
    ("evil\u3002com\u2215x", LINK),  # ideographic full stop, division slash
    ("anna@example.org", LINK),
    ("Union anna\uff20example.org", LINK),
    ("\u2800\u2800", HIDDEN),
    ("\u0301\u0301", HIDDEN),
    ("Ri\u200bga", HIDDEN),
    ("B" * 161, TOO_LONG),
    ("@cmd", FORMULA),
]


@pytest.mark.parametrize("affiliation", GOOD_AFFILIATIONS)
def test_organisations_pass(affiliation: str) -> None:
    assert check_affiliation(affiliation, 160) is None


@pytest.mark.parametrize(("affiliation", "message"), BAD_AFFILIATIONS)
def test_web_addresses_are_not_organisations(affiliation: str, message: str) -> None:
    assert check_affiliation(affiliation, 160) == message


def test_folding_reads_every_full_stop_as_a_dot() -> None:
    for dot in ("\u3002", "\uff0e", "\uff61", "\u2024", "\ufe52", "\u2e3c"):
        assert fold_for_links(f"EVIL{dot}COM") == "evil.com"


def test_joiners_are_spelling_only_between_letters() -> None:
    assert not has_hidden_characters(PERSIAN)
    assert has_hidden_characters(PERSIAN.replace("\u200c", " \u200c"))
