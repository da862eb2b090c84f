"""Rendering with limits: each piece of work runs in a child process with a cap on its address
space and CPU time, and is killed when it outruns its time. A hostile or huge letter can then
cost one child, never the worker (which also sends mail) or the web server.

Children are forked from a forkserver that has already imported WeasyPrint and laid out a
page, so starting one costs milliseconds rather than the second a fresh interpreter needs.
Processes that exist only to render (``undersigned export-pdf``'s helpers) put the limits on
themselves once and render in-process: ``limit_this_process``.
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from app.jobs.errors import JobError

T = TypeVar("T")

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["app.exports.pdf.warm"])
_limited_here: dict[str, float] = {}


class RenderLimitExceeded(JobError):
    """The rendering ran out of time or memory (retried: the machine may have been busy)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


def _apply_limits(*, seconds: float, memory_mb: int) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


def limit_this_process(*, seconds: float, memory_mb: int) -> None:
    """For a process that only renders: cap its memory now, and each call's time (alarm)."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    _limited_here["seconds"] = seconds


def _child(
    conn: Connection,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    seconds: float,
    memory_mb: int,
) -> None:
    try:
        _apply_limits(seconds=seconds, memory_mb=memory_mb)
        conn.send((True, func(*args)))
    except MemoryError:
        conn.send((False, "out of memory"))
    except BaseException as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = (
            f" at {frames[-1].filename.rpartition('/')[2]}:{frames[-1].lineno}" if frames else ""
        )
        conn.send((False, f"{type(exc).__name__}{where}"))
    finally:
        conn.close()


def _on_alarm(signum: int, frame: object) -> None:
    raise RenderLimitExceeded("rendering took too long")


def run_limited(func: Callable[..., T], *args: Any, seconds: float, memory_mb: int) -> T:
    """``func(*args)`` in a limited child; its result (small: a page count, a few bytes)."""
    if _limited_here:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(max(int(_limited_here.get("seconds", seconds)), 1))
        try:
            return func(*args)
        except MemoryError as exc:
            raise RenderLimitExceeded("rendering ran out of memory") from exc
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    receiver, sender = _context.Pipe(duplex=False)
    child = _context.Process(
        target=_child, args=(sender, func, args, seconds, memory_mb), daemon=True
    )
    child.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise RenderLimitExceeded(f"rendering took longer than {seconds:g} s: stopped")
        try:
            ok, value = receiver.recv()
        except EOFError as exc:  # killed (memory, CPU) before it could answer
            raise RenderLimitExceeded("the rendering process died (time or memory limit)") from exc
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if not ok:
        raise RenderLimitExceeded(f"rendering failed: {value}")
    return value  # type: ignore[no-any-return]
