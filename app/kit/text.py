"""Checks and clean-ups for text typed by the public."""

from __future__ import annotations

import re
import unicodedata

FORMULA_PREFIXES = ("=", "+", "-", "@")
_URL_PATTERN = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.|\b[\w-]+\.(?:com|net|org|info|biz|ru|io|xyz|top|ly|me|co|"
    r"online|site|club|link|click|shop)\b)",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


def has_control_characters(value: str) -> bool:
    """Control and format characters (NUL, bidi overrides, zero-width joiners used to spoof)."""
    return any(unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs") for char in value)


def clean_line(value: str) -> str:
    """NFC-normalised, trimmed, with runs of whitespace folded to one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()


def starts_like_formula(value: str) -> bool:
    return value.startswith(FORMULA_PREFIXES)


def contains_url(value: str) -> bool:
    return _URL_PATTERN.search(value) is not None
