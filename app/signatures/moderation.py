"""Moderation of a letter's signatures: find them, hide a name, invalidate (alone or by a bulk
rule) and undo. Addresses are never decrypted here: a domain is compared through its keyed
hash, and an organiser never sees an address.

Lists are keyset pages, newest first (``id < after``), on the (letter_id, id) index, so the
thousandth page costs what the first does. Every change is scoped by letter id as well as by
signature id: a signature of another letter is "not found", never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import ColumnElement, func, update
from sqlmodel import Session, col, select

from app.db import utcnow
from app.privacy.crypto import Keyring
from app.signatures.models import (
    InvalidationRule,
    RuleKind,
    Signature,
    SignatureSource,
    SignatureState,
    Visibility,
)
from app.signatures.offline import attestation_labels

PAGE_SIZE = 50
SAMPLE_SIZE = 10


class SignatureNotFound(Exception):
    """No signature with this id on this letter (or no rule): shown as 'not found'."""


@dataclass(frozen=True, slots=True)
class SignatureFilter:
    """What the organiser searched for; empty fields do not filter."""

    name: str = ""
    domain: str = ""
    country: str = ""
    language: str = ""
    state: SignatureState | None = None
    visibility: Visibility | None = None
    hidden: bool | None = None
    confirmed_from: datetime | None = None
    confirmed_until: datetime | None = None  # exclusive
    source: SignatureSource | None = None


@dataclass(frozen=True, slots=True)
class ModeratedSignature:
    """What an organiser sees of a signature: never the address."""

    id: int
    name: str
    affiliation: str
    city: str
    country: str
    language: str
    state: SignatureState
    visibility: Visibility
    hidden: bool
    confirmed_at: datetime | None
    invalidated_reason: str
    invalidation_rule_id: int | None
    offline: bool = False
    attestation_id: int | None = None
    attestation: str = ""  # an offline signature's attestation: who collected it, how, when


@dataclass(frozen=True, slots=True)
class ModerationPage:
    signatures: list[ModeratedSignature]
    next_after: int | None  # the keyset cursor of the next page, if there is one


@dataclass(frozen=True, slots=True)
class BulkRule:
    """A bulk invalidation: exactly one of a domain, a window or a name fragment."""

    kind: RuleKind
    domain: str = ""
    window_from: datetime | None = None
    window_until: datetime | None = None
    pattern: str = ""
    reason: str = ""

    def describe(self) -> str:
        if self.kind is RuleKind.DOMAIN:
            return f"@{self.domain}"
        if self.kind is RuleKind.WINDOW:
            assert self.window_from is not None and self.window_until is not None
            return f"{self.window_from:%Y-%m-%d %H:%M} to {self.window_until:%Y-%m-%d %H:%M} UTC"
        return f"“{self.pattern}”"


@dataclass(frozen=True, slots=True)
class RulePreview:
    count: int
    sample: list[ModeratedSignature] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RuleLine:
    id: int
    kind: RuleKind
    description: str
    reason: str
    invalidated: int
    created_at: datetime
    reversed_at: datetime | None


def normal_domain(typed: str) -> str:
    """A domain as signing stored it: lower case, without a leading '@' or spaces."""
    return typed.strip().lstrip("@").strip().rstrip(".").lower()


def _matches(
    letter_id: int, wanted: SignatureFilter, keyring: Keyring
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [col(Signature.letter_id) == letter_id]
    if wanted.name:
        where.append(col(Signature.name).icontains(wanted.name, autoescape=True))
    if wanted.domain:
        domain_hash = keyring.domain_hash(letter_id=letter_id, domain=normal_domain(wanted.domain))
        where.append(col(Signature.email_domain_hash) == domain_hash)
    if wanted.country:
        where.append(col(Signature.country) == wanted.country.upper())
    if wanted.language:
        where.append(col(Signature.language) == wanted.language)
    if wanted.state is not None:
        where.append(col(Signature.state) == wanted.state)
    if wanted.visibility is not None:
        where.append(col(Signature.visibility) == wanted.visibility)
    if wanted.hidden is not None:
        hidden_at = col(Signature.hidden_at)
        where.append(hidden_at.is_not(None) if wanted.hidden else hidden_at.is_(None))
    if wanted.confirmed_from is not None:
        where.append(col(Signature.confirmed_at) >= wanted.confirmed_from)
    if wanted.confirmed_until is not None:
        where.append(col(Signature.confirmed_at) < wanted.confirmed_until)
    if wanted.source is not None:
        where.append(col(Signature.source) == wanted.source)
    return where


def _shown(signature: Signature) -> ModeratedSignature:
    assert signature.id is not None
    return ModeratedSignature(
        id=signature.id,
        name=signature.name,
        affiliation=signature.affiliation,
        city=signature.city,
        country=signature.country,
        language=signature.language,
        state=signature.state,
        visibility=signature.visibility,
        hidden=signature.hidden_at is not None,
        confirmed_at=signature.confirmed_at,
        invalidated_reason=signature.invalidated_reason,
        invalidation_rule_id=signature.invalidation_rule_id,
        offline=signature.source is SignatureSource.OFFLINE,
        attestation_id=signature.attestation_id,
    )


def _newest(
    session: Session, where: list[ColumnElement[bool]], *, after: int | None, limit: int
) -> list[ModeratedSignature]:
    query = select(Signature).where(*where)
    if after is not None:
        query = query.where(col(Signature.id) < after)
    rows = session.exec(query.order_by(col(Signature.id).desc()).limit(limit)).all()
    shown = [_shown(row) for row in rows]
    ids = [s.attestation_id for s in shown if s.attestation_id is not None]
    if not ids:
        return shown
    labels = attestation_labels(session, letter_id=rows[0].letter_id, ids=ids)
    return [
        replace(s, attestation=labels.get(s.attestation_id, "")) if s.attestation_id else s
        for s in shown
    ]


def list_signatures(
    session: Session,
    *,
    letter_id: int,
    wanted: SignatureFilter,
    keyring: Keyring,
    after: int | None = None,
    page_size: int = PAGE_SIZE,
) -> ModerationPage:
    """One page, newest first; ``after`` is the previous page's ``next_after``."""
    found = _newest(session, _matches(letter_id, wanted, keyring), after=after, limit=page_size + 1)
    more = len(found) > page_size
    found = found[:page_size]
    return ModerationPage(signatures=found, next_after=found[-1].id if more else None)


def _change_one(
    session: Session,
    *,
    letter_id: int,
    signature_id: int,
    only_state: SignatureState | None,
    values: dict[str, object],
) -> bool:
    """Apply ``values`` to one of the letter's signatures; False if it was not in a state to
    change (already done, withdrawn meanwhile). Raises SignatureNotFound for a foreign id."""
    exists = session.exec(
        select(Signature.id)
        .where(Signature.id == signature_id)
        .where(Signature.letter_id == letter_id)
    ).first()
    if exists is None:
        raise SignatureNotFound(str(signature_id))
    statement = (
        update(Signature)
        .where(col(Signature.id) == signature_id)
        .where(col(Signature.letter_id) == letter_id)
        .where(col(Signature.state) != SignatureState.WITHDRAWN)
    )
    if only_state is not None:
        statement = statement.where(col(Signature.state) == only_state)
    changed = session.execute(statement.values(**values))
    return bool(changed.rowcount)  # type: ignore[attr-defined]


def set_hidden(session: Session, *, letter_id: int, signature_id: int, hidden: bool) -> bool:
    """Hide a name from every public list (it still counts), or show it again."""
    return _change_one(
        session,
        letter_id=letter_id,
        signature_id=signature_id,
        only_state=None,
        values={"hidden_at": utcnow() if hidden else None},
    )


def invalidate(session: Session, *, letter_id: int, signature_id: int, reason: str) -> bool:
    """A confirmed signature stops counting, with the organiser's reason."""
    return _change_one(
        session,
        letter_id=letter_id,
        signature_id=signature_id,
        only_state=SignatureState.CONFIRMED,
        values={
            "state": SignatureState.INVALIDATED,
            "invalidated_at": utcnow(),
            "invalidated_reason": reason,
            "invalidation_rule_id": None,
        },
    )


_RESTORED: dict[str, object] = {
    "state": SignatureState.CONFIRMED,
    "invalidated_at": None,
    "invalidated_reason": "",
    "invalidation_rule_id": None,
}


def restore(session: Session, *, letter_id: int, signature_id: int) -> bool:
    """An invalidated signature counts again."""
    return _change_one(
        session,
        letter_id=letter_id,
        signature_id=signature_id,
        only_state=SignatureState.INVALIDATED,
        values=_RESTORED,
    )


def _rule_matches(letter_id: int, rule: BulkRule, keyring: Keyring) -> list[ColumnElement[bool]]:
    """A rule hits confirmed signatures only: pending ones do not count anyway, and one
    invalidated by hand stays the organiser's own decision when the rule is reversed."""
    wanted = SignatureFilter(
        state=SignatureState.CONFIRMED,
        domain=rule.domain if rule.kind is RuleKind.DOMAIN else "",
        name=rule.pattern if rule.kind is RuleKind.PATTERN else "",
        confirmed_from=rule.window_from if rule.kind is RuleKind.WINDOW else None,
        confirmed_until=rule.window_until if rule.kind is RuleKind.WINDOW else None,
    )
    return _matches(letter_id, wanted, keyring)


def preview_rule(
    session: Session, *, letter_id: int, rule: BulkRule, keyring: Keyring
) -> RulePreview:
    """How many signatures the rule would invalidate now, and the newest few of them."""
    where = _rule_matches(letter_id, rule, keyring)
    count = session.exec(select(func.count()).select_from(Signature).where(*where)).one()
    return RulePreview(count=count, sample=_newest(session, where, after=None, limit=SAMPLE_SIZE))


def apply_rule(
    session: Session,
    *,
    letter_id: int,
    rule: BulkRule,
    organiser_id: int | None,
    keyring: Keyring,
) -> tuple[int, int]:
    """Invalidate every confirmed signature the rule matches, in one statement; returns the
    rule's id and how many it invalidated."""
    stored = InvalidationRule(
        letter_id=letter_id,
        organiser_id=organiser_id,
        kind=rule.kind,
        description=rule.describe()[:300],
        reason=rule.reason,
    )
    session.add(stored)
    session.flush()
    assert stored.id is not None
    changed = session.execute(
        update(Signature)
        .where(*_rule_matches(letter_id, rule, keyring))
        .values(
            state=SignatureState.INVALIDATED,
            invalidated_at=utcnow(),
            invalidated_reason=rule.reason,
            invalidation_rule_id=stored.id,
        )
        .execution_options(synchronize_session=False)
    )
    stored.invalidated = int(changed.rowcount)  # type: ignore[attr-defined]
    session.flush()
    return stored.id, stored.invalidated


def reverse_rule(session: Session, *, letter_id: int, rule_id: int) -> int | None:
    """Restore exactly the signatures this rule invalidated and that are still invalidated
    by it (not those since withdrawn, or restored by hand). A rule is reversed once: None if
    it was reversed already."""
    rule = session.exec(
        select(InvalidationRule)
        .where(InvalidationRule.id == rule_id)
        .where(InvalidationRule.letter_id == letter_id)
    ).first()
    if rule is None:
        raise SignatureNotFound(f"rule {rule_id}")
    spent = session.execute(
        update(InvalidationRule)
        .where(col(InvalidationRule.id) == rule_id)
        .where(col(InvalidationRule.reversed_at).is_(None))
        .values(reversed_at=utcnow())
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return None
    restored = session.execute(
        update(Signature)
        .where(col(Signature.letter_id) == letter_id)
        .where(col(Signature.invalidation_rule_id) == rule_id)
        .where(col(Signature.state) == SignatureState.INVALIDATED)
        .values(**_RESTORED)
        .execution_options(synchronize_session=False)
    )
    return int(restored.rowcount)  # type: ignore[attr-defined]


def list_rules(session: Session, *, letter_id: int, limit: int = 100) -> list[RuleLine]:
    rows = session.exec(
        select(InvalidationRule)
        .where(InvalidationRule.letter_id == letter_id)
        .order_by(col(InvalidationRule.id).desc())
        .limit(limit)
    ).all()
    return [
        RuleLine(
            id=row.id,
            kind=row.kind,
            description=row.description,
            reason=row.reason,
            invalidated=row.invalidated,
            created_at=row.created_at,
            reversed_at=row.reversed_at,
        )
        for row in rows
        if row.id is not None
    ]
