"""The outbox: every push to a person is a row here first, delivered later with retries.

Domain code (need status changes, waitlist promotions, reminders, broadcasts) builds every
row with :func:`push_row`, one at a time through :func:`enqueue_push` or in bulk; the
worker in ``scheduler/`` claims and delivers rows. The unique idempotency key makes
"create this push" safe to repeat: a second call with the same key is a no-op, so nothing
is sent twice because a job or request ran twice.

A row stores the intent, never WeChat's JSON: ``payload`` holds ``text`` in both
languages, the template ``fields``, and for a mass send its ``target``.

A change that makes queued pushes stale (a cancelled sign-up, a moved event, an opt-out)
marks them skipped in its own transaction with :func:`skip_queued`; the policy's check
at send time (models/push/policy.py) is only a safety net.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    ForeignKey,
    Index,
    Integer,
    Row,
    Select,
    String,
    Text,
    Update,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, Session, mapped_column

from models import driver_sql
from models.base import Base, CreatedAtMixin, UTCDateTime, check_one_of, rowcount
from models.push.vocabulary import QUEUED_STATUSES, Channel, OutboxStatus, PushKind
from models.residents import Resident
from models.upsert import insert_ignoring_conflict

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
        # Pushes about one thing by the prefix of their key (``need_status:<id>:``); the
        # unique index serves LIKE 'prefix%' only under the "C" collation.
        Index(
            "ix_outbox_idempotency_key_pattern",
            "idempotency_key",
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
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    channel: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


def push_row(
    *,
    kind: PushKind,
    recipient_openid: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    resident_id: int | None = None,
    expires_at: datetime | None = None,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """The column values of one new outbox row: every enqueuer, single or bulk, builds its
    rows here, so a queued push always starts out the same way."""
    return {
        "resident_id": resident_id,
        "recipient_openid": recipient_openid,
        "kind": kind,
        "payload": payload,
        "idempotency_key": idempotency_key,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "expires_at": expires_at,
        "created_at": now,
    }


def enqueue_push(
    db: Session,
    *,
    recipient_openid: str,
    kind: PushKind,
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
        push_row(
            kind=kind,
            recipient_openid=recipient_openid,
            payload=payload,
            idempotency_key=idempotency_key,
            now=now,
            resident_id=resident_id,
            expires_at=expires_at,
            not_before=not_before,
        ),
        conflict_columns=["idempotency_key"],
    )


def skip_queued(
    db: Session,
    kind: PushKind,
    reason: str,
    *,
    resident_id: int | None = None,
    **fields: int,
) -> int:
    """Mark the queued pushes of ``kind`` that a change just made stale as skipped with
    ``reason``, in the caller's transaction; returns how many.

    Which ones: those to ``resident_id`` if given, and whose payload ``fields`` hold the
    given values (e.g. ``signup_id=7``). Rows being sent right now are left alone: their
    worker checks again (models/push/policy.py) only if it claims them again.
    """
    condition: ColumnElement[bool] = true()
    if resident_id is not None:
        condition = and_(condition, OutboxMessage.resident_id == resident_id)
    for name, value in fields.items():
        condition = and_(condition, OutboxMessage.payload[("fields", name)].as_integer() == value)
    result = db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.kind == kind, OutboxMessage.status.in_(QUEUED_STATUSES), condition)
        .values(status=OutboxStatus.SKIPPED, last_error=reason, lease_until=None)
    )
    return rowcount(result)


@dataclass(frozen=True)
class Claimed:
    """A claimed row and what delivery needs to know about its recipient."""

    id: int
    kind: str
    recipient_openid: str
    payload: dict[str, Any]
    attempts: int
    expires_at: datetime | None
    resident_id: int | None
    # False only for a resident known to have unfollowed: nothing can reach them.
    subscribed: bool
    broadcast_opt_out: bool
    language: str | None
    last_interaction_at: datetime | None
    last_interaction_kind: str | None


def claim_due(
    db: Session, now: datetime, lease: timedelta, limit: int, paused_kinds: Iterable[str] = ()
) -> list[Claimed]:
    """Lease up to ``limit`` due rows to this worker.

    Due means pending or failed with its attempt time reached, or "sending" under a lease
    that ran out (its worker died). On PostgreSQL, SKIP LOCKED lets several workers claim
    side by side without ever taking the same row; SQLite's BEGIN IMMEDIATE serialises
    claims instead.

    The condition is written so that the partial index ix_outbox_claimable_next_attempt_at
    serves it in claim order, reading one batch instead of sorting every due row: the
    statuses are literals (PostgreSQL matches an index predicate only against constants),
    and a "sending" row is checked against ``next_attempt_at`` too, which changes nothing,
    since it was claimed at a time past its attempt time and its lease ends later still.

    On PostgreSQL the claim is one statement (choose, lease, read with the resident's
    columns), built once, so psycopg prepares it; SQLite cannot update inside a WITH, so
    there it takes three.
    """
    paused = list(paused_kinds)
    values: dict[str, Any] = {"now": now, "limit": limit, "paused": paused}
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        rows = db.execute(_claim_in_one(bool(paused)), {**values, "lease_until": now + lease})
        return [_claimed(row) for row in rows]
    ids = list(db.execute(_choose_due(bool(paused)), values).scalars())
    if not ids:
        return []
    db.execute(_LEASE, {"ids": ids, "lease_until": now + lease})
    return [_claimed(row) for row in db.execute(_READ_CLAIMED, {"ids": ids})]


def _claimed(row: Row[Any]) -> Claimed:
    return Claimed(
        id=row.id,
        kind=row.kind,
        recipient_openid=row.recipient_openid,
        payload=row.payload,
        attempts=row.attempts,
        expires_at=row.expires_at,
        resident_id=row.resident_id,
        subscribed=_not_known_unfollowed(row),
        broadcast_opt_out=bool(row.broadcast_opt_out),
        language=row.language,
        last_interaction_at=row.last_interaction_at,
        last_interaction_kind=row.last_interaction_kind,
    )


def _not_known_unfollowed(row: Row[Any]) -> bool:
    """Whether a push may be tried: no resident row (an openid we never stored), a
    follower, or someone never seen to follow nor to unfollow (a staff openid from
    configuration), whom WeChat's 43004 marks unsubscribed if they cannot receive."""
    return row.subscribed is None or row.subscribed or row.unsubscribed_at is None


@lru_cache(maxsize=2)
def _choose_due(paused: bool) -> Select[Any]:
    """The due rows' ids in claim order, locked; ``paused`` leaves out the kinds in the
    ``paused`` parameter."""
    due = and_(
        OutboxMessage.status.in_(
            bindparam(
                "claimable",
                (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.SENDING),
                expanding=True,
                literal_execute=True,
            )
        ),
        OutboxMessage.next_attempt_at <= bindparam("now"),
        or_(
            OutboxMessage.status != OutboxStatus.SENDING,
            OutboxMessage.lease_until < bindparam("now"),
        ),
    )
    if paused:
        due = and_(due, OutboxMessage.kind.not_in(bindparam("paused", expanding=True)))
    return (
        select(OutboxMessage.id)
        .where(due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )


# Plain columns rather than ORM objects: nothing here changes through the session, and
# building the objects took about a fifth of a claim's CPU.
_CLAIMED_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.kind,
    OutboxMessage.recipient_openid,
    OutboxMessage.payload,
    OutboxMessage.attempts,
    OutboxMessage.expires_at,
    OutboxMessage.resident_id,
    OutboxMessage.next_attempt_at,
)
_RESIDENT_COLUMNS = (
    Resident.subscribed,
    Resident.unsubscribed_at,
    Resident.broadcast_opt_out,
    Resident.language,
    Resident.last_interaction_at,
    Resident.last_interaction_kind,
)
_LEASE_VALUES = {
    "status": OutboxStatus.SENDING,
    "lease_until": bindparam("lease_until", type_=OutboxMessage.lease_until.type),
    "attempts": OutboxMessage.attempts + 1,
}
_LEASE = (
    update(OutboxMessage)
    .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
    .values(_LEASE_VALUES)
)
_READ_CLAIMED = (
    select(*_CLAIMED_COLUMNS, *_RESIDENT_COLUMNS)
    .outerjoin(Resident, Resident.id == OutboxMessage.resident_id)
    .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
)


@lru_cache(maxsize=2)
def _claim_in_one(paused: bool) -> Select[Any]:
    """PostgreSQL: choose, lease and read in one statement. The choice is a CTE, which
    PostgreSQL runs exactly once, so the LIMIT and the locks hold as written."""
    due = _choose_due(paused).cte("due")
    leased = (
        update(OutboxMessage)
        .where(OutboxMessage.id == due.c.id)
        .values(_LEASE_VALUES)
        .returning(*_CLAIMED_COLUMNS)
        .cte("leased")
    )
    return (
        select(leased, *_RESIDENT_COLUMNS)
        .outerjoin(Resident, Resident.id == leased.c.resident_id)
        .order_by(leased.c.next_attempt_at, leased.c.id)
    )


def renew_lease(db: Session, ids: Iterable[int], held_until: datetime, until: datetime) -> set[int]:
    """Extend a worker's lease on its rows from ``held_until`` to ``until``; returns the
    rows renewed. A row whose lease ran out and that another worker claimed since (its
    lease_until changed), or that is no longer being sent, is not this worker's any more."""
    renewed = db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(ids)),
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.lease_until == held_until,
        )
        .values(lease_until=until)
        .returning(OutboxMessage.id)
    )
    return set(renewed.scalars())


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
        KindStatusCount(kind, status, count, _as_utc(oldest))
        for kind, status, count, oldest in rows
    ]


def _as_utc(value: datetime | str | None) -> datetime | None:
    """min() over a UTC column comes back untyped on SQLite; make it aware UTC again."""
    if value is None:
        return None
    return UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]


def retry_dead(db: Session, now: datetime, kind: str | None = None) -> int:
    """Give dead rows a fresh set of attempts (after fixing what killed them)."""
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.DEAD)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, lease_until=None)
    )
    if kind is not None:
        statement = statement.where(OutboxMessage.kind == kind)
    return rowcount(db.execute(statement))
