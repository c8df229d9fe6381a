"""A person's changes to broadcasts, audited in the same transaction: scheduling one
(the console's form and the CLI's ``broadcast --at``) and cancelling one before it goes
out (the console and ``aixiang broadcasts cancel``). And the progress the console lists
each broadcast with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.broadcasts.fanout import cancel_broadcast, create_broadcast
from models.broadcasts.records import Broadcast, BroadcastStatus
from models.push.outbox import OutboxMessage


def schedule_broadcast(
    db: Session,
    actor: Actor,
    *,
    texts: dict[str, str],
    audience: str,
    now: datetime,
    scheduled_at: datetime,
    event_id: int | None = None,
    mass: bool = False,
) -> Broadcast:
    """Record a broadcast to go out at ``scheduled_at`` (its audience is counted again
    then), written to the audit log under ``actor``."""
    broadcast = create_broadcast(
        db,
        texts=texts,
        audience=audience,
        now=now,
        scheduled_at=scheduled_at,
        event_id=event_id,
        mass=mass,
        created_by=actor.label,
    )
    record(
        db,
        actor,
        AuditAction.BROADCAST_SCHEDULE,
        AuditObject.BROADCAST,
        broadcast.id,
        now,
        after={
            "audience": broadcast.audience,
            "scheduled_at": scheduled_at,
            "mass": mass,
            "text": broadcast.text_zh,
        },
    )
    return broadcast


def cancel_scheduled(db: Session, actor: Actor, broadcast_id: int, now: datetime) -> Broadcast:
    """Cancel a broadcast that has not gone out (see :func:`cancel_broadcast`), audited."""
    broadcast = cancel_broadcast(db, broadcast_id, now, actor.label)
    record(
        db,
        actor,
        AuditAction.BROADCAST_CANCEL,
        AuditObject.BROADCAST,
        broadcast.id,
        now,
        before={"status": BroadcastStatus.SCHEDULED},
        after={"status": broadcast.status},
    )
    return broadcast


def broadcast_progress(db: Session, broadcasts: Sequence[Broadcast]) -> dict[int, dict[str, int]]:
    """How many of each broadcast's outbox rows (one per resident, or per mass-send
    request) are in each status. Its rows are those whose idempotency key fan-out made
    from its number (models/broadcasts/fanout.py); only a broadcast that went out has
    any, so only those are counted."""
    progress: dict[int, dict[str, int]] = {broadcast.id: {} for broadcast in broadcasts}
    for broadcast in broadcasts:
        if broadcast.sent_at is None:
            continue
        rows = db.execute(
            select(OutboxMessage.status, func.count())
            .where(
                OutboxMessage.idempotency_key.startswith(
                    f"broadcast:{broadcast.id}:", autoescape=True
                )
            )
            .group_by(OutboxMessage.status)
        ).all()
        progress[broadcast.id] = {status: count for status, count in rows}
    return progress
