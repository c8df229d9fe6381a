"""The outbox's upkeep: queued rows past their validity expired, dead rows tried again
(by a person, so audited), and the counts ``aixiang outbox stats`` shows."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.base import UTCDateTime, rowcount
from models.push.outbox import OutboxMessage
from models.push.vocabulary import QUEUED_STATUSES, OutboxStatus


def expire_stale(db: Session, now: datetime) -> int:
    """Mark pushes past their validity end as expired; returns how many."""
    result = db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status.in_(QUEUED_STATUSES),
            OutboxMessage.expires_at.is_not(None),
            OutboxMessage.expires_at <= now,
        )
        .values(status=OutboxStatus.EXPIRED, last_error="expired before it could be delivered")
    )
    return rowcount(result)


def retry_dead(
    db: Session,
    actor: Actor,
    now: datetime,
    kind: str | None = None,
    ids: Collection[int] | None = None,
) -> int:
    """Give dead rows a fresh set of attempts (after fixing what killed them): all of
    them, those of ``kind``, or only the rows ``ids`` (the console's ticked dead letters;
    an id that is not dead is left alone); returns how many. The CLI and the console
    both come here. Audited when it revived any: a retry that found none changed
    nothing."""
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.DEAD)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, lease_until=None)
    )
    if kind is not None:
        statement = statement.where(OutboxMessage.kind == kind)
    if ids is not None:
        statement = statement.where(OutboxMessage.id.in_(sorted(ids)))
    retried = rowcount(db.execute(statement))
    if retried:
        chosen = None if ids is None else ",".join(str(number) for number in sorted(ids))
        after = {"kind": kind, "ids": chosen, "retried": retried}
        record(db, actor, AuditAction.OUTBOX_RETRY, AuditObject.OUTBOX, None, now, after=after)
    return retried


@dataclass(frozen=True)
class KindStatusCount:
    kind: str
    status: str
    count: int
    oldest: datetime | None


def stats(db: Session) -> list[KindStatusCount]:
    """Counts by kind and status, with the oldest row's creation time in each group."""
    rows = db.execute(
        select(
            OutboxMessage.kind,
            OutboxMessage.status,
            func.count(),
            func.min(OutboxMessage.created_at),
        )
        .group_by(OutboxMessage.kind, OutboxMessage.status)
        .order_by(OutboxMessage.kind, OutboxMessage.status)
    ).all()
    return [
        KindStatusCount(kind, status, count, as_utc(oldest)) for kind, status, count, oldest in rows
    ]


def as_utc(value: datetime | str | None) -> datetime | None:
    """min() over a UTC column comes back untyped on SQLite; make it aware UTC again."""
    if value is None:
        return None
    return UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]
