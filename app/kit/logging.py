"""Logs that never carry an address or a token.

Two layers: the request log names the matched route's template (``/confirm/{token}``), never
the path as requested; and every log record, from any library, has addresses and token-shaped
strings redacted from its message, its exception text and its stack before any handler sees it.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("undersigned.requests")

UNMATCHED = "<unmatched>"
EMAIL_PATTERN = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# itsdangerous: payload.timestamp.signature (a compressed payload starts with a dot).
TOKEN_PATTERN = re.compile(
    r"(?<![\w-])\.?[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}(?![\w-])"
)
_PLAIN_ARGS = (int, float, bool, type(None))
_TRACEBACKS = logging.Formatter()


def redact(text: str) -> str:
    return TOKEN_PATTERN.sub("<token>", EMAIL_PATTERN.sub("<address>", text))


def _redact_arg(arg: object) -> object:
    return arg if isinstance(arg, _PLAIN_ARGS) else redact(str(arg))


def redact_record(record: logging.LogRecord) -> None:
    """Redacts in place: message and arguments, exception and stack text. The exception is
    formatted here, redacted, into ``exc_text`` (and ``exc_info`` dropped), so whichever
    formatter a handler uses prints the redacted traceback and cannot format the original."""
    record.msg = redact(str(record.msg))
    if isinstance(record.args, dict):
        record.args = {key: _redact_arg(value) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(arg) for arg in record.args)
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = f"{record.msg} {record.args!r}"
        record.args = ()
    if redact(message) != message:  # pieces that make an address only once put together
        record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact(_TRACEBACKS.formatException(record.exc_info))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install_redaction() -> None:
    """Makes every new log record redacted (idempotent: installing twice changes nothing)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts", False):
        return

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    redacting_factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)


def loggable_path(scope: Scope, root_path: str = "") -> str:
    """The matched route's template, or the mount it fell in, or ``<unmatched>``: never the
    path as requested, which may hold a token however it is spelled."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str):
        return template
    mount = scope.get("root_path", "")
    if isinstance(mount, str) and mount != root_path and scope.get("endpoint") is not None:
        return f"{mount}/{{path}}"
    return UNMATCHED


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        root_path = scope.get("root_path", "")

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            # Query strings are left out: they may carry search terms or tokens.
            log.info(
                "%s %s %s %.1fms",
                scope["method"],
                loggable_path(scope, root_path),
                status,
                (time.perf_counter() - started) * 1000,
            )
