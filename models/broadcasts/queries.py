"""Broadcasts as staff list them and as the scheduler finds them due."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from models.broadcasts.records import Broadcast, BroadcastStatus


def due_broadcasts(db: Session, now: datetime, limit: int = 20) -> list[Broadcast]:
    """Scheduled broadcasts whose time has come, locked so two schedulers never share one."""
    return list(
        db.execute(
            select(Broadcast)
            .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.scheduled_at <= now)
            .order_by(Broadcast.scheduled_at, Broadcast.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def recent_broadcasts(db: Session, scheduled_only: bool, limit: int = 50) -> list[Broadcast]:
    """Scheduled broadcasts, soonest first; or the latest of every status, newest first."""
    query = select(Broadcast)
    if scheduled_only:
        query = query.where(Broadcast.status == BroadcastStatus.SCHEDULED).order_by(
            Broadcast.scheduled_at, Broadcast.id
        )
    else:
        query = query.order_by(Broadcast.scheduled_at.desc(), Broadcast.id.desc())
    return list(db.execute(query.limit(limit)).scalars())
