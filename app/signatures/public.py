"""Publicly named signers read by keyset, for the public API: stable under new signatures.

A page is the signers confirmed after a position (confirmation time, then row id), oldest
first; new confirmations come after every position already handed out, so a reader walking
the pages neither misses nor repeats anyone while others sign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from app.signatures.models import Signature
from app.signatures.schemas import SignerPublic
from app.signatures.service import _public, _publicly_named


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: opaque to API users (see app.counters.api)."""

    confirmed_at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class SignersSlice:
    signers: list[SignerPublic]
    next: Position | None  # None on the last page


def public_signers_after(
    session: Session, *, letter_id: int, after: Position | None, limit: int
) -> SignersSlice:
    query = select(Signature).where(*_publicly_named(letter_id))
    if after is not None:
        query = query.where(
            or_(
                col(Signature.confirmed_at) > after.confirmed_at,
                and_(
                    col(Signature.confirmed_at) == after.confirmed_at,
                    col(Signature.id) > after.id,
                ),
            )
        )
    rows = session.exec(
        query.order_by(col(Signature.confirmed_at), col(Signature.id)).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    following = None
    if more and last is not None and last.confirmed_at is not None and last.id is not None:
        following = Position(confirmed_at=last.confirmed_at, id=last.id)
    return SignersSlice(signers=[_public(row) for row in rows], next=following)
