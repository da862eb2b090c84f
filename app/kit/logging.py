"""A request log that never records tokens (they sit in the path of mailed links)."""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("undersigned.requests")
_TOKEN_PATH = re.compile(r"^/(confirm|withdraw)/[^/]+")


def loggable_path(path: str) -> str:
    return _TOKEN_PATH.sub(r"/\1/<token>", path)


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

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
                loggable_path(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
            )
