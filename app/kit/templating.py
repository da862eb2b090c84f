"""One preconfigured Jinja2 environment for pages, emails and PDFs alike."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.templating import Jinja2Templates

from app.config import LOCALES_DIR, TEMPLATES_DIR
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
    # Translations.load falls back to NullTranslations when no catalogue exists yet.
    translations = Translations.load(str(LOCALES_DIR), [locale])
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters["number"] = _number
    env.filters["date"] = _date
    env.globals["locale"] = locale
    env.globals["static_url"] = static_url
    return env


def build_templates(env: Environment) -> Jinja2Templates:
    return Jinja2Templates(env=env)


@lru_cache(maxsize=4)
def default_environment(locale: str = DEFAULT_LOCALE) -> Environment:
    """The shared environment; building one parses no templates, but caching keeps their cache."""
    return build_environment(locale=locale)
