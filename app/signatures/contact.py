"""Who may be emailed by a letter's organisers, and the signer's own say over it.

One rule, in one place: a signature is *contactable* while it is confirmed, its signer ticked
"The organisers may email me about this letter" and its address is still stored (withdrawal
erases it). Updates read the contactable signatures through this module, by keyset pages of
ids (never all at once), and decrypt one address at a time, in the mail job, at send time.
The unsubscribe link carries a token for the signature's opaque public id, with its own salt.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, update
from sqlmodel import Session, col, select

from app.kit.tokens import Purpose, Tokens
from app.letters import service as letters
from app.privacy.crypto import Keyring
from app.signatures.models import Signature, SignatureState
from app.signatures.service import SignatureGone


def _contactable(letter_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        col(Signature.letter_id) == letter_id,
        col(Signature.state) == SignatureState.CONFIRMED,
        col(Signature.may_contact).is_(True),
        col(Signature.email_encrypted).is_not(None),
    )


def count_contactable(session: Session, *, letter_id: int) -> int:
    return session.exec(
        select(func.count()).select_from(Signature).where(*_contactable(letter_id))
    ).one()


def contactable_by_language(session: Session, *, letter_id: int) -> dict[str, int]:
    """How many contactable signers signed in each language."""
    rows = session.exec(
        select(Signature.language, func.count())
        .where(*_contactable(letter_id))
        .group_by(col(Signature.language))
    ).all()
    return dict(rows)


def contactable_ids(session: Session, *, letter_id: int, after: int, limit: int) -> list[int]:
    """The next ``limit`` contactable signatures after id ``after``, in id order (a keyset
    page: as fast at the millionth signer as at the first)."""
    ids = session.exec(
        select(Signature.id)
        .where(*_contactable(letter_id))
        .where(col(Signature.id) > after)
        .order_by(col(Signature.id))
        .limit(limit)
    ).all()
    return [signature_id for signature_id in ids if signature_id is not None]


@dataclass(frozen=True, slots=True)
class ContactRecipient:
    """One signer to mail now: only ever held by the mail job."""

    signature_id: int
    public_id: str
    letter_id: int
    language: str
    address: str


def recipient(
    session: Session, *, letter_id: int, signature_id: int, keyring: Keyring
) -> ContactRecipient | None:
    """The signer, if they may still be mailed: checked at send time, so a signer who withdrew,
    was invalidated or unsubscribed after the update was sent is not mailed."""
    signature = session.exec(
        select(Signature).where(col(Signature.id) == signature_id).where(*_contactable(letter_id))
    ).first()
    if signature is None or signature.email_encrypted is None or signature.id is None:
        return None
    return ContactRecipient(
        signature_id=signature.id,
        public_id=signature.public_id,
        letter_id=signature.letter_id,
        language=signature.language,
        address=keyring.decrypt_email(signature.email_encrypted),
    )


def unsubscribe_token(tokens: Tokens, *, public_id: str) -> str:
    return tokens.make(Purpose.UNSUBSCRIBE, public_id)


@dataclass(frozen=True, slots=True)
class ContactChoice:
    """What the unsubscribe page shows: the letter, and whether its organisers may write."""

    letter_slug: str
    letter_title: str
    withdrawn: bool
    may_contact: bool
    # The language the signature was made in (the page is written in it, the title too), and
    # the letter's own.
    language: str = "en"
    letter_language: str = "en"

    @property
    def lang_query(self) -> str:
        return "" if self.language == self.letter_language else f"?lang={self.language}"


def _signature(session: Session, tokens: Tokens, token: str, max_age_seconds: float) -> Signature:
    public_id = tokens.read(Purpose.UNSUBSCRIBE, token, max_age_seconds=max_age_seconds)
    signature = session.exec(select(Signature).where(Signature.public_id == public_id)).first()
    if signature is None:
        raise SignatureGone(Purpose.UNSUBSCRIBE.value)
    return signature


def _choice(session: Session, signature: Signature) -> ContactChoice:
    letter = letters.get_summary_by_id(
        session, letter_id=signature.letter_id, language=signature.language
    )
    return ContactChoice(
        letter_slug=letter.slug,
        letter_title=letter.title,
        withdrawn=signature.state is SignatureState.WITHDRAWN,
        may_contact=signature.may_contact,
        language=letter.language,
        letter_language=letter.original_language,
    )


def describe_contact(
    session: Session, *, tokens: Tokens, token: str, max_age_seconds: float
) -> ContactChoice:
    """For the page the unsubscribe link opens: checks the token, changes nothing."""
    return _choice(session, _signature(session, tokens, token, max_age_seconds))


def set_contact(
    session: Session, *, tokens: Tokens, token: str, max_age_seconds: float, may_contact: bool
) -> ContactChoice:
    """Turn the organisers' emails off (or on again). Idempotent; a withdrawn signature has no
    address and stays as it is."""
    signature = _signature(session, tokens, token, max_age_seconds)
    if signature.state is not SignatureState.WITHDRAWN:
        session.execute(
            update(Signature)
            .where(col(Signature.id) == signature.id)
            .where(col(Signature.state) != SignatureState.WITHDRAWN)
            .values(may_contact=may_contact)
        )
        session.flush()
        session.refresh(signature)
    return _choice(session, signature)
