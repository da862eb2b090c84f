"""Registering endpoints, noticing events, and delivering them (the job handlers).

Events are noticed by a scan (``webhooks.scan``, every minute through the job queue) that
compares each endpoint's letter with what the endpoint was last told: signing never waits
for a webhook, and a burst of confirmations becomes one ``signatures.confirmed`` per minute.
Each event is a ``webhook_deliveries`` row plus a ``webhooks.deliver`` job, written in one
transaction; the job signs and sends it, and the queue retries it with backoff."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.config import Settings
from app.counters.public import public_counts
from app.db import open_session, utcnow
from app.jobs import service as jobs
from app.jobs.errors import JobError
from app.jobs.worker import ClaimedJob, JobContext, Outcome
from app.letters import service as letters
from app.letters.models import LetterStatus
from app.privacy.crypto import Keyring
from app.webhooks import http as webhook_http
from app.webhooks.models import Webhook, WebhookDelivery

log = logging.getLogger(__name__)

SCAN = "webhooks.scan"
DELIVER = "webhooks.deliver"
GOAL_REACHED = "goal.reached"
LETTER_CLOSED = "letter.closed"
SIGNATURES_CONFIRMED = "signatures.confirmed"
EVENTS = (SIGNATURES_CONFIRMED, GOAL_REACHED, LETTER_CLOSED)
SIGNATURE_HEADER = "Undersigned-Signature"
MAX_PER_LETTER = 10


class TooManyWebhooks(Exception):
    pass


@dataclass(frozen=True, slots=True)
class WebhookView:
    id: int
    url: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    webhook_id: int
    event: str
    created_at: datetime
    attempts: int
    last_status: int | None
    last_error: str
    delivered_at: datetime | None


def host_of(url: str) -> str:
    """What the audit log names an endpoint by: a path or query may hold a secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign_body(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``t=<unix time>,v1=<hex HMAC-SHA256 of "t." + body>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _state_now(session: Session, letter_id: int) -> tuple[int, int | None, bool, bool]:
    """The letter's count, goal, whether it has closed, whether it is public."""
    letter = letters.get_summary_by_id(session, letter_id=letter_id)
    count = public_counts(session, letter_ids=[letter_id])[letter_id].signatures
    public = letter.status is not LetterStatus.DRAFT
    return count, letter.goal, public and not letter.accepting, public


def add_webhook(
    session: Session,
    *,
    letter_id: int,
    url: str,
    keyring: Keyring,
    allow_private: bool,
    organiser_id: int | None = None,
) -> tuple[int, str]:
    """Register an endpoint; returns its id and its secret (shown once, never again).
    Raises WebhookUrlRefused or TooManyWebhooks. What has already happened (the count so far,
    a goal already reached, a letter already closed) is not announced."""
    webhook_http.resolve(url, allow_private=allow_private)
    if len(list_webhooks(session, letter_id=letter_id)) >= MAX_PER_LETTER:
        raise TooManyWebhooks(str(letter_id))
    count, goal, closed, _ = _state_now(session, letter_id)
    secret = new_secret()
    webhook = Webhook(
        letter_id=letter_id,
        url=url,
        secret_encrypted=keyring.encrypt_secret(secret),
        created_by=organiser_id,
        last_count=count,
        goal_notified_for=goal if goal is not None and count >= goal else None,
        closed_notified=closed,
    )
    session.add(webhook)
    session.flush()
    assert webhook.id is not None
    return webhook.id, secret


def list_webhooks(session: Session, *, letter_id: int) -> list[WebhookView]:
    rows = session.exec(
        select(Webhook).where(Webhook.letter_id == letter_id).order_by(col(Webhook.id))
    ).all()
    return [WebhookView(id=row.id or 0, url=row.url, created_at=row.created_at) for row in rows]


def remove_webhook(session: Session, *, letter_id: int, webhook_id: int) -> str | None:
    """Remove an endpoint of this letter (its pending deliveries go with it); its URL, or None
    if the letter has no such endpoint."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is None or webhook.letter_id != letter_id:
        return None
    ids = session.exec(
        select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook_id)
    ).all()
    jobs.delete_jobs_for(session, kinds=[DELIVER], ref_ids=[i for i in ids if i is not None])
    session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == webhook_id))
    session.delete(webhook)
    session.flush()
    return webhook.url


def recent_deliveries(session: Session, *, letter_id: int, limit: int = 20) -> list[DeliveryView]:
    rows = session.exec(
        select(WebhookDelivery)
        .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
        .where(Webhook.letter_id == letter_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    ).all()
    return [
        DeliveryView(
            id=row.id or 0,
            webhook_id=row.webhook_id,
            event=row.event,
            created_at=row.created_at,
            attempts=row.attempts,
            last_status=row.last_status,
            last_error=row.last_error,
            delivered_at=row.delivered_at,
        )
        for row in rows
    ]


def reencrypt(session: Session, *, keyring: Keyring) -> int:
    """Key rotation: every endpoint's secret under the current key (they are few: one pass)."""
    prefix = f"{keyring.current_key_id}:"
    changed = 0
    for webhook in session.exec(select(Webhook)).all():
        if not webhook.secret_encrypted.startswith(prefix):
            stored = webhook.secret_encrypted
            webhook.secret_encrypted = keyring.encrypt_secret(keyring.decrypt_secret(stored))
            session.add(webhook)
            changed += 1
    session.flush()
    return changed


# -- events -------------------------------------------------------------------------------


def _queue(
    session: Session, webhook: Webhook, event: str, data: dict[str, Any], settings: Settings
) -> None:
    letter = letters.get_summary_by_id(session, letter_id=webhook.letter_id)
    now = utcnow()
    delivery = WebhookDelivery(webhook_id=webhook.id or 0, event=event, body="", created_at=now)
    session.add(delivery)
    session.flush()
    body = {
        "id": delivery.id,
        "event": event,
        "created_at": now.isoformat(),
        "letter": {
            "slug": letter.slug,
            "title": letter.title,
            "url": f"{settings.base_url}/letters/{letter.slug}",
        },
        "data": data,
    }
    delivery.body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    session.add(delivery)
    jobs.enqueue(session, kind=DELIVER, ref_id=delivery.id)


def scan(session: Session, *, settings: Settings) -> int:
    """Queue what each endpoint has not been told yet; returns how many deliveries."""
    queued = 0
    states: dict[int, tuple[int, int | None, bool, bool]] = {}
    for webhook in session.exec(select(Webhook).order_by(col(Webhook.id))).all():
        if webhook.letter_id not in states:
            states[webhook.letter_id] = _state_now(session, webhook.letter_id)
        count, goal, closed, public = states[webhook.letter_id]
        if not public:
            continue
        if count > webhook.last_count:
            data = {"signatures": count, "new": count - webhook.last_count, "goal": goal}
            _queue(session, webhook, SIGNATURES_CONFIRMED, data, settings)
            queued += 1
        webhook.last_count = count
        if goal is not None and count >= goal and webhook.goal_notified_for != goal:
            _queue(session, webhook, GOAL_REACHED, {"signatures": count, "goal": goal}, settings)
            webhook.goal_notified_for = goal
            queued += 1
        if closed and not webhook.closed_notified:
            _queue(session, webhook, LETTER_CLOSED, {"signatures": count, "goal": goal}, settings)
            queued += 1
        webhook.closed_notified = closed  # reopened: its next closing is news again
        session.add(webhook)
    session.flush()
    return queued


def run_scan(context: JobContext, job: ClaimedJob) -> Outcome:
    with open_session(context.engine, write=True) as session:
        scan(session, settings=context.settings)
        session.commit()
    return Outcome.DONE


# -- delivery -----------------------------------------------------------------------------


def deliver(context: JobContext, job: ClaimedJob) -> Outcome:
    """Sign and send one delivery. Failures raise, so the queue retries with backoff; the
    endpoint's address is checked again each time (it may resolve elsewhere by now)."""
    settings = context.settings
    with open_session(context.engine) as session:
        delivery = session.get(WebhookDelivery, job.ref_id) if job.ref_id is not None else None
        webhook = session.get(Webhook, delivery.webhook_id) if delivery is not None else None
        if delivery is None or webhook is None:
            return Outcome.DROPPED  # the endpoint was removed
        if delivery.delivered_at is not None:
            return Outcome.DONE
        url, body = webhook.url, delivery.body.encode()
        secret = settings.keyring().decrypt_secret(webhook.secret_encrypted)
        event, delivery_id = delivery.event, delivery.id
    status: int | None = None
    error = ""
    try:
        target = webhook_http.resolve(url, allow_private=settings.webhook_allow_private)
        status = webhook_http.post(
            target,
            body=body,
            headers={
                "User-Agent": f"{settings.site_name}-Webhooks/1",
                "Undersigned-Event": event,
                "Undersigned-Delivery": str(delivery_id),
                SIGNATURE_HEADER: sign_body(secret, int(time.time()), body),
            },
            timeout=settings.webhook_timeout_seconds,
            context=webhook_http.tls_context(settings.webhook_ca_file),
        )
        if not 200 <= status < 300:
            error = f"the endpoint answered HTTP {status}"
    except webhook_http.WebhookUrlRefused as refused:
        error = str(refused)
    except (OSError, http.client.HTTPException) as failure:
        error = f"no answer: {type(failure).__name__}"
    _record_attempt(context, delivery_id or 0, status=status, error=error)
    if error:
        # Retried by the queue with backoff; its message names no person (counts only).
        raise JobError(f"webhook {webhook.id}: {error}", permanent=False)
    return Outcome.DONE


def _record_attempt(
    context: JobContext, delivery_id: int, *, status: int | None, error: str
) -> None:
    with open_session(context.engine, write=True) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return
        delivery.attempts += 1
        delivery.last_status = status
        delivery.last_error = error[:300]
        if not error:
            delivery.delivered_at = utcnow()
        session.add(delivery)
        session.commit()
