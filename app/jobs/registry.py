"""Every kind of job, and its handler, in one explicit place; and the recurring jobs."""

from __future__ import annotations

from datetime import timedelta

from app.config import Settings
from app.counters import jobs as counter_jobs
from app.exports.pdf import cleanup as pdf_cleanup
from app.exports.pdf import jobs as pdf_jobs
from app.jobs.worker import Handler, Recurring
from app.organisers import emails as organiser_emails
from app.organisers.service import MAIL_SIGN_IN
from app.privacy import jobs as privacy_jobs
from app.privacy import service as privacy_service
from app.signatures import emails as signature_emails
from app.signatures.service import MAIL_SIGNATURE
from app.updates import emails as update_emails
from app.updates.service import FANOUT, MAIL_UPDATE
from app.webhooks import service as webhooks

HANDLERS: dict[str, Handler] = {
    MAIL_SIGNATURE: signature_emails.send_signature_mail,
    MAIL_SIGN_IN: organiser_emails.send_sign_in_mail,
    privacy_jobs.PURGE: privacy_jobs.purge_expired,
    privacy_service.SCRUB: privacy_jobs.scrub_files,
    FANOUT: update_emails.run_fanout,
    MAIL_UPDATE: update_emails.send_update_mail,
    webhooks.SCAN: webhooks.run_scan,
    webhooks.DELIVER: webhooks.deliver,
    **pdf_jobs.HANDLERS,
    counter_jobs.FOLD: counter_jobs.fold_counts,
}

RECURRING: tuple[Recurring, ...] = (
    Recurring(kind=privacy_jobs.PURGE, every=timedelta(hours=1)),
    Recurring(kind=webhooks.SCAN, every=timedelta(minutes=1)),  # batches events per minute
    Recurring(kind=pdf_cleanup.CLEANUP, every=timedelta(hours=1)),
)


def recurring(settings: Settings) -> tuple[Recurring, ...]:
    """Fixed ones, and the counts' fold, which runs several times per freshness interval."""
    return (*RECURRING, Recurring(kind=counter_jobs.FOLD, every=counter_jobs.fold_every(settings)))
