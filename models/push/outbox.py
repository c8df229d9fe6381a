"""The outbox: every push to a person is a row here first, delivered later with retries.

This module is the table. Domain code (need status changes, waitlist promotions,
reminders, broadcasts) builds every row with :func:`models.push.rows.push_row`, one at a
time through ``enqueue_push`` or in bulk; the worker in ``scheduler/`` claims rows
(models/push/claims.py) and records what became of them (models/push/outcomes.py). The
unique idempotency key makes "create this push" safe to repeat: a second call with the
same key is a no-op, so nothing is sent twice because a job or request ran twice.

A row stores the intent, never WeChat's JSON: ``payload`` holds ``text`` in both
languages, the template ``fields``, and for a mass send its ``target``.

A change that makes queued pushes stale (a cancelled sign-up, a moved event, an opt-out)
marks them skipped in its own transaction (models/push/stale.py); the policy's check at
send time (models/push/policy.py) is only a safety net.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, check_one_of
from models.push.registry import PushKind
from models.push.vocabulary import Channel, OutboxStatus

# The rows claim_due may lease, as the partial index that keeps them in claim order says it.
CLAIMABLE = text("status IN ('pending', 'failed', 'sending')")
# Pushes waiting for their resident's next message; the webhook asks on every message.
HELD_ONLY = text("status = 'held'")


class OutboxMessage(CreatedAtMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index(
            "ix_outbox_claimable_next_attempt_at",
            "next_attempt_at",
            "id",
            sqlite_where=CLAIMABLE,
            postgresql_where=CLAIMABLE,
        ),
        Index(
            "ix_outbox_held_resident_id",
            "resident_id",
            sqlite_where=HELD_ONLY,
            postgresql_where=HELD_ONLY,
        ),
        # Keys compared byte by byte: the one index keeps them unique and also finds the
        # pushes about one thing by the prefix of their key (``need_status:<id>:``), which
        # the collation's order serves only under the "C" collation. A second index for
        # the prefixes would be one more to update at every claim and outcome.
        Index(
            "uq_outbox_idempotency_key",
            "idempotency_key",
            unique=True,
            postgresql_ops={"idempotency_key": "varchar_pattern_ops"},
        ),
        check_one_of("status", OutboxStatus),
        check_one_of("kind", PushKind),
        check_one_of("channel", Channel),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    recipient_openid: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    channel: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
