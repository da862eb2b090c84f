"""Rules for signatures: sign once per mailbox, confirm by token, withdraw, list, count.

Nobody can speak for a signer: a second submission for a pending signature replaces its
details and rotates its public id (older links stop working), and the confirm page shows, and
lets the signer correct, exactly what will be published. Nobody can lock a signer out: mails per
signature are limited per time window, not for life. And nobody can learn who has signed: a
submission does the same work, one upsert and one job row, whether or not the mailbox signed.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, case, delete, func, literal, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.db import UTCDateTime, utcnow
from app.jobs import service as jobs
from app.jobs.models import JobState
from app.kit.tokens import Purpose, TokenError, Tokens
from app.letters import service as letters
from app.letters.schemas import LetterSummary
from app.privacy import service as privacy
from app.privacy.crypto import Keyring
from app.signatures.addresses import canonical_email
from app.signatures.models import Signature, SignatureState, Visibility
from app.signatures.schemas import (
    SignatureDetails,
    SignatureInput,
    SignerPublic,
    SignersPage,
    TokenSignature,
)

MAIL_SIGNATURE = "signature.mail"
# Kinds of job that mention a signature by id: deleted with it.
SIGNATURE_JOB_KINDS = (MAIL_SIGNATURE,)
_TABLE: Table = Signature.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class MailLimit:
    """At most ``count`` mails per signature in any ``window``."""

    count: int
    window: timedelta


class SignatureGone(Exception):
    """The token is genuine but no signature answers to it any more."""


class SignatureWithdrawn(Exception):
    pass


class LetterClosed(Exception):
    pass


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


def _dialect_insert(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _window_rules(
    now: datetime, limit: MailLimit
) -> tuple[ColumnElement[bool], dict[str, ColumnElement[object]]]:
    """Whether another mail is allowed now, and the counter's new values if one is sent."""
    table = _TABLE.c
    stale = or_(
        table.mail_window_started_at.is_(None),
        table.mail_window_started_at <= now - limit.window,
    )
    allowed = or_(stale, table.mails_in_window < limit.count)
    counters: dict[str, ColumnElement[object]] = {
        "mails_in_window": case((stale, 1), else_=table.mails_in_window + 1),
        "mail_window_started_at": case(
            (stale, literal(now, UTCDateTime())), else_=table.mail_window_started_at
        ),
    }
    return allowed, counters


def _address_fields(keyring: Keyring, *, letter_id: int, email: str) -> dict[str, str]:
    return {
        "email_encrypted": keyring.encrypt_email(email),
        "email_hash": keyring.email_hash(
            letter_id=letter_id, canonical_address=canonical_email(email)
        ),
        "email_domain_hash": keyring.domain_hash(
            letter_id=letter_id, domain=email.rpartition("@")[2]
        ),
    }


def _queue_mail(session: Session, signature_id: int | None) -> None:
    """Always one job row, so both paths do the same work; a refused mail is recorded dropped."""
    if signature_id is None:
        jobs.enqueue(session, kind=MAIL_SIGNATURE, state=JobState.DROPPED, note="mail limit")
    else:
        jobs.enqueue(session, kind=MAIL_SIGNATURE, ref_id=signature_id)


def sign(
    session: Session,
    *,
    letter_id: int,
    data: SignatureInput,
    keyring: Keyring,
    limit: MailLimit,
    letter_version: int | None = None,
    language: str = "en",
) -> None:
    """Record a pending signature (or refresh one) and queue the mail that goes with it.

    One statement decides everything, even under a rush: a new mailbox inserts; a pending one
    takes the new details and a new public id (its address stays as first typed); a confirmed
    one keeps its details and is sent a reminder with links to manage it. Mails past the limit
    are not sent and change nothing.
    """
    now = utcnow()
    values = {
        "public_id": new_public_id(),
        "letter_id": letter_id,
        "name": data.name,
        "affiliation": data.affiliation,
        "city": data.city,
        "country": data.country,
        "visibility": data.visibility.value,
        "letter_version": letter_version,
        "language": language,
        "may_contact": data.may_contact,
        "state": SignatureState.PENDING.value,
        "mails_in_window": 1,
        "mail_window_started_at": now,
        "created_at": now,
        **_address_fields(keyring, letter_id=letter_id, email=data.email),
    }
    statement = _dialect_insert(session)(_TABLE).values(**values)
    table = _TABLE.c
    pending = table.state == SignatureState.PENDING.value
    # The address itself is never replaced: mail keeps going to the spelling first typed, so
    # a variant that folds to the same mailbox ("carol+x@", "CAROL@") cannot take it over.
    replaced = (
        "public_id",
        "name",
        "affiliation",
        "city",
        "country",
        "visibility",
        "letter_version",
        "language",
        "may_contact",
        "created_at",
    )
    allowed, counters = _window_rules(now, limit)
    statement = statement.on_conflict_do_update(
        index_elements=["letter_id", "email_hash"],
        set_={
            **{
                name: case((pending, statement.excluded[name]), else_=table[name])
                for name in replaced
            },
            **counters,
        },
        where=allowed,
    ).returning(table.id)
    _queue_mail(session, session.execute(statement).scalar_one_or_none())


def request_links(
    session: Session, *, letter_id: int, email: str, keyring: Keyring, limit: MailLimit
) -> None:
    """ "Manage my signature": mail fresh links if, and only if, this mailbox has signed."""
    now = utcnow()
    email_hash = keyring.email_hash(letter_id=letter_id, canonical_address=canonical_email(email))
    allowed, counters = _window_rules(now, limit)
    signature_id = session.execute(
        update(_TABLE)
        .where(_TABLE.c.letter_id == letter_id)
        .where(_TABLE.c.email_hash == email_hash)
        .where(_TABLE.c.state != SignatureState.WITHDRAWN.value)  # invalidated may withdraw
        .where(allowed)
        .values(**counters)
        .returning(_TABLE.c.id)
    ).scalar_one_or_none()
    _queue_mail(session, signature_id)


def _signature_for_token(
    session: Session, *, tokens: Tokens, purpose: Purpose, token: str, max_age_seconds: float
) -> Signature:
    public_id = tokens.read(purpose, token, max_age_seconds=max_age_seconds)
    signature = session.exec(select(Signature).where(Signature.public_id == public_id)).first()
    if signature is None:
        raise SignatureGone(purpose.value)
    return signature


def _token_view(letter: LetterSummary, signature: Signature) -> TokenSignature:
    return TokenSignature(
        letter_id=letter.id,
        letter_slug=letter.slug,
        letter_title=letter.title,
        letter_accepting=letter.accepting,
        language=letter.language,
        letter_language=letter.original_language,
        state=signature.state,
        details=None
        if signature.state is SignatureState.WITHDRAWN
        else SignatureDetails(
            name=signature.name,
            affiliation=signature.affiliation,
            city=signature.city,
            country=signature.country,
            visibility=signature.visibility,
            may_contact=signature.may_contact,
        ),
    )


def describe_token(
    session: Session, *, tokens: Tokens, purpose: Purpose, token: str, max_age_seconds: float
) -> TokenSignature:
    """For the page a mailed link opens: validates the token, changes nothing."""
    signature = _signature_for_token(
        session, tokens=tokens, purpose=purpose, token=token, max_age_seconds=max_age_seconds
    )
    letter = letters.get_summary_by_id(
        session, letter_id=signature.letter_id, language=signature.language
    )
    return _token_view(letter, signature)


def confirm(
    session: Session,
    *,
    tokens: Tokens,
    token: str,
    max_age_seconds: float,
    details: SignatureDetails,
) -> TokenSignature:
    """Pending becomes confirmed, with the details the signer saw and corrected on the page.
    On a confirmed signature the same form saves changes; confirming twice is harmless."""
    signature = _signature_for_token(
        session,
        tokens=tokens,
        purpose=Purpose.CONFIRM,
        token=token,
        max_age_seconds=max_age_seconds,
    )
    letter = letters.get_summary_by_id(
        session, letter_id=signature.letter_id, language=signature.language
    )
    if signature.state is SignatureState.WITHDRAWN:
        raise SignatureWithdrawn(letter.slug)
    values: dict[str, object] = {
        "name": details.name,
        "affiliation": details.affiliation,
        "city": details.city,
        "country": details.country,
        "visibility": details.visibility,
        "may_contact": details.may_contact,
    }
    if signature.state is SignatureState.PENDING:
        if not letter.accepting:
            raise LetterClosed(letter.slug)
        values |= {"state": SignatureState.CONFIRMED, "confirmed_at": utcnow()}
    changed = session.execute(
        update(Signature)
        .where(col(Signature.id) == signature.id)
        .where(col(Signature.public_id) == signature.public_id)
        .where(col(Signature.state) == signature.state)
        .values(**values)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        # Replaced or withdrawn between the page and the button: this link is spent.
        raise SignatureGone(Purpose.CONFIRM.value)
    session.flush()
    session.refresh(signature)
    return _token_view(letter, signature)


def withdraw(
    session: Session, *, tokens: Tokens, token: str, max_age_seconds: float
) -> TokenSignature:
    """Withdrawing leaves nothing about the signer: a never-confirmed signature is deleted with
    its mails; a confirmed one keeps only that it once counted (its dates), for the count's
    history. The address, its hashes, the name and the place are gone either way, so signing
    again later starts a new signature."""
    signature = _signature_for_token(
        session,
        tokens=tokens,
        purpose=Purpose.WITHDRAW,
        token=token,
        max_age_seconds=max_age_seconds,
    )
    letter = letters.get_summary_by_id(
        session, letter_id=signature.letter_id, language=signature.language
    )
    assert signature.id is not None
    jobs.delete_jobs_for(session, kinds=SIGNATURE_JOB_KINDS, ref_ids=[signature.id])
    privacy.scrub_after_commit(session)
    if signature.confirmed_at is None:
        session.execute(delete(Signature).where(col(Signature.id) == signature.id))
    else:
        session.execute(
            update(Signature)
            .where(col(Signature.id) == signature.id)
            .values(
                state=SignatureState.WITHDRAWN,
                withdrawn_at=signature.withdrawn_at or utcnow(),
                name="",
                affiliation="",
                city="",
                country="",
                visibility=Visibility.COUNTED_ONLY,
                may_contact=False,
                email_encrypted=None,
                email_hash=None,
                email_domain_hash=None,
                mails_in_window=0,
                mail_window_started_at=None,
                # The organiser's reason may name the signer; a reversed rule must not
                # bring a withdrawn signature back.
                invalidated_reason="",
                invalidation_rule_id=None,
            )
        )
    return TokenSignature(
        letter_id=letter.id,
        letter_slug=letter.slug,
        letter_title=letter.title,
        letter_accepting=letter.accepting,
        language=letter.language,
        letter_language=letter.original_language,
        state=SignatureState.WITHDRAWN,
        details=None,
    )


def purge_unconfirmed(session: Session, *, created_before: datetime, batch: int = 1000) -> int:
    """Delete pending signatures older than the retention period, with the jobs about them."""
    deleted = 0
    while True:
        ids = [
            signature_id
            for signature_id in session.exec(
                select(Signature.id)
                .where(Signature.state == SignatureState.PENDING)
                .where(col(Signature.created_at) < created_before)
                .limit(batch)
            ).all()
            if signature_id is not None
        ]
        if not ids:
            return deleted
        jobs.delete_jobs_for(session, kinds=SIGNATURE_JOB_KINDS, ref_ids=ids)
        session.execute(delete(Signature).where(col(Signature.id).in_(ids)))
        deleted += len(ids)


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


def count_pending(session: Session, *, letter_id: int) -> int:
    """Signatures waiting for their confirmation (for organisers: the confirmation rate)."""
    return session.exec(
        select(func.count())
        .select_from(Signature)
        .where(Signature.letter_id == letter_id)
        .where(Signature.state == SignatureState.PENDING)
    ).one()


def count_changed_at(session: Session, *, letter_id: int) -> datetime | None:
    """When the confirmed count last moved: a confirmation, a confirmed signer withdrawing, or
    an organiser invalidating (a restore moves the count but leaves no date here)."""
    confirmed, withdrawn, invalidated = session.exec(
        select(
            func.max(Signature.confirmed_at),
            func.max(Signature.withdrawn_at),
            func.max(Signature.invalidated_at),
        )
        .where(Signature.letter_id == letter_id)
        .where(col(Signature.confirmed_at).is_not(None))
    ).one()
    moments = [moment for moment in (confirmed, withdrawn, invalidated) if moment is not None]
    return max(moments) if moments else None


def _publicly_named(letter_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        col(Signature.letter_id) == letter_id,
        col(Signature.state) == SignatureState.CONFIRMED,
        col(Signature.visibility) == Visibility.PUBLIC,
        col(Signature.hidden_at).is_(None),  # hidden by an organiser: counted, never named
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
    "MailLimit",
    "SignatureGone",
    "SignatureWithdrawn",
    "TokenError",
    "confirm",
    "count_confirmed",
    "counts_confirmed",
    "describe_token",
    "latest_public_signers",
    "public_signers_page",
    "purge_unconfirmed",
    "request_links",
    "sign",
    "withdraw",
]
