"""The outbox: every push to a person is a row here first, delivered later with retries.

Domain code (need status changes, waitlist promotions, reminders, broadcasts) only ever
calls :func:`enqueue_push`; the worker in ``scheduler/`` claims and delivers rows. The
unique idempotency key makes "create this push" safe to repeat: a second call with the
same key is a no-op, so nothing is sent twice because a job or request ran twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, CreatedAtMixin
from models.upsert import insert_ignoring_conflict

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
DEAD = "dead"
EXPIRED = "expired"
STATUSES = (PENDING, SENDING, SENT, FAILED, DEAD, EXPIRED)


class OutboxMessage(CreatedAtMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    recipient_openid: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    channel: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


def enqueue_push(
    db: Session,
    *,
    recipient_openid: str,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    resident_id: int | None = None,
    expires_at: datetime | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Record a push to deliver; returns its id, or None if this key was queued before."""
    return insert_ignoring_conflict(
        db,
        OutboxMessage,
        {
            "resident_id": resident_id,
            "recipient_openid": recipient_openid,
            "kind": kind,
            "payload": payload,
            "idempotency_key": idempotency_key,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": not_before or now,
            "expires_at": expires_at,
            "created_at": now,
        },
        conflict_columns=["idempotency_key"],
    )
