"""How far each broadcast that went out has got: its outbox rows counted by status, as
the console lists them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.broadcasts.records import Broadcast
from models.push.outbox import OutboxMessage


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
