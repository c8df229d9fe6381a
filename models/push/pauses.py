"""Rows waiting behind a quota pause, and letting them go when staff resume the kind.

The pauses themselves live in Redis, shared by the workers (scheduler/pauses.py); a row
that found every channel it could take paused is put off until the pause's next probe,
as ``failed`` with its attempt given back and a ``last_error`` starting with
:data:`PAUSED_PREFIX`, so that resuming can find exactly those rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.base import rowcount
from models.push.outbox import OutboxMessage
from models.push.vocabulary import OutboxStatus

PAUSED_PREFIX = "paused: "


def release_paused(db: Session, kind: str, now: datetime) -> int:
    """Make the rows of ``kind`` put off by a quota pause due now; returns how many."""
    return rowcount(
        db.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.kind == kind,
                OutboxMessage.status == OutboxStatus.FAILED,
                OutboxMessage.next_attempt_at > now,
                OutboxMessage.last_error.startswith(PAUSED_PREFIX, autoescape=True),
            )
            .values(next_attempt_at=now)
        )
    )


def resume_kind(
    db: Session, actor: Actor, kind: str, channels: Sequence[str], now: datetime
) -> int:
    """Staff lifted the quota pauses of ``kind`` on ``channels`` (in Redis, by the
    caller): its rows put off by them become due now, and the audit log says who did it.
    The CLI's ``outbox resume`` and the console's outbox page both come here; returns
    how many rows were made due."""
    released = release_paused(db, kind, now)
    record(
        db,
        actor,
        AuditAction.OUTBOX_RESUME,
        AuditObject.OUTBOX,
        None,
        now,
        after={"kind": kind, "channels": ",".join(channels), "released": released},
    )
    return released
