"""Staff broadcasts and residents' one-time consents to subscription notices.

A broadcast is recorded before anything is sent: its audience and the message in both
languages, so the dry run, the send and the audit trail all describe the same thing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, CreatedAtMixin

SCHEDULED = "scheduled"
SENT = "sent"
REFUSED = "refused"
CANCELLED = "cancelled"


class Broadcast(CreatedAtMixin, Base):
    __tablename__ = "broadcast"
    __table_args__ = (Index("ix_broadcast_status_scheduled_at", "status", "scheduled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"))
    audience: Mapped[str] = mapped_column(String(80))
    mass: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=SCHEDULED)
    scheduled_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    excluded_unsubscribed: Mapped[int] = mapped_column(Integer, default=0)
    excluded_opted_out: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)


class SubscriptionConsent(Base):
    """One "allow" a resident gave in WeChat's subscription-notice pop-up: one notice each."""

    __tablename__ = "subscription_consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    template_id: Mapped[str] = mapped_column(String(128))
    accepted_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


def record_consents(
    db: Session, resident_id: int, accepted_template_ids: list[str], now: datetime
) -> None:
    for template_id in accepted_template_ids:
        db.add(
            SubscriptionConsent(resident_id=resident_id, template_id=template_id, accepted_at=now)
        )


def use_consent(db: Session, resident_id: int, template_id: str, now: datetime) -> bool:
    """Spend one unused consent for ``template_id``; False when the resident has none left."""
    consent = db.execute(
        select(SubscriptionConsent)
        .where(
            SubscriptionConsent.resident_id == resident_id,
            SubscriptionConsent.template_id == template_id,
            SubscriptionConsent.used_at.is_(None),
        )
        .order_by(SubscriptionConsent.accepted_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if consent is None:
        return False
    consent.used_at = now
    return True


QUEUED = "queued"
SKIPPED = "skipped"


class Reminder(Base):
    """One reminder of one sign-up at one offset before one start time.

    The start time is part of the key, so an event that moves gets fresh reminders and a
    reminder for its old time is never sent; a reminder that fell due while nothing ran
    and whose event has begun is recorded as skipped rather than sent late.
    """

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("signup_id", "offset_minutes", "event_starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signup.id"), index=True)
    offset_minutes: Mapped[int] = mapped_column(Integer)
    event_starts_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime]
