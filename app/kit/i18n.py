"""Marking strings for translation outside templates, and loading the catalogues.

Catalogues are kept as ``app/locales/<lang>/LC_MESSAGES/messages.po`` only and compiled in
memory when first used, so a fresh checkout (or an installed wheel) needs no build step and
no compiled file can drift from its source.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations


def N_(message: str) -> str:  # noqa: N802 - the gettext marker's customary name
    """Marks a message for extraction; templates translate it when they show it."""
    return message


def load_translations(locales_dir: Path, locale: str) -> NullTranslations:
    """The catalogue for ``locale`` compiled from its .po file; no catalogue means English.
    Fuzzy (unchecked) entries are left out, as msgfmt does."""
    path = locales_dir / locale / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)
