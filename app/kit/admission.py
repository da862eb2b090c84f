"""Admission control: a bounded number of requests inside the app, the rest queue in order.

Sync handlers and dependencies run in anyio's worker threads, and a request holding the SQLite
write lock (or a pooled connection) needs a free thread to finish. Without a bound, a burst of
writers takes every thread to wait for that lock, and nothing moves until timeouts fire. Here a
request waits for its turn in the event loop, which costs no thread and no connection; only
when the line is too long, or a request has waited too long, is it refused at once with 503.
"""

from __future__ import annotations

import re

import anyio
import anyio.to_thread
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# What a refused client is told: long enough for a burst to drain, short enough for a person.
RETRY_AFTER_SECONDS = 5
# Threads beyond the admitted requests: static files and other short thread calls that bypass
# the line must never take the threads an admitted request needs to finish.
SPARE_THREADS = 8


class AdmissionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_active: int,
        max_queued: int,
        max_wait_seconds: float,
        bypass_prefixes: tuple[str, ...] = ("/static/",),
        bypass_paths: tuple[re.Pattern[str], ...] = (),
    ) -> None:
        if max_active < 1:
            raise ValueError("max_active must be at least 1")
        self.app = app
        self.max_active = max_active
        self.max_queued = max_queued
        self.max_wait_seconds = max_wait_seconds
        self.bypass_prefixes = bypass_prefixes
        # Async routes that bound their own concurrency (a slow upload must not hold a place).
        self.bypass_paths = bypass_paths
        # Created on the first request, in the event loop that serves it.
        self._places: anyio.Semaphore | None = None
        self._queued = 0

    def _ensure_places(self) -> anyio.Semaphore:
        if self._places is None:
            # anyio's semaphore wakes waiters first come, first served.
            self._places = anyio.Semaphore(self.max_active, fast_acquire=False)
        # The thread limiter belongs to the event loop (a test client may start several).
        limiter = anyio.to_thread.current_default_thread_limiter()
        if limiter.total_tokens < self.max_active + SPARE_THREADS:
            limiter.total_tokens = self.max_active + SPARE_THREADS
        return self._places

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"].startswith(self.bypass_prefixes)
            or any(path.match(scope["path"]) for path in self.bypass_paths)
        ):
            await self.app(scope, receive, send)
            return
        places = self._ensure_places()
        if not await self._wait_for_place(places):
            await self._refuse(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            places.release()

    async def _wait_for_place(self, places: anyio.Semaphore) -> bool:
        if self._queued == 0 and places.value > 0:
            await places.acquire()
            return True
        if self._queued >= self.max_queued:
            return False
        self._queued += 1
        try:
            with anyio.move_on_after(self.max_wait_seconds):
                await places.acquire()
                return True
            return False
        finally:
            self._queued -= 1

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse(
            "The service is busy. Please try again in a moment.",
            status_code=503,
            headers={"retry-after": str(RETRY_AFTER_SECONDS), "cache-control": "no-store"},
        )
        await response(scope, receive, send)
