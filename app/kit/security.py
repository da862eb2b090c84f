"""Cross-origin request checks, the workspace's CSRF cookie, and security headers on every
response."""

from __future__ import annotations

import codecs
import contextlib
import hmac
import re
import secrets
from urllib.parse import quote, urlsplit

from python_multipart.multipart import parse_options_header
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.i18n import N_

CSRF_COOKIE = "us_csrf"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Our forms are a few kilobytes; nothing bigger is read into memory.
MAX_BODY_BYTES = 64 * 1024
# Except a letter's text: form encoding turns each Cyrillic, Greek or Arabic letter into six
# bytes, so a long letter in Russian would not fit. The workspace's letter and translation
# forms may send up to 1 MiB.
LETTER_FORM_BYTES = 1024 * 1024
LETTER_FORMS = re.compile(r"/organise/letters/(?:new|\d+/edit|\d+/translations/[^/]+)")

DEFAULT_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Our readers may be at risk: never tell another site where they came from. (Token pages
    # send no referrer at all; see render_page.)
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_of(url: str) -> str:
    """The origin as a browser's ``Origin`` header spells it: lower case, the host in ASCII
    (an international name in its ``xn--`` form), no default port, no user name."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    with contextlib.suppress(UnicodeError):  # not a name IDNA can spell: kept as it is
        host = host.encode("idna").decode("ascii")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = parts.port
    suffix = "" if port is None or port == _DEFAULT_PORTS.get(scheme) else f":{port}"
    return f"{scheme}://{host}{suffix}".lower()


def is_cross_origin(method: str, headers: MutableHeaders, trusted_origin: str) -> bool:
    """Go 1.25's ``http.CrossOriginProtection``: safe methods pass; a browser's
    ``Sec-Fetch-Site`` decides when sent (only ``same-origin`` and ``none``, a typed address or a
    bookmark, pass); else an ``Origin`` must be the configured public origin (never one built
    from the Host header, which the client chooses); a request with neither came from no
    browser, so no other site's page can have sent it, and passes. ``Origin: null`` (sent by
    some browsers from pages with no referrer) is not our origin: every browser that sends
    it also sends ``Sec-Fetch-Site``, which is read first."""
    if method in SAFE_METHODS:
        return False
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.strip().lower() not in ("same-origin", "none")
    origin = headers.get("origin")
    return origin is not None and origin.strip().lower() != trusted_origin


REFUSED_TITLE = N_("This form was sent from another website")
REFUSED_MESSAGE = N_(
    "So it was refused, and nothing was stored. To sign or send a form, open the page on this"
    " website itself and send it from there."
)


class SecurityMiddleware:
    """Refuses cross-origin writes, issues the workspace's CSRF cookie, adds security headers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        base_url: str,
        secure_cookies: bool,
        site_name: str = "",
        large_bodies: tuple[tuple[re.Pattern[str], int], ...] = (),
    ) -> None:
        self.app = app
        self.trusted_origin = _origin_of(base_url)
        self.secure_cookies = secure_cookies
        self.site_name = site_name
        # Paths that take an upload (a CSV import), each with its own cap on the body.
        self.large_bodies = large_bodies

    def _body_limit(self, path: str) -> int:
        for pattern, limit in self.large_bodies:
            if pattern.fullmatch(path):
                return limit
        if LETTER_FORMS.fullmatch(path):
            return LETTER_FORM_BYTES
        return MAX_BODY_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = MutableHeaders(scope=scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in DEFAULT_HEADERS.items():
                    if name not in out:
                        out[name] = value
                new_token = scope.get("state", {}).get("csrf_issue")
                if new_token:
                    out.append("set-cookie", self._cookie(new_token))
            await send(message)

        if is_cross_origin(scope["method"], headers, self.trusted_origin):
            await self._refusal()(scope, receive, send_with_headers)
            return
        declared = headers.get("content-length", "0")
        limit = self._body_limit(scope["path"])
        if not declared.isdigit() or int(declared) > limit:
            response = PlainTextResponse("What was sent is too large.", status_code=413)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, _limited(receive, limit), send_with_headers)

    def _refusal(self) -> Response:
        from app.kit.templating import default_environment

        try:
            html = (
                default_environment()
                .get_template("errors/error.html")
                .render(site_name=self.site_name, title=REFUSED_TITLE, message=REFUSED_MESSAGE)
            )
        except Exception:  # the refusal must never fail: a plain page then
            return PlainTextResponse(f"{REFUSED_TITLE}. {REFUSED_MESSAGE}", status_code=403)
        return HTMLResponse(html, status_code=403, headers={"cache-control": "no-store"})

    def _cookie(self, token: str) -> str:
        secure = "; Secure" if self.secure_cookies else ""
        return f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"


def _limited(receive: Receive, limit: int = MAX_BODY_BYTES) -> Receive:
    """A body sent without Content-Length (chunked) is cut off at the same limit."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                return {"type": "http.disconnect"}
        return message

    return limited_receive


def csrf_token(request: Request) -> str:
    """The visitor's CSRF token, issuing a cookie for it if they have none yet."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) == 43:
        return existing
    issued: str | None = getattr(request.state, "csrf_issue", None)
    if issued is None:
        issued = secrets.token_urlsafe(32)
        request.state.csrf_issue = issued
    return issued


def csrf_valid(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_UTF8_NAMES = frozenset({"utf-8", "ascii"})
_CHARSET_PARAM = re.compile(r";\s*charset\s*=\s*\"?([^\";\s]*)", re.IGNORECASE)
ODD_CHARSET = N_("Forms must be sent in UTF-8.")


def form_charset_ok(content_type: str) -> bool:
    """A form body declared in any charset but UTF-8 (or its ASCII subset) is refused: Starlette
    decodes multipart fields with the declared codec, and UTF-7 or raw-unicode-escape turn
    plain bytes into lone surrogates that no page or database can hold. Browsers send UTF-8."""
    # Starlette's own parser decides what the body is and which codec decodes it; a regex
    # gives a second opinion on the charset, so neither parser's quirks let one through.
    media_type, params = parse_options_header(content_type)
    if media_type.decode("latin-1") not in FORM_TYPES:
        return True
    declared = _CHARSET_PARAM.findall(content_type)
    if b"charset" in params:
        declared.append(params[b"charset"].decode("latin-1"))
    try:
        return all(codecs.lookup(name).name in _UTF8_NAMES for name in declared)
    except LookupError:
        return False


def refuse_odd_charsets(request: Request) -> None:
    """An app-wide dependency: 400 with the error page for a form in another charset."""
    if not form_charset_ok(request.headers.get("content-type", "")):
        raise HTTPException(status_code=400, detail=ODD_CHARSET)


_LEADING_SEPARATORS = re.compile(r"^[/\\\s\x00-\x1f\x7f]+")


def trimmed_path(path: str) -> str | None:
    """Where a path with a trailing slash should go: the same path without it, its leading
    slashes (and backslashes, blanks, controls, which browsers read as slashes or drop)
    collapsed to one, so it can never become ``//elsewhere``. None for a path without a
    trailing slash, or the root."""
    if not path.endswith("/"):
        return None
    target = "/" + _LEADING_SEPARATORS.sub("", path).rstrip("/")
    return None if target == "/" else target


def relative_location(path: str, query: str = "") -> str:
    """A Location header value: a path on this site, percent-encoded, never built from the
    request's Host header (which the client chooses)."""
    location = quote(path, safe="/:@!$&'()*+,;=~")
    return f"{location}?{quote(query, safe='=&%+;/:@!$()*,~')}" if query else location
