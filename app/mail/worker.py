"""The mail worker: claims due outbox rows, renders and sends them, retries with backoff."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import col, select

from app.config import Settings
from app.db import open_session, utcnow
from app.mail.models import OutboxMessage, OutboxStatus
from app.mail.sender import DeliveryError, Sender
from app.mail.service import builder_for

log = logging.getLogger(__name__)

CLAIM_SECONDS = 300


class MailWorker:
    def __init__(self, *, engine: Engine, settings: Settings, sender: Sender) -> None:
        self.engine = engine
        self.settings = settings
        self.sender = sender

    def backoff(self, attempts: int) -> timedelta:
        # The exponent is bounded: 2**1024 no longer fits a float, and the cap applies anyway.
        exponent = min(max(attempts - 1, 0), 60)
        seconds = self.settings.mail_backoff_base_seconds * 2**exponent
        return timedelta(seconds=min(seconds, self.settings.mail_backoff_max_seconds))

    def deliver_due(self, *, now: datetime | None = None, limit: int = 50) -> int:
        """Send what is due; returns how many were delivered."""
        now = now or utcnow()
        with open_session(self.engine) as session:
            due_ids = session.exec(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .where(col(OutboxMessage.next_attempt_at) <= now)
                .where(
                    or_(
                        col(OutboxMessage.locked_until).is_(None),
                        col(OutboxMessage.locked_until) < now,
                    )
                )
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
                .limit(limit)
            ).all()
        delivered = 0
        for message_id in due_ids:
            if (
                message_id is not None
                and self._claim(message_id, now)
                and self._deliver(message_id, now)
            ):
                delivered += 1
        return delivered

    def _claim(self, message_id: int, now: datetime) -> bool:
        # A conditional UPDATE is the lock: only one worker sees rowcount 1.
        with open_session(self.engine, write=True) as session:
            result = session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == message_id)
                .where(col(OutboxMessage.status) == OutboxStatus.PENDING)
                .where(
                    or_(
                        col(OutboxMessage.locked_until).is_(None),
                        col(OutboxMessage.locked_until) < now,
                    )
                )
                .values(locked_until=now + timedelta(seconds=CLAIM_SECONDS))
            )
            session.commit()
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _deliver(self, message_id: int, now: datetime) -> bool:
        with open_session(self.engine) as session:
            message = session.get_one(OutboxMessage, message_id)
            kind = message.kind
            builder = builder_for(kind)
            try:
                mail = builder(session, self.settings, message.ref_id) if builder else None
            except Exception as exc:
                # A bug or a missing template must not wedge the queue: count it as an attempt.
                log.exception("outbox %s (%s): could not be rendered", message_id, kind)
                error = DeliveryError(f"rendering failed: {type(exc).__name__}", permanent=False)
                self._failed(message_id, error, now)
                return False
            finally:
                session.rollback()
        if mail is None:
            log.info("outbox %s (%s): nothing to send, dropped", message_id, kind)
            self._finish(message_id, status=OutboxStatus.DROPPED, error="", now=now)
            return False
        try:
            self.sender.send(mail)
        except DeliveryError as exc:
            self._failed(message_id, exc, now)
            return False
        log.info("outbox %s (%s): sent", message_id, kind)
        self._finish(message_id, status=OutboxStatus.SENT, error="", now=now)
        return True

    def _failed(self, message_id: int, exc: DeliveryError, now: datetime) -> None:
        with open_session(self.engine, write=True) as session:
            message = session.get_one(OutboxMessage, message_id)
            message.attempts += 1
            message.last_error = str(exc)[:1000]
            message.locked_until = None
            if exc.permanent or message.attempts >= self.settings.mail_max_attempts:
                message.status = OutboxStatus.FAILED
                log.warning("outbox %s: failed for good: %s", message_id, exc)
            else:
                message.next_attempt_at = now + self.backoff(message.attempts)
                log.warning(
                    "outbox %s: attempt %s failed, retrying at %s: %s",
                    message_id,
                    message.attempts,
                    message.next_attempt_at.isoformat(),
                    exc,
                )
            session.add(message)
            session.commit()

    def _finish(self, message_id: int, *, status: OutboxStatus, error: str, now: datetime) -> None:
        with open_session(self.engine, write=True) as session:
            message = session.get_one(OutboxMessage, message_id)
            message.status = status
            message.attempts += 1 if status is OutboxStatus.SENT else 0
            message.sent_at = now if status is OutboxStatus.SENT else None
            message.locked_until = None
            message.last_error = error
            session.add(message)
            session.commit()

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set. Errors are logged, never fatal: mail waits in the outbox."""
        log.info("mail worker started")
        while not stop.is_set():
            try:
                self.deliver_due()
            except Exception:
                log.exception("mail worker pass failed; will try again")
            stop.wait(self.settings.mail_poll_seconds)
        log.info("mail worker stopped")


def start_in_thread(worker: MailWorker) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="mail-worker", daemon=True)
    thread.start()
    return thread, stop
