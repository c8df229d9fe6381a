"""Claiming due outbox rows under a lease, and renewing it while they are sent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, or_, select, true, update
from sqlalchemy.orm import Session

from models.base import vocabulary_constant
from models.push.outbox import OutboxMessage
from models.push.vocabulary import OutboxStatus
from models.residents import Resident


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
        rows = db.execute(claim_statement(bool(paused)), {**values, "lease_until": now + lease})
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
            [
                vocabulary_constant(status)
                for status in (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.SENDING)
            ]
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
def claim_statement(paused: bool) -> Select[Any]:
    """PostgreSQL: choose, lease and read in one statement. The choice is a CTE, which
    PostgreSQL runs exactly once, so the LIMIT and the locks hold as written.

    Each row's resident is read by primary key in a LATERAL subquery with LIMIT 1 (the
    id is unique, so the limit changes nothing), which PostgreSQL cannot fold into a
    plain join. As a plain join, the planner's costs made it hash the batch and read the
    whole resident table at every claim whenever that table was smaller than some tens
    of thousands of rows: 20,000 residents read for a batch of 100, 5.3 ms a claim
    against 0.6 ms for the 100 look-ups."""
    due = _choose_due(paused).cte("due")
    leased = (
        update(OutboxMessage)
        .where(OutboxMessage.id == due.c.id)
        .values(_LEASE_VALUES)
        .returning(*_CLAIMED_COLUMNS)
        .cte("leased")
    )
    recipient = (
        select(*_RESIDENT_COLUMNS)
        .where(Resident.id == leased.c.resident_id)
        .limit(1)
        .lateral("recipient")
    )
    return (
        select(leased, recipient)
        .outerjoin(recipient, true())
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


def release_lease(db: Session, ids: Iterable[int], held_until: datetime) -> None:
    """Give back rows this worker leased (until ``held_until``) but will not send: due
    again at once, their attempt refunded, as if never claimed. A row another worker
    claimed since is left alone."""
    db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(ids)),
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.lease_until == held_until,
        )
        .values(status=OutboxStatus.PENDING, lease_until=None, attempts=OutboxMessage.attempts - 1)
    )
