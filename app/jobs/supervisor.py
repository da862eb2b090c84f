"""``undersigned worker --processes N``: one supervisor and N worker processes.

Each worker is a separate OS process (started with ``spawn``: a fresh interpreter, no engine,
thread or lock inherited from the supervisor) running the ordinary job worker against the same
database; the queue's claims (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite) keep any job from running twice. The supervisor touches no database itself: it starts
the workers, restarts one that dies (with a growing pause if it keeps dying at once, so a
worker that cannot start does not spin), and on SIGTERM or SIGINT passes SIGTERM on to every
worker, waits for each to finish the job in hand, and only then exits.

``undersigned serve --workers N`` supervises its web processes the same way
(app/kit/serving.py): ``target`` and ``label`` say what the processes run.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(processName)s[%(process)d] %(name)s: %(message)s"
# A worker that lived this long before dying is restarted at once; one that dies sooner waits
# RESTART_PAUSE_SECONDS, doubled at each quick death up to MAX_RESTART_PAUSE_SECONDS.
HEALTHY_AFTER_SECONDS = 30.0
RESTART_PAUSE_SECONDS = 1.0
MAX_RESTART_PAUSE_SECONDS = 60.0
# On shutdown each worker finishes the job in hand; after this it is killed (its jobs are
# picked up again by the next worker once their lease runs out).
STOP_GRACE_SECONDS = 60.0
# With heartbeats: how long a new process may take to start before its first beat.
STARTUP_GRACE_SECONDS = 90.0


def default_process_count() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def worker_process_main() -> None:
    """The body of one worker process: settings from the environment, like the parent's."""
    from app.cli import run_worker
    from app.config import Settings
    from app.kit.logging import install_redaction

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    install_redaction()
    stop_when_orphaned()
    run_worker(Settings())


def stop_when_orphaned() -> None:
    """In a supervised process: stop (SIGTERM to ourselves) if the supervisor disappears."""
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()


def _stop_when_orphaned(parent: int) -> None:
    """A worker whose supervisor was killed outright stops too, as if told to (SIGTERM),
    rather than run on unsupervised."""
    while os.getppid() == parent:
        time.sleep(1.0)
    log.warning("the supervisor (pid %s) is gone; stopping", parent)
    os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class _Slot:
    number: int
    process: BaseProcess | None = None
    started: float = 0.0
    pause: float = 0.0
    restart_at: float = 0.0
    beat: Any = None  # the shared float the process sets (heartbeats only)


class Supervisor:
    def __init__(
        self,
        processes: int,
        *,
        target: Callable[..., None] = worker_process_main,
        label: str = "worker",
        heartbeat_seconds: float | None = None,
    ) -> None:
        """``heartbeat_seconds``: ``target`` is given a shared float to set to
        ``time.monotonic()`` at least this often; a process that stops doing so (hung, or
        stopped) is killed and started again."""
        if processes < 1:
            raise ValueError("at least one process")
        self.context = multiprocessing.get_context("spawn")
        self.target = target
        self.label = label
        self.heartbeat_seconds = heartbeat_seconds
        self.slots = [_Slot(number=n + 1) for n in range(processes)]
        self.stopping = threading.Event()

    def _start(self, slot: _Slot) -> None:
        args: tuple[object, ...] = ()
        if self.heartbeat_seconds is not None:
            # Until its first beat, a process has STARTUP_GRACE_SECONDS more to start in.
            slot.beat = self.context.Value("d", time.monotonic() + STARTUP_GRACE_SECONDS)
            args = (slot.beat,)
        process = self.context.Process(
            target=self.target, args=args, name=f"{self.label}-{slot.number}", daemon=False
        )
        process.start()
        slot.process, slot.started = process, time.monotonic()
        log.info("%s process %s started (pid %s)", self.label, slot.number, process.pid)

    def _check(self, slot: _Slot, now: float) -> None:
        process = slot.process
        if process is not None and process.is_alive():
            if not self._silent(slot, now):
                return
            log.warning(
                "%s process %s (pid %s) gave no sign of life for %.0f s; killing it",
                self.label,
                slot.number,
                process.pid,
                self.heartbeat_seconds,
            )
            process.kill()
            process.join(5)
        if process is not None:
            lived = now - slot.started
            slot.pause = (
                0.0
                if lived >= HEALTHY_AFTER_SECONDS
                else min(max(slot.pause * 2, RESTART_PAUSE_SECONDS), MAX_RESTART_PAUSE_SECONDS)
            )
            slot.restart_at = now + slot.pause
            log.warning(
                "%s process %s (pid %s) exited with %s after %.1f s; restarting in %.0f s",
                self.label,
                slot.number,
                process.pid,
                _describe_exit(process.exitcode),
                lived,
                slot.pause,
            )
            process.close()
            slot.process = None
        if now >= slot.restart_at and not self.stopping.is_set():
            self._start(slot)

    def _silent(self, slot: _Slot, now: float) -> bool:
        if self.heartbeat_seconds is None or slot.beat is None:
            return False
        return now - float(slot.beat.value) > self.heartbeat_seconds

    def run(self) -> int:
        """Supervise until SIGTERM or SIGINT; returns the exit status (0 after a clean stop)."""
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            log.info("supervising %s %s process(es)", len(self.slots), self.label)
            while not self.stopping.is_set():
                now = time.monotonic()
                for slot in self.slots:
                    self._check(slot, now)
                    if self.stopping.is_set():
                        break
                self.stopping.wait(0.5)
            return self._stop_all()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()

    def _stop_all(self) -> int:
        running = [slot.process for slot in self.slots if slot.process is not None]
        log.info("stopping %s %s process(es)", len(running), self.label)
        for process in running:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        status = 0
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("%s pid %s did not stop in time; killing it", self.label, process.pid)
                process.kill()
                process.join()
                status = 1
            elif process.exitcode not in (0, -signal.SIGTERM):
                log.warning("%s pid %s ended with %s", self.label, process.pid, process.exitcode)
        log.info("all %s processes stopped", self.label)
        return status


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"
