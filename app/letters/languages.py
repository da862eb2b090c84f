"""Language codes of letters and translations: checking them, naming them, their direction,
and which catalogue of page text (app/locales) serves a reader of that language."""

from __future__ import annotations

import re
from functools import lru_cache

from babel import Locale, UnknownLocaleError

from app.config import LOCALES_DIR
from app.kit.i18n import N_

# BCP 47 as letters use it: a language, then an optional script and region ("ru", "uk",
# "pt-BR", "sr-Latn", "es-419"). Extensions and private use are not letters' business.
CODE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|\d{3}))?")
DEFAULT_CHROME = "en"

BAD_CODE = N_("Use a language code such as ru, uk or pt-BR.")
UNKNOWN_CODE = N_("We do not know this language code. Use one such as ru, uk or pt-BR.")


def normal_code(typed: str) -> str:
    """The usual spelling: language in lower case, script capitalised, region in upper case
    ("PT-br" -> "pt-BR"). Anything not shaped like a code comes back trimmed, unchanged."""
    code = typed.strip().replace("_", "-")
    if not CODE.fullmatch(code):
        return code
    parts = code.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.capitalize() if len(part) == 4 else part.upper())
    return "-".join(out)


@lru_cache(maxsize=256)
def _locale(code: str) -> Locale | None:
    if not CODE.fullmatch(code):
        return None
    try:
        return Locale.parse(code, sep="-")
    except (UnknownLocaleError, ValueError):
        return None


def code_problem(code: str) -> str | None:
    """What is wrong with a (normalised) language code, or None."""
    if not CODE.fullmatch(code):
        return BAD_CODE
    if _locale(code) is None:
        return UNKNOWN_CODE
    return None


def own_name(code: str) -> str:
    """The language's name in itself, as a reader looks for it: "Русский", "Українська"."""
    locale = _locale(code)
    name = locale.get_display_name(locale) if locale is not None else None
    if not name:
        return code
    return name[0].upper() + name[1:]


def direction(code: str) -> str:
    """ "rtl" for Arabic, Hebrew, Persian...; "ltr" otherwise (and for unknown codes)."""
    locale = _locale(code)
    return "rtl" if locale is not None and locale.text_direction == "rtl" else "ltr"


@lru_cache(maxsize=1)
def chrome_locales() -> frozenset[str]:
    """Languages the site's own text is written in: English and each catalogue shipped."""
    found = {path.parent.parent.name for path in LOCALES_DIR.glob("*/LC_MESSAGES/messages.po")}
    return frozenset({DEFAULT_CHROME, *found})


def chrome_locale(code: str) -> str:
    """The catalogue for a reader of ``code``: the same language ("pt-BR" falls back to "pt"),
    else English."""
    if code in chrome_locales():
        return code
    base = code.split("-")[0].lower()
    return base if base in chrome_locales() else DEFAULT_CHROME


def language_labels(codes: list[str]) -> dict[str, str]:
    """Code -> "Русский (ru)": how organisers' lists and tables name a language."""
    return {code: f"{own_name(code)} ({code})" for code in codes}
