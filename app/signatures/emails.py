"""The mail a signer receives, as a job: rendered at send time from the signature's id.

This is the one place that decrypts a signer's address to mail it. A pending signature gets
its confirmation link; a confirmed one gets links to manage or withdraw it (sent when the same
mailbox signs again, or asks from the letter's page).
"""

from __future__ import annotations

from sqlmodel import Session

from app.config import Settings
from app.db import open_session
from app.jobs.worker import ClaimedJob, JobContext, Outcome
from app.kit.templating import default_environment
from app.kit.tokens import Purpose, Tokens
from app.letters import service as letters
from app.letters.languages import chrome_locale
from app.mail.service import RenderedMail, message_id_for
from app.signatures.models import Signature, SignatureState


def _links(settings: Settings, signature: Signature) -> dict[str, str]:
    tokens = Tokens(settings.resolved_secret_keys())
    # Always from BASE_URL, never from a request's Host header.
    return {
        "confirm_url": f"{settings.base_url}/confirm/"
        + tokens.make(Purpose.CONFIRM, signature.public_id),
        "withdraw_url": f"{settings.base_url}/withdraw/"
        + tokens.make(Purpose.WITHDRAW, signature.public_id),
    }


def render_signature_mail(
    session: Session, settings: Settings, signature: Signature, *, message_id: str
) -> RenderedMail | None:
    if signature.state is SignatureState.WITHDRAWN or signature.email_encrypted is None:
        return None
    kind = "confirm" if signature.state is SignatureState.PENDING else "already_signed"
    # In the language the signer read and signed; its title too (the letter's own if that
    # translation has gone since).
    letter = letters.get_summary_by_id(
        session, letter_id=signature.letter_id, language=signature.language
    )
    env = default_environment(chrome_locale(letter.language))
    context = {
        "site_name": settings.site_name,
        "base_url": settings.base_url,
        "letter_title": letter.title,
        "letter_url": f"{settings.base_url}/letters/{letter.slug}{letter.lang_query}",
        "state": signature.state.value,
        "confirm_days": int(settings.confirm_token_max_age_days),
        **_links(settings, signature),
    }
    return RenderedMail(
        to=settings.keyring().decrypt_email(signature.email_encrypted),
        subject=env.get_template(f"email/{kind}.subject.txt").render(context).strip(),
        text=env.get_template(f"email/{kind}.txt").render(context),
        html=env.get_template(f"email/{kind}.html").render(context),
        message_id=message_id,
    )


def send_signature_mail(context: JobContext, job: ClaimedJob) -> Outcome:
    settings = context.settings
    message_id = message_id_for(
        kind=job.kind, job_id=job.id, created_at=job.created_at, base_url=settings.base_url
    )
    with open_session(context.engine) as session:
        signature = session.get(Signature, job.ref_id) if job.ref_id is not None else None
        mail = (
            render_signature_mail(session, settings, signature, message_id=message_id)
            if signature is not None
            else None
        )
    if mail is None:  # withdrawn or purged since: nothing to send
        return Outcome.DROPPED
    context.mailer.send(mail)
    return Outcome.DONE
