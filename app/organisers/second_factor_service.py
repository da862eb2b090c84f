"""Rules for the second factor: enrolling an authenticator app, checking its codes after the
emailed link, and the admin's policy that can require it of everyone."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.kit.tokens import Purpose, TokenError, Tokens
from app.organisers import totp
from app.organisers.models import Organiser, WorkspacePolicy
from app.organisers.service import CurrentOrganiser, record
from app.privacy.crypto import Keyring

MAX_FAILURES = 5


class WrongCode(Exception):
    """The code does not match (or was used already)."""


class SecondFactorExpired(Exception):
    """The half-finished sign-in ran out, was voided by wrong codes, or never existed."""


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    uri: str
    sealed: str  # the secret, signed, for the form that confirms it


def policy_requires(session: Session) -> bool:
    policy = session.get(WorkspacePolicy, 1)
    return bool(policy and policy.require_second_factor)


def set_policy(session: Session, *, admin: CurrentOrganiser, required: bool) -> None:
    policy = session.get(WorkspacePolicy, 1) or WorkspacePolicy(id=1)
    policy.require_second_factor = required
    session.add(policy)
    record(
        session,
        organiser_id=admin.id,
        letter_id=None,
        action="policy.second_factor",
        detail="required" if required else "optional",
    )


def has_second_factor(session: Session, *, organiser_id: int) -> bool:
    secret = session.exec(
        select(Organiser.totp_secret_encrypted).where(Organiser.id == organiser_id)
    ).one()
    return secret is not None


def pending_token(tokens: Tokens, organiser: Organiser) -> str:
    """What the browser holds between the emailed link and the code: not yet a session. It
    names the last code step used, so once a code is accepted it cannot serve again."""
    return tokens.make(
        Purpose.ORGANISER_SECOND_FACTOR,
        f"{organiser.public_id}.{organiser.session_version}.{organiser.totp_last_step}",
    )


def _check_code(session: Session, organiser: Organiser, *, code: str, keyring: Keyring) -> bool:
    """True, and the step recorded so the code works once, if the code is right. The update
    also requires the session version read with the row: a sign-in voided meanwhile by a
    parallel run of wrong codes cannot succeed."""
    assert organiser.totp_secret_encrypted is not None
    secret = keyring.decrypt_secret(organiser.totp_secret_encrypted)
    step = totp.matching_step(secret, code, after=organiser.totp_last_step)
    if step is None:
        return False
    used = session.execute(
        update(Organiser)
        .where(col(Organiser.id) == organiser.id)
        # Unchanged since it was read: of two right codes sent at once, one wins.
        .where(col(Organiser.totp_last_step) == organiser.totp_last_step)
        .where(col(Organiser.session_version) == organiser.session_version)
        .values(totp_last_step=step, second_factor_failures=0)
    )
    return bool(used.rowcount == 1)  # type: ignore[attr-defined]


def _reserve_attempt(session: Session, organiser: Organiser) -> int | None:
    """Take one of the sign-in's attempts before checking a code, in the database: parallel
    guesses queue on the row and each takes its own, so at most MAX_FAILURES codes are ever
    checked for one emailed link. None once they are used up."""
    attempt = session.execute(
        update(Organiser)
        .where(col(Organiser.id) == organiser.id)
        .where(col(Organiser.session_version) == organiser.session_version)
        .where(col(Organiser.second_factor_failures) < MAX_FAILURES)
        .values(second_factor_failures=col(Organiser.second_factor_failures) + 1)
        .returning(col(Organiser.second_factor_failures))
    ).scalar_one_or_none()
    return None if attempt is None else int(attempt)


def _void(session: Session, organiser: Organiser) -> None:
    """The last attempt failed: the half-finished sign-in ends; a new emailed link is needed."""
    session.execute(
        update(Organiser)
        .where(col(Organiser.id) == organiser.id)
        .values(second_factor_failures=0, session_version=col(Organiser.session_version) + 1)
    )


def finish_sign_in(
    session: Session,
    *,
    tokens: Tokens,
    pending: str,
    code: str,
    keyring: Keyring,
    max_age_seconds: float,
) -> str:
    """The code after the emailed link: a session token if right. Wrong codes are counted;
    too many void the half-finished sign-in, so guessing needs a new emailed link each time."""
    try:
        value = tokens.read(
            Purpose.ORGANISER_SECOND_FACTOR, pending, max_age_seconds=max_age_seconds
        )
    except TokenError as exc:
        raise SecondFactorExpired from exc
    public_id, version, last_step = [*value.rsplit(".", 2), "", ""][:3]
    organiser = session.exec(select(Organiser).where(Organiser.public_id == public_id)).first()
    if (
        organiser is None
        or organiser.disabled_at is not None
        or organiser.totp_secret_encrypted is None
        or str(organiser.session_version) != version
        or str(organiser.totp_last_step) != last_step  # a code was accepted since: spent
    ):
        raise SecondFactorExpired
    attempt = _reserve_attempt(session, organiser)
    if attempt is None:
        raise SecondFactorExpired
    if not _check_code(session, organiser, code=code, keyring=keyring):
        if attempt >= MAX_FAILURES:
            _void(session, organiser)
        record(session, organiser_id=organiser.id, letter_id=None, action="organiser.wrong_code")
        raise WrongCode
    record(session, organiser_id=organiser.id, letter_id=None, action="organiser.signed_in")
    return tokens.make(
        Purpose.ORGANISER_SESSION, f"{organiser.public_id}.{organiser.session_version}"
    )


def start_enrolment(
    tokens: Tokens, *, organiser: CurrentOrganiser, account: str, issuer: str
) -> Enrolment:
    """A new secret, sealed for this organiser alone (a sealed secret made for another account
    is refused)."""
    secret = totp.new_secret()
    return Enrolment(
        secret=secret,
        uri=totp.provisioning_uri(secret, account=account, issuer=issuer),
        sealed=tokens.make(Purpose.TOTP_ENROLMENT, f"{organiser.public_id}:{secret}"),
    )


def confirm_enrolment(
    session: Session,
    *,
    organiser: CurrentOrganiser,
    tokens: Tokens,
    sealed: str,
    code: str,
    keyring: Keyring,
) -> None:
    """Store the secret once the app has shown it can produce a right code."""
    try:
        owner, _, secret = tokens.read(
            Purpose.TOTP_ENROLMENT, sealed, max_age_seconds=1800
        ).partition(":")
    except TokenError as exc:
        raise SecondFactorExpired from exc
    if owner != organiser.public_id:
        raise SecondFactorExpired
    step = totp.matching_step(secret, code)
    if step is None:
        raise WrongCode
    # Only where there is none yet: replacing a second factor takes turning it off, with a code.
    stored = session.execute(
        update(Organiser)
        .where(col(Organiser.id) == organiser.id)
        .where(col(Organiser.totp_secret_encrypted).is_(None))
        .values(totp_secret_encrypted=keyring.encrypt_secret(secret), totp_last_step=step)
    )
    if stored.rowcount != 1:  # type: ignore[attr-defined]
        raise SecondFactorExpired
    record(session, organiser_id=organiser.id, letter_id=None, action="organiser.second_factor_on")


def remove(session: Session, *, organiser: CurrentOrganiser, code: str, keyring: Keyring) -> None:
    """Turning the second factor off takes a current code (and is refused if it is required)."""
    row = session.get_one(Organiser, organiser.id)
    if row.totp_secret_encrypted is None:
        return
    if not _check_code(session, row, code=code, keyring=keyring):
        raise WrongCode
    session.execute(
        update(Organiser)
        .where(col(Organiser.id) == organiser.id)
        .values(totp_secret_encrypted=None, totp_last_step=-1)
    )
    record(session, organiser_id=organiser.id, letter_id=None, action="organiser.second_factor_off")
