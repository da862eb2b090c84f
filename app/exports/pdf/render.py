"""WeasyPrint documents: the front matter and closing page of each file, the footer, and the
chunks of the signatory list. WeasyPrint sees only our templates, through a URL fetcher that
serves nothing but the bundled assets: no network, no ``file://``, no data of a signer's.

Page numbers and the running footer are not part of these documents: they are stamped on
every page when the parts are merged (``merge``), so a chunk is the same for every recipient
and every export that contains the same names.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from markupsafe import escape
from weasyprint import HTML  # type: ignore[import-untyped]
from weasyprint.urls import (  # type: ignore[import-untyped]
    URLFetcher,
    URLFetcherResponse,
)

from app.config import LOCALES_DIR
from app.exports.pdf.documents import FrontMatter, is_rtl, safe_locale
from app.kit.markdown import render_markdown
from app.kit.templating import default_environment

log = logging.getLogger(__name__)

# Bump when the list's template or style changes: every cached chunk is then rendered anew.
LIST_TEMPLATE_VERSION = "list-8"
# Names in one paragraph of the list: short paragraphs of running text lay out fast.
NAMES_PER_PARAGRAPH = 24
# The base every relative URL in our templates resolves against; only our assets live there.
ASSET_BASE = "https://assets.undersigned.invalid/"
# Unicode isolates keep each name's direction to itself (an Arabic name between Latin ones).
FSI, PDI = "\u2068", "\u2069"
# Between two names; the no-break space keeps the dot at the end of a line, never the start.
SEPARATOR = "\u00a0· "


class RefusingFetcher(URLFetcher):  # type: ignore[misc]
    """Serves the bundled assets below and refuses every other URL (logged, never fetched)."""

    def __init__(self, assets: dict[str, tuple[bytes, str]] | None = None) -> None:
        super().__init__(allowed_protocols=())
        self.assets = assets or {}
        self.refused: list[str] = []

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        if url.startswith(ASSET_BASE) and url[len(ASSET_BASE) :] in self.assets:
            body, media_type = self.assets[url[len(ASSET_BASE) :]]
            return URLFetcherResponse(url, body=body, headers={"Content-Type": media_type})
        self.refused.append(url[:200])
        log.warning("pdf: refused to fetch a resource (%s)", url.split(":", 1)[0][:20])
        raise PermissionError("resource refused")


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One named signatory as the list prints them."""

    name: str
    affiliation: str
    city: str
    country: str  # ISO code; printed as the country's name in the list's language

    def key(self) -> str:
        """What the chunk's content hash covers for this entry."""
        return "\x1f".join((self.name, self.affiliation, self.city, self.country))


def _html_to_pdf(html: str) -> bytes:
    return _render(html)[0]


def _render(html: str) -> tuple[bytes, int]:
    fetcher = RefusingFetcher()
    document = HTML(string=html, base_url=ASSET_BASE, url_fetcher=fetcher).render()
    data = document.write_pdf()
    assert isinstance(data, bytes)
    return data, len(document.pages)


def number(value: int, language: str) -> str:
    return format_decimal(value, locale=safe_locale(language))


def long_date(value: datetime, language: str) -> str:
    return format_date(value, format="long", locale=safe_locale(language))


def country_names(language: str) -> dict[str, str]:
    return dict(Locale.parse(safe_locale(language)).territories)


def _entry_html(entry: ListEntry, countries: dict[str, str]) -> str:
    """ "Name (affiliation, city, country)": no inline markup (a bold name costs WeasyPrint an
    inline box and the list would lay out at a third of the speed), and each part the signer
    typed isolated, so an Arabic or Hebrew name keeps its own direction and its place."""
    parts = [f"{FSI}{escape(part)}{PDI}" for part in (entry.affiliation, entry.city) if part]
    if entry.country:
        parts.append(str(escape(countries.get(entry.country, entry.country))))
    name = f"{FSI}{escape(entry.name)}{PDI}"
    return f"{name} ({', '.join(parts)})" if parts else name


def list_chunk_html(entries: Sequence[ListEntry], *, language: str, heading: bool) -> str:
    """The chunk's HTML, built by hand: it is the one hot path (a million names)."""
    countries = country_names(language)
    template = default_environment(ui_language(language)).get_template("pdf/list.html")
    paragraphs = []
    for start in range(0, len(entries), NAMES_PER_PARAGRAPH):
        run = entries[start : start + NAMES_PER_PARAGRAPH]
        paragraphs.append(SEPARATOR.join(_entry_html(entry, countries) for entry in run))
    return template.render(heading=heading, paragraphs=paragraphs, **_common(language))


def render_list_chunk(entries: Sequence[ListEntry], *, language: str, heading: bool) -> bytes:
    return _html_to_pdf(list_chunk_html(entries, language=language, heading=heading))


def ui_language(language: str) -> str:
    """The language of our own words in a document (headings, the summary): the text's when we
    have a catalogue for it, else English, with dates and numbers to match the sentence."""
    base = safe_locale(language)
    catalogue = LOCALES_DIR / base / "LC_MESSAGES" / "messages.mo"
    return base if base.startswith("en") or catalogue.exists() else "en"


def _common(language: str) -> dict[str, Any]:
    ui = ui_language(language)
    return {
        "language": language,
        "rtl": is_rtl(language),
        "ui_language": ui,
        "ui_dir": "rtl" if is_rtl(ui) else "ltr",
        "number": lambda value: number(value, ui),
        "long_date": lambda value: long_date(value, ui),
    }


def render_front(front: FrontMatter) -> bytes:
    # The document speaks the language of the text it carries (the recipient's when the
    # letter is translated into it): its headings, dates, numbers and page labels.
    language = front.letter.language
    env = default_environment(ui_language(language))
    html = env.get_template("pdf/front.html").render(
        front=front,
        body_html=render_markdown(front.letter.body_markdown),
        **_common(language),
    )
    return _html_to_pdf(html)


def render_back(front: FrontMatter) -> bytes:
    language = front.letter.language
    env = default_environment(ui_language(language))
    html = env.get_template("pdf/back.html").render(front=front, **_common(language))
    return _html_to_pdf(html)


def render_footer(*, title: str, code: str, language: str) -> bytes:
    """A transparent page holding the running footer (title and code), laid out by WeasyPrint
    so any script is shaped right; stamped on every page of the merged file."""
    env = default_environment(ui_language(language))
    html = env.get_template("pdf/footer.html").render(title=title, code=code, **_common(language))
    return _html_to_pdf(html)


def render_chunk_file(entries: Sequence[ListEntry], language: str, heading: bool, path: str) -> int:
    """Render a chunk into the cache (atomically: other workers may read it at once); pages."""
    data, pages = _render(list_chunk_html(entries, language=language, heading=heading))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(target)
    return pages


def render_parts(front: FrontMatter) -> tuple[bytes, bytes, bytes]:
    """The recipient's own parts: front matter, closing page, running footer."""
    footer = render_footer(
        title=front.letter.title, code=front.verification_code, language=front.letter.language
    )
    return render_front(front), render_back(front), footer
