"""Rendering with limits. Work runs in a separate rendering process whose address space is
capped, and is stopped (the process killed) when it outruns its time: a hostile or huge
letter can then cost that process, never the worker (which also sends mail) or the web server.

The rendering process stays up between calls (starting one and loading WeasyPrint's fonts
costs more than rendering a chunk) and is replaced after a failure, a timeout, or
``RECYCLE_AFTER`` calls. Processes that exist only to render (``undersigned export-pdf``'s
helpers) put the limits on themselves once and render in-process: ``limit_this_process``.
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from app.jobs.errors import JobError

T = TypeVar("T")

RECYCLE_AFTER = 50
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["app.exports.pdf.warm"])
_limited_here: dict[str, float] = {}


class RenderLimitExceeded(JobError):
    """The rendering ran out of time or memory (retried: the machine may have been busy)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


def limit_this_process(*, seconds: float, memory_mb: int) -> None:
    """For a process that only renders: cap its memory now, and each call's time (alarm)."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    _limited_here["seconds"] = seconds


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rpartition('/')[2]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


def _serve(conn: Connection, memory_mb: int) -> None:
    """The rendering process: limited once, then one call after another until told to stop."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        func, args = request
        try:
            conn.send((True, func(*args)))
        except MemoryError:
            conn.send((False, "out of memory"))
        except Exception as exc:
            conn.send((False, _describe(exc)))


class _Renderer:
    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.conn, child_end = _context.Pipe()
        self.process: BaseProcess = _context.Process(
            target=_serve, args=(child_end, memory_mb), daemon=True, name="pdf-render"
        )
        self.process.start()
        child_end.close()
        self.calls = 0

    def stop(self, *, kill: bool) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.process.kill()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


_lock = threading.Lock()
_renderer: list[_Renderer] = []


def _on_alarm(signum: int, frame: object) -> None:
    raise RenderLimitExceeded("rendering took too long")


def _run_here(func: Callable[..., T], args: tuple[Any, ...], seconds: float) -> T:
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(max(int(_limited_here.get("seconds", seconds)), 1))
    try:
        return func(*args)
    except MemoryError as exc:
        raise RenderLimitExceeded("rendering ran out of memory") from exc
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_limited(func: Callable[..., T], *args: Any, seconds: float, memory_mb: int) -> T:
    """``func(*args)`` in the limited rendering process; its (small, picklable) result."""
    if _limited_here:
        return _run_here(func, args, seconds)
    with _lock:
        if _renderer and _renderer[0].memory_mb != memory_mb:
            _renderer.pop().stop(kill=False)
        if not _renderer:
            _renderer.append(_Renderer(memory_mb))
        renderer = _renderer[0]
        renderer.calls += 1
        try:
            renderer.conn.send((func, args))
            if not renderer.conn.poll(seconds):
                raise RenderLimitExceeded(f"rendering took longer than {seconds:g} s: stopped")
            ok, value = renderer.conn.recv()
        except (EOFError, OSError, RenderLimitExceeded) as exc:
            _renderer.pop().stop(kill=True)
            if isinstance(exc, RenderLimitExceeded):
                raise
            raise RenderLimitExceeded("the rendering process died (memory limit)") from exc
        if renderer.calls >= RECYCLE_AFTER:
            _renderer.pop().stop(kill=False)
    if not ok:
        raise RenderLimitExceeded(f"rendering failed: {value}")
    return value  # type: ignore[no-any-return]


def stop_renderer() -> None:
    with _lock:
        while _renderer:
            _renderer.pop().stop(kill=False)
