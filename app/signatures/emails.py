"""The mails a signer receives. Rendered by the worker at send time from the signature's id."""

from __future__ import annotations

from sqlmodel import Session

from app.config import Settings
from app.kit.templating import default_environment
from app.kit.tokens import Purpose, Tokens
from app.letters import service as letters
from app.mail.service import RenderedMail, register_builder
from app.signatures.models import Signature, SignatureState
from app.signatures.service import MAIL_ALREADY_SIGNED, MAIL_CONFIRM


def _links(settings: Settings, signature: Signature) -> dict[str, str]:
    tokens = Tokens(settings.resolved_secret_keys())
    # Always from BASE_URL, never from a request's Host header.
    return {
        "confirm_url": f"{settings.base_url}/confirm/"
        + tokens.make(Purpose.CONFIRM, signature.public_id),
        "withdraw_url": f"{settings.base_url}/withdraw/"
        + tokens.make(Purpose.WITHDRAW, signature.public_id),
    }


def _render(kind: str, session: Session, settings: Settings, signature: Signature) -> RenderedMail:
    env = default_environment()
    letter = letters.get_summary_by_id(session, letter_id=signature.letter_id)
    context = {
        "site_name": settings.site_name,
        "base_url": settings.base_url,
        "letter_title": letter.title,
        "letter_url": f"{settings.base_url}/letters/{letter.slug}",
        "state": signature.state.value,
        "confirm_days": int(settings.confirm_token_max_age_days),
        **_links(settings, signature),
    }
    subject = env.get_template(f"email/{kind}.subject.txt").render(context).strip()
    return RenderedMail(
        to=signature.email,
        subject=subject,
        text=env.get_template(f"email/{kind}.txt").render(context),
        html=env.get_template(f"email/{kind}.html").render(context),
    )


@register_builder(MAIL_CONFIRM)
def build_confirmation(
    session: Session, settings: Settings, signature_id: int
) -> RenderedMail | None:
    signature = session.get(Signature, signature_id)
    if signature is None or signature.state is not SignatureState.PENDING:
        return None
    return _render("confirm", session, settings, signature)


@register_builder(MAIL_ALREADY_SIGNED)
def build_already_signed(
    session: Session, settings: Settings, signature_id: int
) -> RenderedMail | None:
    signature = session.get(Signature, signature_id)
    if signature is None or signature.state is SignatureState.WITHDRAWN:
        return None
    return _render("already_signed", session, settings, signature)
