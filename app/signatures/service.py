"""Rules for signatures: sign once per mailbox, confirm by token, withdraw, list, count."""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Table, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.db import utcnow
from app.kit.tokens import Purpose, TokenError, Tokens
from app.letters import service as letters
from app.letters.schemas import LetterSummary
from app.mail import service as mail
from app.signatures.models import Signature, SignatureState, Visibility
from app.signatures.schemas import (
    SignatureInput,
    SignerPublic,
    SignersPage,
    TokenSignature,
    canonical_email,
)

MAIL_CONFIRM = "signature.confirm"
MAIL_ALREADY_SIGNED = "signature.already_signed"
_TABLE: Table = Signature.__table__  # type: ignore[attr-defined]


class SignOutcome(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    RESIGNED = "resigned"  # a withdrawn signature, signed again


class SignatureGone(Exception):
    """The token is genuine but its signature no longer exists in that form."""


class SignatureWithdrawn(Exception):
    pass


class LetterClosed(Exception):
    pass


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


def _insert_unless_signed(session: Session, values: dict[str, object]) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING: the unique index decides, even under a rush."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(_TABLE)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["letter_id", "email_canonical"])
        .returning(_TABLE.c.id)
    )
    new_id: int | None = session.execute(statement).scalar_one_or_none()
    return new_id


def sign(
    session: Session, *, letter_id: int, data: SignatureInput, duplicate_notice_limit: int
) -> SignOutcome:
    """Record a pending signature and queue its confirmation mail.

    A mailbox that has signed already gets a reminder mail instead (a few at most), and the
    caller shows the same page either way, so nobody can probe who has signed.
    """
    canonical = canonical_email(data.email)
    now = utcnow()
    fields: dict[str, object] = {
        "name": data.name,
        "affiliation": data.affiliation,
        "city": data.city,
        "country": data.country,
        "email": data.email,
        "visibility": data.visibility.value,
    }
    new_id = _insert_unless_signed(
        session,
        fields
        | {
            "public_id": new_public_id(),
            "letter_id": letter_id,
            "email_canonical": canonical,
            "state": SignatureState.PENDING.value,
            "duplicate_notices": 0,
            "created_at": now,
        },
    )
    if new_id is not None:
        mail.enqueue(session, kind=MAIL_CONFIRM, ref_id=new_id)
        return SignOutcome.NEW

    existing = session.exec(
        select(Signature)
        .where(Signature.letter_id == letter_id)
        .where(Signature.email_canonical == canonical)
    ).one()
    assert existing.id is not None
    signature_id = existing.id
    session.expunge(existing)

    revived = session.execute(
        update(Signature)
        .where(col(Signature.id) == signature_id)
        .where(col(Signature.state) == SignatureState.WITHDRAWN)
        .values(
            **fields,
            public_id=new_public_id(),
            state=SignatureState.PENDING,
            duplicate_notices=0,
            created_at=now,
            confirmed_at=None,
            withdrawn_at=None,
        )
    )
    if revived.rowcount == 1:  # type: ignore[attr-defined]
        mail.enqueue(session, kind=MAIL_CONFIRM, ref_id=signature_id)
        return SignOutcome.RESIGNED

    noticed = session.execute(
        update(Signature)
        .where(col(Signature.id) == signature_id)
        .where(col(Signature.duplicate_notices) < duplicate_notice_limit)
        .values(duplicate_notices=col(Signature.duplicate_notices) + 1)
    )
    if noticed.rowcount == 1:  # type: ignore[attr-defined]
        mail.enqueue(session, kind=MAIL_ALREADY_SIGNED, ref_id=signature_id)
    return SignOutcome.DUPLICATE


def _signature_for_token(
    session: Session, *, tokens: Tokens, purpose: Purpose, token: str, max_age_seconds: float
) -> Signature:
    public_id = tokens.read(purpose, token, max_age_seconds=max_age_seconds)
    signature = session.exec(select(Signature).where(Signature.public_id == public_id)).first()
    if signature is None:
        raise SignatureGone(purpose.value)
    return signature


def _token_view(letter: LetterSummary, state: SignatureState) -> TokenSignature:
    return TokenSignature(
        letter_id=letter.id,
        letter_slug=letter.slug,
        letter_title=letter.title,
        letter_accepting=letter.accepting,
        state=state,
    )


def describe_token(
    session: Session, *, tokens: Tokens, purpose: Purpose, token: str, max_age_seconds: float
) -> TokenSignature:
    """For the page a mailed link opens: validates the token, changes nothing."""
    signature = _signature_for_token(
        session, tokens=tokens, purpose=purpose, token=token, max_age_seconds=max_age_seconds
    )
    letter = letters.get_summary_by_id(session, letter_id=signature.letter_id)
    return _token_view(letter, signature.state)


def confirm(
    session: Session, *, tokens: Tokens, token: str, max_age_seconds: float
) -> TokenSignature:
    """Pending becomes confirmed. Confirming again is harmless."""
    signature = _signature_for_token(
        session,
        tokens=tokens,
        purpose=Purpose.CONFIRM,
        token=token,
        max_age_seconds=max_age_seconds,
    )
    letter = letters.get_summary_by_id(session, letter_id=signature.letter_id)
    if signature.state is SignatureState.WITHDRAWN:
        raise SignatureWithdrawn(letter.slug)
    if signature.state is SignatureState.PENDING:
        if not letter.accepting:
            raise LetterClosed(letter.slug)
        session.execute(
            update(Signature)
            .where(col(Signature.id) == signature.id)
            .where(col(Signature.state) == SignatureState.PENDING)
            .values(state=SignatureState.CONFIRMED, confirmed_at=utcnow())
        )
    return _token_view(letter, SignatureState.CONFIRMED)


def withdraw(
    session: Session, *, tokens: Tokens, token: str, max_age_seconds: float
) -> TokenSignature:
    """The signature stops counting and its name, place and affiliation are erased.

    The mailbox stays (canonical form and as typed) so the unique index still holds and the
    same person can sign again later.
    """
    signature = _signature_for_token(
        session,
        tokens=tokens,
        purpose=Purpose.WITHDRAW,
        token=token,
        max_age_seconds=max_age_seconds,
    )
    letter = letters.get_summary_by_id(session, letter_id=signature.letter_id)
    session.execute(
        update(Signature)
        .where(col(Signature.id) == signature.id)
        .where(col(Signature.state) != SignatureState.WITHDRAWN)
        .values(
            state=SignatureState.WITHDRAWN,
            withdrawn_at=utcnow(),
            name="",
            affiliation="",
            city="",
            country="",
            visibility=Visibility.COUNTED_ONLY,
        )
    )
    return _token_view(letter, SignatureState.WITHDRAWN)


def counts_confirmed(session: Session, *, letter_ids: Sequence[int]) -> dict[int, int]:
    """Confirmed signatures of several letters in one query (letters with none are 0)."""
    rows = session.exec(
        select(Signature.letter_id, func.count())
        .where(col(Signature.letter_id).in_(letter_ids))
        .where(Signature.state == SignatureState.CONFIRMED)
        .group_by(col(Signature.letter_id))
    ).all()
    return dict.fromkeys(letter_ids, 0) | dict(rows)


def count_confirmed(session: Session, *, letter_id: int) -> int:
    return counts_confirmed(session, letter_ids=[letter_id])[letter_id]


def count_changed_at(session: Session, *, letter_id: int) -> datetime | None:
    """When the confirmed count last moved: a confirmation, or a confirmed signer withdrawing."""
    confirmed, withdrawn = session.exec(
        select(func.max(Signature.confirmed_at), func.max(Signature.withdrawn_at))
        .where(Signature.letter_id == letter_id)
        .where(col(Signature.confirmed_at).is_not(None))
    ).one()
    moments = [moment for moment in (confirmed, withdrawn) if moment is not None]
    return max(moments) if moments else None


def _publicly_named(letter_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        col(Signature.letter_id) == letter_id,
        col(Signature.state) == SignatureState.CONFIRMED,
        col(Signature.visibility) == Visibility.PUBLIC,
    )


def _public_query(letter_id: int) -> SelectOfScalar[Signature]:
    return select(Signature).where(*_publicly_named(letter_id))


def _public(signature: Signature) -> SignerPublic:
    return SignerPublic(
        name=signature.name,
        affiliation=signature.affiliation,
        city=signature.city,
        country=signature.country,
        confirmed_at=signature.confirmed_at,
    )


def latest_public_signers(session: Session, *, letter_id: int, limit: int) -> list[SignerPublic]:
    rows = session.exec(
        _public_query(letter_id)
        .order_by(col(Signature.confirmed_at).desc(), col(Signature.id).desc())
        .limit(limit)
    ).all()
    return [_public(row) for row in rows]


def public_signers_page(
    session: Session, *, letter_id: int, page: int, page_size: int
) -> SignersPage:
    total = session.exec(
        select(func.count()).select_from(Signature).where(*_publicly_named(letter_id))
    ).one()
    pages = max(1, math.ceil(total / page_size))
    page = min(max(page, 1), pages)
    rows = session.exec(
        _public_query(letter_id)
        .order_by(col(Signature.confirmed_at), col(Signature.id))
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return SignersPage(
        signers=[_public(row) for row in rows],
        page=page,
        pages=pages,
        total=total,
        first_number=(page - 1) * page_size + 1,
    )


__all__ = [
    "LetterClosed",
    "SignOutcome",
    "SignatureGone",
    "SignatureWithdrawn",
    "TokenError",
    "confirm",
    "count_confirmed",
    "counts_confirmed",
    "describe_token",
    "latest_public_signers",
    "public_signers_page",
    "sign",
    "withdraw",
]
