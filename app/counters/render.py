"""The bytes of each counter response: bodies, validators and headers, built once per change.

Everything here is computed when a count or a letter changes, never per request: the fast path
(app/counters/fastpath.py) sends what these functions return as it is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape as xml_escape

from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import Environment
from markupsafe import Markup

from app.config import LOCALES_DIR
from app.counters.service import CounterSnapshot
from app.kit.security import DEFAULT_HEADERS
from app.kit.templating import build_environment

Headers = list[tuple[bytes, bytes]]

EMBED_JS_SOURCE = Path(__file__).resolve().parent / "embed.js"
# Letters' titles are long; a badge shows the first words.
SHORT_NAME_CHARS = 32
THEMES = ("light", "dark", "auto")
_LOCALE_SHAPE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}")
# Characters XML 1.0 does not allow, even escaped (a title never has them; defence in depth).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A complete answer: the start messages for 200 and 304, the body, and the validators."""

    ok: dict[str, object]
    not_modified: dict[str, object]
    body: dict[str, object]
    etag: bytes
    last_modified: bytes
    last_modified_at: datetime | None


@dataclass(frozen=True, slots=True)
class Policy:
    """How long caches may keep a counter (the freshness interval) and serve it stale."""

    max_age: int
    stale: int

    @classmethod
    def for_freshness(cls, seconds: float) -> Policy:
        max_age = max(1, round(seconds))
        return cls(max_age=max_age, stale=10 * max_age)

    @property
    def cache_control(self) -> bytes:
        return f"public, max-age={self.max_age}, stale-while-revalidate={self.stale}".encode()


def etag_of(body: bytes) -> bytes:
    digest = hashlib.sha256(body).digest()[:18]
    return b'"' + base64.urlsafe_b64encode(digest) + b'"'


def http_date(moment: datetime) -> bytes:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True).encode()


def _security_headers(overrides: dict[str, str | None]) -> Headers:
    merged: dict[str, str | None] = {**DEFAULT_HEADERS, **overrides}
    return [(name.encode(), value.encode()) for name, value in merged.items() if value is not None]


CORS: dict[str, str | None] = {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "ETag, Last-Modified",
    # Other sites may load these (an <img>, a <script>, a fetch): public by design.
    "cross-origin-resource-policy": "cross-origin",
}


def prepare(
    body: bytes,
    *,
    content_type: str,
    policy: Policy,
    modified: datetime | None,
    headers: dict[str, str | None],
) -> Prepared:
    etag = etag_of(body)
    last_modified = http_date(modified) if modified else b""
    common: Headers = [(b"etag", etag), (b"cache-control", policy.cache_control)]
    if modified:
        common.append((b"last-modified", last_modified))
    common += _security_headers(headers)
    ok = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *common,
    ]
    return Prepared(
        ok={"type": "http.response.start", "status": 200, "headers": ok},
        not_modified={"type": "http.response.start", "status": 304, "headers": common},
        body={"type": "http.response.body", "body": body},
        etag=etag,
        last_modified=last_modified,
        last_modified_at=modified.replace(microsecond=0) if modified else None,
    )


# -- what the query string may choose ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    locale: str
    theme: str


def normal_locale(raw: str | None, default: str) -> str:
    """A Babel locale name for ``?lang=`` (``de``, ``pt-BR``...), or the letter's language."""
    for candidate in (raw, default, "en"):
        if not candidate or not _LOCALE_SHAPE.fullmatch(candidate):
            continue
        try:
            return str(Locale.parse(candidate.replace("-", "_")))
        except (ValueError, UnknownLocaleError):
            continue
    return "en"


def choice_from(query_string: bytes, *, default_locale: str) -> Choice:
    try:
        values = dict(parse_qsl(query_string.decode("latin-1"), max_num_fields=8))
    except ValueError:  # more fields than any of ours: none of them is read
        values = {}
    theme = values.get("theme", "light")
    return Choice(
        locale=normal_locale(values.get("lang"), default_locale),
        theme=theme if theme in THEMES else "light",
    )


@lru_cache(maxsize=64)
def _translations(locale: str) -> NullTranslations:
    return Translations.load(str(LOCALES_DIR), [locale])


@lru_cache(maxsize=16)
def _environment(locale: str) -> Environment:
    return build_environment(locale=locale)


def _count_words(total: int, locale: str) -> tuple[str, str]:
    """("1,234", "signatures") in the locale's digits and words."""
    label = _translations(locale).ngettext("signature", "signatures", total)
    return format_decimal(total, locale=locale), label


def short_name(title: str) -> str:
    title = " ".join(title.split())
    if len(title) <= SHORT_NAME_CHARS:
        return title
    cut = title[: SHORT_NAME_CHARS - 1].rsplit(" ", 1)[0] or title[: SHORT_NAME_CHARS - 1]
    return cut.rstrip(" ,.;:-") + "…"


# -- the four bodies ---------------------------------------------------------------------------


def count_json(snapshot: CounterSnapshot, policy: Policy) -> Prepared:
    body = json.dumps(
        {
            "slug": snapshot.slug,
            "signatures": snapshot.total,
            "goal": snapshot.goal,
            "updated_at": snapshot.changed_at.isoformat() if snapshot.changed_at else None,
        },
        separators=(",", ":"),
    ).encode()
    return prepare(
        body,
        content_type="application/json",
        policy=policy,
        modified=snapshot.last_modified,
        headers=CORS,
    )


def _text_width(text: str) -> int:
    """A generous estimate at 11px: the text is fitted to it with textLength anyway."""
    return int(len(text) * 6.6) + 12


def badge_svg(snapshot: CounterSnapshot, choice: Choice, policy: Policy) -> Prepared:
    number, label = _count_words(snapshot.total, choice.locale)
    name = _NOT_XML.sub("", short_name(snapshot.title))
    value = f"{number} {label}"
    left, right = _text_width(name), _text_width(value)
    width = left + right
    attr = {'"': "&quot;", "'": "&apos;"}
    spoken = xml_escape(f"{name}: {value}", attr)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" '
        f'role="img" aria-label="{spoken}"><title>{spoken}</title>'
        f'<rect width="{left}" height="20" fill="#444"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="#2b6e3f"/>'
        '<g fill="#fff" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11">'
        f'<text x="6" y="14" textLength="{left - 12}" lengthAdjust="spacingAndGlyphs">'
        f"{xml_escape(name)}</text>"
        f'<text x="{left + 6}" y="14" textLength="{right - 12}" '
        f'lengthAdjust="spacingAndGlyphs">{xml_escape(value)}</text></g></svg>'
    ).encode()
    return prepare(
        svg,
        content_type="image/svg+xml; charset=utf-8",
        policy=policy,
        modified=snapshot.last_modified,
        headers={**CORS, "content-security-policy": "default-src 'none'"},
    )


EMBED_CSS = """
html{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;
background:#fff}
html.theme-dark{color:#f2f2f2;background:#16181d}
@media (prefers-color-scheme:dark){html.theme-auto{color:#f2f2f2;background:#16181d}}
body{margin:0;padding:12px}
.title{margin:0 0 4px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.count{margin:0;font-size:14px}.count strong{font-size:24px;margin-right:4px}
progress{display:block;width:100%;height:10px;margin:6px 0 2px;accent-color:#2b6e3f}
.goal{margin:0;font-size:13px;opacity:.8}
.sign{display:inline-block;margin-top:8px;padding:6px 14px;border-radius:4px;
background:#2b6e3f;color:#fff;text-decoration:none;font-weight:600}
.sign:focus-visible{outline:3px solid #f0b400;outline-offset:2px}
""".strip()
_EMBED_STYLE_HASH = base64.b64encode(hashlib.sha256(EMBED_CSS.encode()).digest()).decode()
EMBED_CSP = (
    f"default-src 'none'; style-src 'sha256-{_EMBED_STYLE_HASH}'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors *"
)


def embed_html(
    snapshot: CounterSnapshot, choice: Choice, policy: Policy, *, base_url: str
) -> Prepared:
    number, label = _count_words(snapshot.total, choice.locale)
    goal = format_decimal(snapshot.goal, locale=choice.locale) if snapshot.goal else ""
    page = (
        _environment(choice.locale)
        .get_template("counters/embed.html")
        .render(
            lang=choice.locale.replace("_", "-"),
            theme=choice.theme,
            css=Markup(EMBED_CSS),  # noqa: S704 - our own constant, hashed in the CSP
            title=snapshot.title,
            number=number,
            label=label,
            total=snapshot.total,
            goal=snapshot.goal,
            goal_text=goal,
            accepting=snapshot.accepting,
            letter_url=f"{base_url}/letters/{quote(snapshot.slug)}",
        )
    ).encode()
    return prepare(
        page,
        content_type="text/html; charset=utf-8",
        policy=policy,
        modified=snapshot.last_modified,
        headers={
            "content-security-policy": EMBED_CSP,
            # Framed by any site, on this page alone: the CSP above says so, and no
            # X-Frame-Options contradicts it.
            "x-frame-options": None,
            "cross-origin-resource-policy": "cross-origin",
        },
    )


def embed_js(policy: Policy) -> Prepared:
    source = EMBED_JS_SOURCE.read_text(encoding="utf-8")
    body = source.replace("__REFRESH_SECONDS__", str(policy.max_age)).encode()
    modified = datetime.fromtimestamp(int(EMBED_JS_SOURCE.stat().st_mtime), UTC)
    return prepare(
        body,
        content_type="text/javascript; charset=utf-8",
        policy=policy,
        modified=modified,
        headers={"cross-origin-resource-policy": "cross-origin"},
    )


def not_found(kind: str, policy: Policy) -> Prepared:
    """The same answer for a draft and for a letter that does not exist."""
    if kind == "count.json":
        body, content_type = b'{"error":"Letter not found"}', "application/json"
        headers: dict[str, str | None] = {"access-control-allow-origin": "*"}
    else:
        body = b"<!doctype html><title>Letter not found</title><p>Letter not found.</p>"
        content_type = "text/html; charset=utf-8"
        headers = {}
    prepared = prepare(
        body,
        content_type=content_type,
        policy=Policy(max_age=policy.max_age, stale=0),
        modified=None,
        headers=headers,
    )
    start = {**prepared.ok, "status": 404}
    return Prepared(
        ok=start,
        not_modified=start,
        body=prepared.body,
        etag=b"",
        last_modified=b"",
        last_modified_at=None,
    )


PREFLIGHT: Headers = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"*"),
    (b"access-control-max-age", b"86400"),
    (b"allow", b"GET, HEAD, OPTIONS"),
    (b"content-length", b"0"),
    *_security_headers({"cross-origin-resource-policy": "cross-origin"}),
]
