"""Registered endpoints, and each delivery (its event and body: counts only, never a person)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class Webhook(SQLModel, table=True):
    __tablename__ = "webhooks"

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", index=True, ondelete="CASCADE")
    url: str = Field(max_length=500)
    # Shown once when made; kept encrypted like a second factor's secret, to sign deliveries.
    secret_encrypted: str = Field(max_length=256)
    created_by: int | None = Field(default=None, foreign_key="organisers.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # What the last scan reported, so each event goes out once (app.webhooks.events).
    last_count: int = 0
    goal_notified_for: int | None = None
    closed_notified: bool = False


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint; a ``webhooks.deliver`` job sends it (and retries). The body
    is fixed when the event happens, so every attempt sends the same bytes; the endpoint's
    answer is not stored, only its status."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhooks.id", ondelete="CASCADE")
    event: str = Field(max_length=40)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    attempts: int = 0
    last_status: int | None = None  # the endpoint's HTTP status, if it answered
    last_error: str = Field(default="", max_length=300)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
