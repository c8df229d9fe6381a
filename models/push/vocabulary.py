"""The push pipeline's vocabularies, each defined once; stored values are these strings.

The outbox's CHECK constraints on ``status`` and ``channel`` are built from them
(models/push/outbox.py), so a value not listed here cannot be written. The kinds are
declared with what each carries, in models/push/registry.py.
"""

from __future__ import annotations

from enum import StrEnum


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    EXPIRED = "expired"
    # No channel can carry it now: it waits for the resident's next message.
    HELD = "held"
    # Not worth sending any more (a cancelled sign-up, a moved event, an opt-out, a
    # reminder due while nothing ran); last_error says why.
    SKIPPED = "skipped"


# Rows that may still go out: what a change making pushes stale marks skipped.
QUEUED_STATUSES = (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.HELD)


class Channel(StrEnum):
    """How a push reached its resident (``outbox.channel``)."""

    CUSTOM = "custom"
    TEMPLATE = "template"
    SUBSCRIBE = "subscribe"
    REPLY = "reply"
    MASS = "mass"


class DeliveryOutcome(StrEnum):
    """What one send attempt decided for its row (scheduler/delivery.py)."""

    SENT = "sent"
    RETRY = "retry"
    DEAD = "dead"
    HELD = "held"
    PAUSED = "paused"
    REPLAN = "replan"
    EXPIRED = "expired"
    SKIPPED = "skipped"
    UNSUBSCRIBED = "unsubscribed"
    # Not sent: the worker no longer held the row's lease, so the row is another's to send.
    LEASE_LOST = "lease lost"
