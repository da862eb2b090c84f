"""The update's jobs: the fan-out (one page of signers per job) and one mail per signer.

The mail job is where an address is decrypted, at send time, after checking again that the
signer may still be mailed (not withdrawn, invalidated or unsubscribed since the send). Each
mail is in the signer's language where the update has a version in it, else the original, and
carries the unsubscribe link, also as List-Unsubscribe with one-click POST (RFC 8058)."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from app.config import Settings
from app.db import open_session, utcnow
from app.jobs.worker import ClaimedJob, JobContext, Outcome
from app.kit.markdown import render_markdown
from app.kit.templating import default_environment
from app.kit.tokens import Purpose, Tokens
from app.letters import service as letters
from app.mail.service import RenderedMail, message_id_for
from app.signatures import contact
from app.updates import service
from app.updates.models import UpdateDelivery


def run_fanout(context: JobContext, job: ClaimedJob) -> Outcome:
    update_id = job.ref_id
    if update_id is None:
        return Outcome.DROPPED
    with open_session(context.engine, write=True) as session:
        worked = service.fan_out(
            session, update_id=update_id, batch=context.settings.update_fanout_batch
        )
        session.commit()
    return Outcome.DONE if worked else Outcome.DROPPED


def _mark(context: JobContext, delivery_id: int, column: str) -> None:
    with open_session(context.engine, write=True) as session:
        session.execute(
            update(UpdateDelivery)
            .where(col(UpdateDelivery.id) == delivery_id)
            .where(col(UpdateDelivery.sent_at).is_(None))
            .where(col(UpdateDelivery.dropped_at).is_(None))
            .values({column: utcnow()})
        )
        session.commit()


def _render(
    settings: Settings,
    view: service.UpdateView,
    recipient: contact.ContactRecipient,
    *,
    slug: str,
    title: str,
    message_id: str,
) -> RenderedMail:
    subject, body, language = service.text_for(view, recipient.language)
    tokens = Tokens(settings.resolved_secret_keys())
    letter_url = f"{settings.base_url}/letters/{slug}"
    unsubscribe_url = f"{letter_url}/unsubscribe/" + contact.unsubscribe_token(
        tokens, public_id=recipient.public_id
    )
    withdraw_url = f"{settings.base_url}/withdraw/" + tokens.make(
        Purpose.WITHDRAW, recipient.public_id
    )
    render = {
        "site_name": settings.site_name,
        "letter_title": title,
        "letter_url": letter_url,
        "body_markdown": body,
        "body_html": render_markdown(body),
        "unsubscribe_url": unsubscribe_url,
        "withdraw_url": withdraw_url,
    }
    env = default_environment(language)
    return RenderedMail(
        to=recipient.address,
        subject=subject,
        text=env.get_template("email/update.txt").render(render),
        html=env.get_template("email/update.html").render(render),
        message_id=message_id,
        headers=(
            ("List-Unsubscribe", f"<{unsubscribe_url}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )


def send_update_mail(context: JobContext, job: ClaimedJob) -> Outcome:
    settings = context.settings
    message_id = message_id_for(
        kind=job.kind, job_id=job.id, created_at=job.created_at, base_url=settings.base_url
    )
    with open_session(context.engine) as session:
        delivery = session.get(UpdateDelivery, job.ref_id) if job.ref_id is not None else None
        if delivery is None or delivery.sent_at is not None or delivery.dropped_at is not None:
            return Outcome.DROPPED  # gone, or sent by an earlier run of this job
        assert delivery.id is not None
        delivery_id = delivery.id
        letter_id = service.letter_of(session, update_id=delivery.update_id)
        view = service.get_update(session, letter_id=letter_id, update_id=delivery.update_id)
        letter = letters.get_summary_by_id(session, letter_id=letter_id)
        recipient = contact.recipient(
            session,
            letter_id=letter_id,
            signature_id=delivery.signature_id,
            keyring=settings.keyring(),
        )
    if recipient is None:  # withdrawn, invalidated or unsubscribed since the send
        _mark(context, delivery_id, "dropped_at")
        return Outcome.DROPPED
    mail = _render(
        settings, view, recipient, slug=letter.slug, title=letter.title, message_id=message_id
    )
    context.mailer.send(mail)
    _mark(context, delivery_id, "sent_at")
    return Outcome.DONE
