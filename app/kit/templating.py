"""One preconfigured Jinja2 environment for pages, emails and PDFs alike."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache, partial

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.templating import Jinja2Templates

from app.config import LOCALES_DIR, TEMPLATES_DIR
from app.kit.i18n import load_translations
from app.kit.static import static_url

DEFAULT_LOCALE = "en"


def _number(value: int, locale: str = DEFAULT_LOCALE) -> str:
    return format_decimal(value, locale=locale)


def _date(value: datetime, locale: str = DEFAULT_LOCALE) -> str:
    return format_date(value, format="long", locale=locale)


def build_environment(*, locale: str = DEFAULT_LOCALE) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(
            enabled_extensions=("html",),
            disabled_extensions=("txt",),
            default=True,
            default_for_string=True,
        ),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    translations = load_translations(LOCALES_DIR, locale)
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    try:
        cldr = Locale.parse(locale, sep="-")
    except (UnknownLocaleError, ValueError):  # a code Babel does not know: English conventions
        cldr = Locale.parse(DEFAULT_LOCALE)
    # Numbers and dates as readers of the page's language write them.
    env.filters["number"] = partial(_number, locale=str(cldr))
    env.filters["date"] = partial(_date, locale=str(cldr))
    env.globals["locale"] = locale
    env.globals["page_direction"] = cldr.text_direction
    env.globals["static_url"] = static_url
    return env


def build_templates(env: Environment) -> Jinja2Templates:
    return Jinja2Templates(env=env)


@lru_cache(maxsize=8)
def default_environment(locale: str = DEFAULT_LOCALE) -> Environment:
    """The shared environment; building one parses no templates, but caching keeps their cache."""
    return build_environment(locale=locale)


@lru_cache(maxsize=8)
def templates_for(locale: str) -> Jinja2Templates:
    """Page templates whose own text is in ``locale`` (a catalogue's language)."""
    return build_templates(default_environment(locale))
