"""Rules for organisers: accounts, one-time sign-in links, sessions, who may see which letter,
and the audit log."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, case, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.db import utcnow
from app.jobs import service as jobs
from app.jobs.models import JobState
from app.kit.tokens import Purpose, TokenError, Tokens
from app.letters import service as letters
from app.organisers.models import AuditEntry, LetterOrganiser, Organiser, SignInLink
from app.privacy.crypto import Keyring
from app.signatures.addresses import canonical_email

MAIL_SIGN_IN = "organiser.sign_in"
_ORGANISERS: Table = Organiser.__table__  # type: ignore[attr-defined]


class NotAllowed(Exception):
    """The signed-in organiser may not see or change this (shown as 'not found')."""


class SignInLinkSpent(Exception):
    """A genuine sign-in link that was used already, or belongs to a disabled account."""


@dataclass(frozen=True, slots=True)
class CurrentOrganiser:
    id: int
    public_id: str
    is_admin: bool
    has_second_factor: bool = False


@dataclass(frozen=True, slots=True)
class AuditLine:
    at: datetime
    who: str
    action: str
    detail: str


def _hash(keyring: Keyring, email: str) -> str:
    return keyring.organiser_hash(canonical_address=canonical_email(email))


def create_organiser(session: Session, *, email: str, is_admin: bool, keyring: Keyring) -> bool:
    """Add an account (an existing one gains admin rights if asked); True if it is new."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(_ORGANISERS)
        .values(
            public_id=secrets.token_urlsafe(16),
            email_hash=_hash(keyring, email),
            email_encrypted=keyring.encrypt_email(email),
            is_admin=is_admin,
            session_version=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["email_hash"])
        .returning(_ORGANISERS.c.id)
    )
    created = session.execute(statement).scalar_one_or_none() is not None
    if not created and is_admin:
        session.execute(
            update(Organiser)
            .where(col(Organiser.email_hash) == _hash(keyring, email))
            .values(is_admin=True)
        )
    return created


def find_organiser_id(session: Session, *, email: str, keyring: Keyring) -> int | None:
    return session.exec(
        select(Organiser.id)
        .where(Organiser.email_hash == _hash(keyring, email))
        .where(col(Organiser.disabled_at).is_(None))
    ).first()


def request_sign_in(
    session: Session, *, email: str, keyring: Keyring, per_hour: int, link_minutes: float
) -> None:
    """Mail a one-time sign-in link if this address has an account and has not asked too
    often; the caller shows the same page either way.

    Nobody can lock an organiser out by asking in their name: past the hourly limit a link is
    still sent whenever no unused link younger than a link's lifetime exists, so the newest
    mail in the organiser's inbox always holds a working link. A flood is bounded all the same:
    ``per_hour`` mails an hour, plus at most one per link lifetime.

    Both paths, account or not, run the same queries and write one job row (a refused mail is
    recorded as dropped), so the answer's timing says little about the address.
    """
    now = utcnow()
    live_since = now - timedelta(minutes=link_minutes)
    organiser_id = find_organiser_id(session, email=email, keyring=keyring)
    recent, live = session.execute(
        select(
            func.count(),
            func.coalesce(
                func.sum(
                    case(
                        (
                            (col(SignInLink.used_at).is_(None))
                            & (col(SignInLink.created_at) > live_since),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        )
        .select_from(SignInLink)
        .where(SignInLink.organiser_id == (organiser_id or 0))
        .where(col(SignInLink.created_at) > min(now - timedelta(hours=1), live_since))
    ).one()
    if organiser_id is None:
        jobs.enqueue(session, kind=MAIL_SIGN_IN, state=JobState.DROPPED, note="no account")
        return
    if recent >= per_hour and live > 0:
        jobs.enqueue(session, kind=MAIL_SIGN_IN, state=JobState.DROPPED, note="mail limit")
        return
    link = SignInLink(organiser_id=organiser_id, nonce=secrets.token_urlsafe(16), created_at=now)
    session.add(link)
    session.flush()
    jobs.enqueue(session, kind=MAIL_SIGN_IN, ref_id=link.id)


def sign_in_token(tokens: Tokens, link: SignInLink) -> str:
    return tokens.make(Purpose.ORGANISER_SIGN_IN, link.nonce)


def _usable_link(
    session: Session, *, tokens: Tokens, token: str, max_age_seconds: float
) -> SignInLink:
    nonce = tokens.read(Purpose.ORGANISER_SIGN_IN, token, max_age_seconds=max_age_seconds)
    link = session.exec(select(SignInLink).where(SignInLink.nonce == nonce)).first()
    if link is None or link.used_at is not None:
        raise SignInLinkSpent(nonce)
    organiser = session.get(Organiser, link.organiser_id)
    if organiser is None or organiser.disabled_at is not None:
        raise SignInLinkSpent(nonce)
    return link


def check_sign_in_link(
    session: Session, *, tokens: Tokens, token: str, max_age_seconds: float
) -> None:
    """For the page the link opens: valid and unused? Changes nothing."""
    _usable_link(session, tokens=tokens, token=token, max_age_seconds=max_age_seconds)


def use_sign_in_link(
    session: Session, *, tokens: Tokens, token: str, max_age_seconds: float
) -> Organiser:
    """Spend the link (once, even under a race); returns whose it was."""
    link = _usable_link(session, tokens=tokens, token=token, max_age_seconds=max_age_seconds)
    spent = session.execute(
        update(SignInLink)
        .where(col(SignInLink.id) == link.id)
        .where(col(SignInLink.used_at).is_(None))
        .values(used_at=utcnow())
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise SignInLinkSpent(link.nonce)
    # A new emailed link gives the second factor's code its full count of attempts again.
    session.execute(
        update(Organiser)
        .where(col(Organiser.id) == link.organiser_id)
        .values(second_factor_failures=0)
    )
    return session.get_one(Organiser, link.organiser_id)


def session_token(tokens: Tokens, organiser: Organiser) -> str:
    """The session cookie's value: signed, naming the account and its session version."""
    return tokens.make(
        Purpose.ORGANISER_SESSION, f"{organiser.public_id}.{organiser.session_version}"
    )


def current_organiser(
    session: Session, *, tokens: Tokens, cookie: str, max_age_seconds: float
) -> CurrentOrganiser | None:
    """The organiser a session cookie belongs to, or None (expired, forged, signed out)."""
    try:
        value = tokens.read(Purpose.ORGANISER_SESSION, cookie, max_age_seconds=max_age_seconds)
    except TokenError:
        return None
    public_id, _, version = value.rpartition(".")
    organiser = session.exec(select(Organiser).where(Organiser.public_id == public_id)).first()
    if (
        organiser is None
        or organiser.id is None
        or organiser.disabled_at is not None
        or str(organiser.session_version) != version
    ):
        return None
    return CurrentOrganiser(
        id=organiser.id,
        public_id=public_id,
        is_admin=organiser.is_admin,
        has_second_factor=organiser.totp_secret_encrypted is not None,
    )


def sign_out_everywhere(session: Session, *, organiser: CurrentOrganiser) -> None:
    session.execute(
        update(Organiser)
        .where(col(Organiser.id) == organiser.id)
        .values(session_version=col(Organiser.session_version) + 1)
    )
    record(session, organiser_id=organiser.id, letter_id=None, action="organiser.signed_out")


def visible_letter_ids(session: Session, *, organiser: CurrentOrganiser) -> list[int] | None:
    """The letters this organiser may see: None means every letter (an admin)."""
    if organiser.is_admin:
        return None
    return [
        letter_id
        for letter_id in session.exec(
            select(LetterOrganiser.letter_id).where(LetterOrganiser.organiser_id == organiser.id)
        ).all()
    ]


def require_letter(session: Session, *, organiser: CurrentOrganiser, letter_id: int) -> None:
    """Raise NotAllowed unless the organiser organises this letter (or is an admin, and the
    letter exists)."""
    if organiser.is_admin:
        try:
            letters.get_summary_by_id(session, letter_id=letter_id)
        except letters.LetterNotFound as exc:
            raise NotAllowed(str(letter_id)) from exc
        return
    found = session.exec(
        select(LetterOrganiser.letter_id)
        .where(LetterOrganiser.letter_id == letter_id)
        .where(LetterOrganiser.organiser_id == organiser.id)
    ).first()
    if found is None:
        raise NotAllowed(str(letter_id))


def add_to_letter(session: Session, *, organiser_id: int, letter_id: int) -> bool:
    """True if the organiser was not on the letter already."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Table = LetterOrganiser.__table__  # type: ignore[attr-defined]
    added = session.execute(
        insert(table)
        .values(letter_id=letter_id, organiser_id=organiser_id, added_at=utcnow())
        .on_conflict_do_nothing(index_elements=["letter_id", "organiser_id"])
        .returning(table.c.letter_id)
    ).first()
    return added is not None


def co_organiser_count(session: Session, *, letter_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(LetterOrganiser)
        .where(LetterOrganiser.letter_id == letter_id)
    ).one()


def record(
    session: Session,
    *,
    organiser_id: int | None,
    letter_id: int | None,
    action: str,
    detail: str = "",
) -> None:
    session.add(
        AuditEntry(
            organiser_id=organiser_id, letter_id=letter_id, action=action, detail=detail[:2000]
        )
    )


def audit_log(
    session: Session, *, letter_id: int, keyring: Keyring, limit: int = 200
) -> list[AuditLine]:
    """A letter's audit log, newest first; organisers are named by their address, which only
    the letter's organisers see."""
    rows: Sequence[tuple[AuditEntry, Organiser | None]] = session.exec(
        select(AuditEntry, Organiser)
        .join(Organiser, col(Organiser.id) == col(AuditEntry.organiser_id), isouter=True)
        .where(AuditEntry.letter_id == letter_id)
        .order_by(col(AuditEntry.created_at).desc(), col(AuditEntry.id).desc())
        .limit(limit)
    ).all()
    return [
        AuditLine(
            at=entry.created_at,
            who=keyring.decrypt_email(organiser.email_encrypted) if organiser else "",
            action=entry.action,
            detail=entry.detail,
        )
        for entry, organiser in rows
    ]


def reencrypt(session: Session, *, keyring: Keyring) -> int:
    """Key rotation: every organiser's address and authenticator secret under the current key
    (organisers are few: one pass). Returns how many values changed."""
    prefix = f"{keyring.current_key_id}:"
    changed = 0
    for organiser in session.exec(select(Organiser)).all():
        values: dict[str, str] = {}
        if not organiser.email_encrypted.startswith(prefix):
            values["email_encrypted"] = keyring.encrypt_email(
                keyring.decrypt_email(organiser.email_encrypted)
            )
        secret = organiser.totp_secret_encrypted
        if secret is not None and not secret.startswith(prefix):
            values["totp_secret_encrypted"] = keyring.encrypt_secret(keyring.decrypt_secret(secret))
        if values:
            session.execute(
                update(Organiser).where(col(Organiser.id) == organiser.id).values(**values)
            )
            changed += len(values)
    return changed
