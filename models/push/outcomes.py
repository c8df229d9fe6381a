"""What became of a claimed row, recorded only while this worker's lease still holds."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Integer, Update, any_, bindparam, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from models import driver_sql
from models.push.outbox import OutboxMessage
from models.push.vocabulary import OutboxStatus


def mark_sent(
    db: Session, ids_by_channel: dict[str, list[int]], now: datetime, *, lease_until: datetime
) -> None:
    """Record rows as sent, those still under this worker's lease (``lease_until``) only:
    a row another worker claimed after the lease ran out is that worker's to record."""
    for channel, ids in ids_by_channel.items():
        if ids:
            db.execute(
                _mark_sent(db.get_bind().dialect.name),
                {"ids": ids, "channel": channel, "now": now, "held_until": lease_until},
            )


def mark_sent_alone(
    connection: Connection, ids: list[int], channel: str, now: datetime, *, lease_until: datetime
) -> None:
    """:func:`mark_sent` for one channel on a PostgreSQL connection outside any
    transaction: one round trip that commits by itself (models/driver_sql.py), for the
    worker, which records its sends a few at a time as they end."""
    values = {"ids": ids, "channel": channel, "now": now, "held_until": lease_until}
    driver_sql.first_row(connection, _mark_sent("postgresql"), values)


@lru_cache(maxsize=2)
def _mark_sent(dialect: str) -> Update:
    """Built once: on PostgreSQL the ids travel as one array, so the statement's text is
    the same for any number of rows and psycopg prepares it. It answers the ids it
    marked, since :func:`mark_sent_alone` runs it through driver_sql, which reads rows."""
    ids = (
        OutboxMessage.id == any_(bindparam("ids", type_=postgresql.ARRAY(Integer)))
        if dialect == "postgresql"
        else OutboxMessage.id.in_(bindparam("ids", expanding=True))
    )
    return (
        update(OutboxMessage)
        .where(
            ids,
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.lease_until
            == bindparam("held_until", type_=OutboxMessage.lease_until.type),
        )
        .values(
            status=OutboxStatus.SENT,
            channel=bindparam("channel"),
            sent_at=bindparam("now", type_=OutboxMessage.sent_at.type),
            lease_until=None,
            last_error=None,
        )
        .returning(OutboxMessage.id)
    )


def mark_outcome(
    db: Session,
    row_id: int,
    status: OutboxStatus,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    refund_attempt: bool = False,
    *,
    lease_until: datetime,
) -> None:
    """Record a non-sent outcome: retry later (failed), dead, held, expired or skipped,
    for a row still under this worker's lease (``lease_until``), as in :func:`mark_sent`.

    ``refund_attempt`` gives back the attempt when the row was not really tried (a paused
    kind), so a quota pause never pushes a row towards dead.
    """
    values: dict[str, Any] = {"status": status, "last_error": error, "lease_until": None}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if refund_attempt:
        values["attempts"] = OutboxMessage.attempts - 1
    db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.lease_until == lease_until,
        )
        .values(**values)
    )
