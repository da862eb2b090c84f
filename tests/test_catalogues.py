"""The Russian and Ukrainian catalogues: every message a signer can meet is translated, with
the same placeholders, and a fresh checkout uses them without any build step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.config import LOCALES_DIR, PROJECT_ROOT
from app.kit.i18n import load_translations
from app.kit.templating import build_environment
from app.letters.languages import chrome_locale, chrome_locales

SIGNER_LOCALES = ("ru", "uk")
# What a signer can meet: the letter's pages, the sign form and its messages, the pages a
# mailed link opens, the mails, and the error page. (Not the PDF verify page, which a letter's
# recipients reach from its footer, nor the organisers' CSV import messages.)
SIGNER_FILES = (
    "templates/base.html",
    "templates/letters/index.html",
    "templates/letters/show.html",
    "templates/letters/signatures.html",
    "templates/_partials/",
    "templates/signatures/",
    "templates/errors/",
    "templates/email/_layout.html",
    "templates/email/confirm",
    "templates/email/already_signed",
    "templates/email/update",
    "templates/updates/",
    "app/updates/unsubscribe.py",
    "app/signatures/schemas.py",
    "app/signatures/routes.py",
    "app/kit/text.py",
)
PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def signer_messages() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    method_map = [
        ("app/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    for filename, _, message, _, _ in extract_from_dir(
        PROJECT_ROOT,
        method_map=method_map,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
        directory_filter=lambda path: (
            not Path(path).name.startswith(".")
            and Path(path).name not in (".venv", "data", "node_modules", "tests")
        ),
    ):
        if filename.replace("\\", "/").startswith(SIGNER_FILES):
            found.add(message if isinstance(message, str) else tuple(message))
    return found


def catalogue(locale: str):  # type: ignore[no-untyped-def]
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def test_the_extraction_sees_the_signers_messages() -> None:
    found = signer_messages()
    assert "Sign this letter" in found and "Please enter your name." in found
    assert ("signature", "signatures") in found
    assert "Your sign-in link for %(site)s" not in found  # organisers' mail is not a signer's


@pytest.mark.parametrize("locale", SIGNER_LOCALES)
def test_every_signer_message_is_translated(locale: str) -> None:
    catalog = catalogue(locale)
    missing = []
    for message in signer_messages():
        key = message if isinstance(message, str) else message[0]
        entry = catalog.get(key)
        strings = (
            []
            if entry is None
            else ([entry.string] if isinstance(entry.string, str) else list(entry.string))
        )
        if entry is None or entry.fuzzy or not strings or not all(strings):
            missing.append(message)
    assert missing == []


@pytest.mark.parametrize("locale", SIGNER_LOCALES)
def test_translations_keep_their_placeholders(locale: str) -> None:
    catalog = catalogue(locale)
    assert catalog.num_plurals == 3  # one, few, many
    for entry in catalog:
        if not entry.id or not entry.string:
            continue
        ids = [entry.id] if isinstance(entry.id, str) else list(entry.id)
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            if string:
                assert set(PLACEHOLDER.findall(string)) == wanted, (entry.id, string)


def test_the_catalogues_load_from_the_po_files_alone() -> None:
    assert not list(LOCALES_DIR.rglob("*.mo"))  # nothing compiled is kept: no drift, no build
    assert {"en", "ru", "uk"} <= chrome_locales()
    russian = load_translations(LOCALES_DIR, "ru")
    assert russian.gettext("Sign this letter") == "Подписать письмо"
    assert [russian.ngettext("signature", "signatures", n) for n in (1, 3, 5, 21)] == [
        "подпись",
        "подписи",
        "подписей",
        "подпись",
    ]
    assert load_translations(LOCALES_DIR, "de").gettext("Sign") == "Sign"


def test_a_page_in_russian_writes_numbers_and_dates_the_russian_way() -> None:
    env = build_environment(locale="ru")
    rendered = env.from_string("{{ 12345|number }}").render()
    assert rendered == "12\xa0345"
    assert env.globals["locale"] == "ru" and env.globals["page_direction"] == "ltr"


def test_a_reader_gets_the_nearest_catalogue() -> None:
    assert chrome_locale("ru") == "ru"
    assert chrome_locale("uk") == "uk"
    assert chrome_locale("ru-UA") == "ru"
    assert chrome_locale("de") == "en"
    assert chrome_locale("ar") == "en"


def test_an_environment_for_any_code_renders() -> None:
    """Mails are rendered in a signer's language, whatever code an older letter stored."""
    for code in ("pt-BR", "xx", "ar", "sr-Latn"):
        env = build_environment(locale=code)
        assert env.from_string("{{ 1234|number }}").render()
    assert build_environment(locale="ar").globals["page_direction"] == "rtl"
    assert build_environment(locale="xx").globals["page_direction"] == "ltr"
