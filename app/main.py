"""create_app(): settings, database, templates, routers, middleware and error pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as DatabaseTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from app.config import STATIC_DIR, Settings
from app.counters.api import router as api_router
from app.counters.cache import CounterCache
from app.counters.docs import router as api_docs_router
from app.counters.fastpath import CounterFastPath
from app.counters.routes import router as counters_router
from app.db import make_engine
from app.exports.pdf.routes import UPLOAD_PATH, upload_limit_bytes
from app.exports.pdf.routes import router as pdf_verify_router
from app.exports.pdf.verify import VerificationNotFound
from app.jobs.worker import JobWorker, start_in_thread
from app.kit.admission import RETRY_AFTER_SECONDS, AdmissionMiddleware
from app.kit.i18n import N_
from app.kit.logging import RequestLogMiddleware, install_redaction
from app.kit.microcache import PageCache
from app.kit.pages import render_page
from app.kit.security import (
    SecurityMiddleware,
    refuse_odd_charsets,
    relative_location,
    trimmed_path,
)
from app.kit.static import HashedStaticFiles
from app.kit.templating import build_templates, default_environment
from app.kit.tokens import TokenError, Tokens
from app.letters.routes import router as letters_router
from app.letters.service import LetterNotFound
from app.mail.sender import make_sender
from app.organisers.auth import SecondFactorRequired, SignInRequired
from app.organisers.dashboard import router as dashboard_router
from app.organisers.exports import router as exports_router
from app.organisers.moderation import router as moderation_router
from app.organisers.offline import IMPORT_PATH
from app.organisers.offline import router as offline_router
from app.organisers.offline_forms import upload_body_cap
from app.organisers.pdf_letters import router as pdf_letters_router
from app.organisers.recipients import router as recipients_router
from app.organisers.second_factor import router as second_factor_router
from app.organisers.service import NotAllowed, SignInLinkSpent
from app.organisers.sign_in import router as sign_in_router
from app.organisers.translations import router as translations_router
from app.organisers.workspace import router as workspace_router
from app.signatures.moderation import SignatureNotFound
from app.signatures.offline import AttestationNotFound
from app.signatures.routes import router as signatures_router
from app.signatures.service import LetterClosed, SignatureGone, SignatureWithdrawn
from app.updates.unsubscribe import router as unsubscribe_router
from app.updates.versions import router as update_versions_router
from app.updates.workspace import router as updates_router
from app.webhooks.routes import router as webhooks_router

log = logging.getLogger(__name__)

# Each error a user can meet: its status, heading and explanation.
ERROR_PAGES: dict[type[Exception], tuple[int, str, str]] = {
    LetterNotFound: (404, N_("Letter not found"), N_("There is no public letter at this address.")),
    SignatureGone: (
        410,
        N_("This link is no longer valid"),
        N_(
            "No signature answers to it any more: a newer email replaced it, the signature was"
            " withdrawn, or it was never confirmed and has been deleted. Please use the newest"
            " email we sent you, or sign again from the letter's page."
        ),
    ),
    SignatureWithdrawn: (
        409,
        N_("This signature was withdrawn"),
        N_("It no longer counts. You can sign the letter again from its page if you wish."),
    ),
    NotAllowed: (404, N_("Page not found"), N_("There is nothing at this address.")),
    SignatureNotFound: (404, N_("Page not found"), N_("There is nothing at this address.")),
    AttestationNotFound: (404, N_("Page not found"), N_("There is nothing at this address.")),
    SignInLinkSpent: (
        410,
        N_("This sign-in link is no longer valid"),
        N_("Each link works once. Ask for a new one on the sign-in page."),
    ),
    VerificationNotFound: (
        404,
        N_("No letter with this code"),
        N_(
            "No PDF letter exported from this site has this code. Check the letter's address"
            " and the code printed at the foot of its pages: three groups of four letters and"
            " digits."
        ),
    ),
    LetterClosed: (
        409,
        N_("This letter is closed"),
        N_("The letter stopped accepting signatures before this one was confirmed."),
    ),
}


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    if request.url.path.endswith(".json") or request.url.path.startswith("/api/"):
        return JSONResponse(
            {"error": title}, status_code=status, headers={"access-control-allow-origin": "*"}
        )
    return render_page(
        request,
        "errors/error.html",
        {"title": title, "message": message},
        status_code=status,
        token_page=True,  # errors are often about a mailed link: keep its token to ourselves
    )


def _redirect_without_trailing_slash(request: Request) -> Response | None:
    """Our own trailing-slash redirect: Starlette's builds an absolute URL from the Host
    header; this one is a relative path that cannot lead off the site."""
    target = trimmed_path(request.scope["path"])
    if target is None:
        return None
    scope = {**request.scope, "path": target}
    if all(route.matches(scope)[0] is Match.NONE for route in request.app.router.routes):
        return None
    query = request.scope.get("query_string", b"").decode("latin-1")
    return RedirectResponse(relative_location(target, query), status_code=307)


@asynccontextmanager
async def _run_job_worker(app: FastAPI) -> AsyncIterator[None]:
    worker = JobWorker(
        engine=app.state.engine, settings=app.state.settings, sender=make_sender(app.state.settings)
    )
    thread, stop = start_in_thread(worker)
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


class UndersignedApp(FastAPI):
    """The app, with the counters' fast path in front of everything, Starlette's error layer
    included (the fast path handles its own failures by handing the request on)."""

    counter_fast_path: CounterFastPath | None = None
    page_cache: PageCache | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.counter_fast_path
        if fast is not None and await fast.handle(scope, send):
            return
        if self.page_cache is not None:
            await self.page_cache(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Everything behind the page cache: Starlette's middleware, then the routes."""
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, job_worker: bool = False) -> FastAPI:
    """``job_worker`` runs the job worker (mail, purges) in a thread for the app's lifetime."""
    settings = settings or Settings()
    settings.check_startable()
    install_redaction()  # no log line carries an address or a token, tracebacks included
    app = UndersignedApp(
        title=settings.site_name,
        redirect_slashes=False,  # see _redirect_without_trailing_slash
        dependencies=[Depends(refuse_odd_charsets)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_run_job_worker if job_worker else None,
    )
    app.state.settings = settings
    app.state.engine = make_engine(
        settings.resolved_database_url(), connections=settings.max_active_requests
    )
    app.state.tokens = Tokens(settings.resolved_secret_keys())
    app.state.templates = build_templates(default_environment())

    app.include_router(letters_router)
    app.include_router(signatures_router)
    app.include_router(counters_router)
    app.include_router(api_router)
    app.include_router(api_docs_router)
    app.include_router(pdf_verify_router)
    app.include_router(second_factor_router)  # before sign_in_router: /sign-in/code
    app.include_router(sign_in_router)
    app.include_router(workspace_router)
    app.include_router(recipients_router)
    app.include_router(moderation_router)
    app.include_router(exports_router)
    app.include_router(dashboard_router)
    app.include_router(translations_router)
    app.include_router(updates_router)
    app.include_router(update_versions_router)
    app.include_router(unsubscribe_router)
    app.include_router(webhooks_router)
    app.include_router(offline_router)
    app.include_router(pdf_letters_router)
    app.mount("/static", HashedStaticFiles(directory=STATIC_DIR), name="static")
    # Innermost, so a refusal still carries the security headers and is logged.
    app.add_middleware(
        AdmissionMiddleware,
        max_active=settings.max_active_requests,
        max_queued=settings.max_queued_requests,
        max_wait_seconds=settings.max_queue_seconds,
        bypass_paths=(UPLOAD_PATH,),
    )
    # A CSV import may be as large as its limit; more is read and dropped, so the page can
    # say the file is too large (app.organisers.offline_forms.read_upload).
    upload_cap = upload_body_cap(settings.offline_import_max_bytes)
    app.add_middleware(
        SecurityMiddleware,
        base_url=settings.base_url,
        secure_cookies=settings.secure_cookies,
        site_name=settings.site_name,
        large_bodies=(
            (IMPORT_PATH, upload_cap),
            (UPLOAD_PATH, upload_limit_bytes(settings.verify_upload_max_mb)),
        ),
    )
    app.add_middleware(RequestLogMiddleware)
    # Outermost, before Starlette's own layers: counters answered from memory (with the
    # security headers they need; see app/counters/fastpath.py).
    app.state.counters = CounterCache(engine=app.state.engine, settings=settings)
    app.counter_fast_path = CounterFastPath(cache=app.state.counters)
    # Then public pages alike for every visitor, kept a moment (PAGE_CACHE_SECONDS, under the
    # counts' freshness) and served as bytes; see app/kit/microcache.py.
    app.page_cache = PageCache(app.framework, ttl=settings.page_cache_seconds)

    def known_error(request: Request, exc: Exception) -> Response:
        status, title, message = ERROR_PAGES[type(exc)]
        return _error_page(request, status, title, message)

    for exc_type in ERROR_PAGES:
        app.add_exception_handler(exc_type, known_error)

    def sign_in_required(request: Request, exc: Exception) -> Response:
        if request.method in ("GET", "HEAD"):
            return RedirectResponse("/organise/sign-in", status_code=303)
        return _error_page(
            request, 403, N_("Please sign in"), N_("Your session has ended. Sign in again.")
        )

    app.add_exception_handler(SignInRequired, sign_in_required)

    def second_factor_required(request: Request, exc: Exception) -> Response:
        if request.method in ("GET", "HEAD"):
            return RedirectResponse("/organise/second-factor", status_code=303)
        return _error_page(
            request,
            403,
            N_("Set up a second factor first"),
            N_("Every organiser must now sign in with an authenticator app as well."),
        )

    app.add_exception_handler(SecondFactorRequired, second_factor_required)

    def token_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TokenError)
        if exc.expired:
            return _error_page(
                request,
                400,
                N_("This link has expired"),
                N_("Links in our emails work for a limited time. Sign again to get a new one."),
            )
        return _error_page(
            request,
            400,
            N_("This link is not valid"),
            N_("Please check that you opened the whole link from the email, without changes."),
        )

    app.add_exception_handler(TokenError, token_error)

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            if redirect := _redirect_without_trailing_slash(request):
                return redirect
            return _error_page(
                request, 404, N_("Page not found"), N_("There is nothing at this address.")
            )
        return _error_page(request, exc.status_code, N_("Request refused"), str(exc.detail))

    app.add_exception_handler(StarletteHTTPException, http_error)

    def validation_error(request: Request, exc: Exception) -> Response:
        return _error_page(
            request, 400, N_("Bad request"), N_("Some of what was sent could not be read.")
        )

    app.add_exception_handler(RequestValidationError, validation_error)

    def database_busy(request: Request, exc: Exception) -> Response:
        response = _error_page(
            request, 503, N_("The service is busy"), N_("Please try again in a moment.")
        )
        response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
        return response

    # No connection or SQLite write lock came free in time (app.db): busy, not broken.
    app.add_exception_handler(DatabaseTimeout, database_busy)
    return app


def app_from_environment() -> FastAPI:
    """For ``undersigned serve --workers N``: each web process builds its own app (and its own
    counter cache) from the environment. No migration, no job worker: the parent runs those."""
    if not logging.getLogger().handlers:  # a fresh process: log as `undersigned` does
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    return create_app()
