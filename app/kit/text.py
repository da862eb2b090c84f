"""Checks and clean-ups for text typed by the public.

Names and affiliations are shown on public pages, in mail and in exports. A name must be a
name: visible, and never something a browser or mail client would turn into a link, however
it is spelled (full-width letters, ideographic full stops). An affiliation may name an
organisation such as "Booking.com", never a web address proper.
"""

from __future__ import annotations

import re
import unicodedata

from app.kit.i18n import N_

NAME_MAX = 120
FORMULA_PREFIXES = ("=", "+", "-", "@")

EMPTY_NAME = N_("Please enter your name.")
SHORT_NAME = N_("Please enter your full name.")
HIDDEN = N_("Please remove the special or invisible characters.")
TOO_LONG = N_("This is too long.")
FORMULA = N_("This cannot start with =, +, - or @.")
LINK = N_("Web addresses are not allowed here.")

_SPACES = re.compile(r"\s+")
_JOINERS = frozenset("\u200c\u200d")  # needed inside words in Persian, Indic scripts...
_VARIATION_SELECTORS = frozenset(
    [chr(c) for c in range(0xFE00, 0xFE10)] + [chr(c) for c in range(0xE0100, 0xE01F0)]
)
# Letters and marks that show nothing: braille blank, Hangul fillers, Khmer inherent vowels,
# the combining grapheme joiner, Mongolian variation selectors; and replacement characters.
_INVISIBLE = frozenset(
    "\u2800\u3164\u115f\u1160\uffa0\u17b4\u17b5\u034f\u180b\u180c\u180d\u180e\u180f\ufffc\ufffd"
)
# Full stops that browsers (IDNA) or people read as a dot, and slashes likewise, beyond what
# NFKC already folds (U+FF0E, U+2024, U+FE52 become ".", U+FF61 becomes U+3002).
_LINK_FOLD = str.maketrans(
    {"\u3002": ".", "\u2e3c": ".", "\u2044": "/", "\u2215": "/", "\u29f8": "/"}
)
_IGNORABLE = re.compile(r"[\u00ad\u034f\u200b-\u200f\u2060-\u2064\ufeff]")
# A word, a dot, and a top-level-domain-shaped run right after it: "evil.com", "x.рф".
_DOMAIN = re.compile(r"\w\.(?:[^\W\d_]{2}|xn--)")
_SCHEME = re.compile(
    r"[a-z][a-z0-9+.-]*://|//|(?<![\w.+-])(?:https?|ftps?|sftp|file|mailto|javascript|vbscript"
    r"|data|blob|tel|sms|callto|tg|xmpp|irc|ircs|magnet|intent|ws|wss):"
)
_WWW = re.compile(r"(?<!\w)www\d*\.")
_PATH = re.compile(r"\w\.(?:[^\W\d_]{2,63}|xn--[a-z0-9-]+)(?::\d+)?/")
_EMAIL_LIKE = re.compile(r"\S@\S")


def has_control_characters(value: str) -> bool:
    """Control and format characters (NUL, bidi overrides, zero-width joiners used to spoof)."""
    return any(unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs") for char in value)


# Scripts whose spelling never needs a zero-width (non-)joiner: there it only makes two
# names that look alike differ.
_NO_JOINER_SCRIPTS = ("LATIN ", "CYRILLIC ", "GREEK ", "ARMENIAN ", "GEORGIAN ")
# More marks stacked on one letter than any script needs ("Zalgo" text) spill over the lines
# around a name; Vietnamese needs two, Tibetan and some Indic clusters a few more.
MAX_MARKS_PER_LETTER = 4


def _joins_letters(value: str, index: int) -> bool:
    """A zero-width (non-)joiner between two letters or marks of a script that spells with it
    (Persian, Indic scripts...)."""
    if index == 0 or index == len(value) - 1:
        return False
    neighbours = (value[index - 1], value[index + 1])
    if any(unicodedata.category(char)[0] not in "LM" for char in neighbours):
        return False
    return not any(unicodedata.name(char, "").startswith(_NO_JOINER_SCRIPTS) for char in neighbours)


def has_stacked_marks(value: str) -> bool:
    run = 0
    for char in unicodedata.normalize("NFC", value):
        run = run + 1 if unicodedata.category(char)[0] == "M" else 0
        if run > MAX_MARKS_PER_LETTER:
            return True
    return False


def has_hidden_characters(value: str) -> bool:
    """Characters that show nothing or change how the rest shows: controls, format characters
    (bidi overrides, zero-width spaces), private use, unassigned, and blank-looking letters.
    A zero-width (non-)joiner between letters is spelling, not hiding; a variation selector
    after a letter (a CJK name's glyph variant) likewise."""
    value = unicodedata.normalize("NFC", value)
    if has_stacked_marks(value):
        return True
    for index, char in enumerate(value):
        if char in _INVISIBLE:
            return True
        if char in _JOINERS:
            if not _joins_letters(value, index):
                return True
            continue
        if char in _VARIATION_SELECTORS:
            if index == 0 or unicodedata.category(value[index - 1])[0] != "L":
                return True
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs", "Cn"):
            return True
    return False


def visible_letters(value: str) -> int:
    return sum(
        1 for char in value if unicodedata.category(char)[0] == "L" and char not in _INVISIBLE
    )


def clean_line(value: str) -> str:
    """NFC-normalised, trimmed, with runs of whitespace folded to one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()


def fold_for_links(value: str) -> str:
    """The text as a link detector reads it: compatibility forms folded (full-width letters,
    circled letters), every kind of full stop a dot, invisible characters gone, lower case."""
    folded = unicodedata.normalize("NFKC", value).translate(_LINK_FOLD)
    return _IGNORABLE.sub("", folded).casefold()


def starts_like_formula(value: str) -> bool:
    return value.startswith(FORMULA_PREFIXES)


def contains_url(value: str) -> bool:
    """A web or mail address proper: a scheme, ``www.``, a domain with a path, or something
    around an @. A bare organisation name such as "Booking.com" is not one."""
    folded = fold_for_links(value)
    return any(
        pattern.search(folded) is not None for pattern in (_SCHEME, _WWW, _PATH, _EMAIL_LIKE)
    )


def contains_link(value: str) -> bool:
    """Anything a browser or mail client might turn into a link: a URL, or any word.tld run
    ("evil.app", its full-width spelling, "evil" U+3002 "com"), an @ or a scheme's colon."""
    folded = fold_for_links(value)
    return contains_url(value) or "@" in folded or ":" in folded or bool(_DOMAIN.search(folded))


def check_name(value: str) -> str | None:
    """The message to show for a signer's name, or None if it is a name."""
    cleaned = clean_line(value)
    if not cleaned:
        return EMPTY_NAME
    if has_hidden_characters(value):
        return HIDDEN
    if len(cleaned) > NAME_MAX:
        return TOO_LONG
    if visible_letters(cleaned) < 2:
        return SHORT_NAME
    if starts_like_formula(cleaned):
        return FORMULA
    if contains_link(cleaned):
        return LINK
    return None


def check_affiliation(value: str, limit: int) -> str | None:
    """The message to show for an optional organisation or place, or None if it will do."""
    cleaned = clean_line(value)
    if has_hidden_characters(value):
        return HIDDEN
    if cleaned and not any(unicodedata.category(char)[0] in "LN" for char in cleaned):
        return HIDDEN
    if len(cleaned) > limit:
        return TOO_LONG
    if starts_like_formula(cleaned):
        return FORMULA
    if contains_url(cleaned):
        return LINK
    return None
