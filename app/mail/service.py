"""Queueing mail inside the caller's transaction, and the registry of message builders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from app.config import Settings
from app.mail.models import OutboxMessage


@dataclass(frozen=True, slots=True)
class RenderedMail:
    to: str
    subject: str
    text: str
    html: str


# A builder turns an outbox row's ref_id into a mail, or None when there is nothing to send.
Builder = Callable[[Session, Settings, int], RenderedMail | None]
_builders: dict[str, Builder] = {}


def register_builder(kind: str) -> Callable[[Builder], Builder]:
    def decorator(builder: Builder) -> Builder:
        _builders[kind] = builder
        return builder

    return decorator


def builder_for(kind: str) -> Builder | None:
    return _builders.get(kind)


def enqueue(session: Session, *, kind: str, ref_id: int) -> None:
    """Queue a mail; it is sent only if the surrounding transaction commits."""
    session.add(OutboxMessage(kind=kind, ref_id=ref_id))
