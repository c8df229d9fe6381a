"""Whether a queued push should still be sent: one policy for the worker and for the
pushes held for their resident's next message.

A change that makes pushes stale marks them skipped when it happens
(models/push/stale.py); this check, just before sending, is the safety net for anything
that changed some other way. It costs no query per row: the opt-out comes with the rows,
and each kind's staleness check runs once for all the rows of that kind in a batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from models.base import vocabulary_constant
from models.push.outbox import OutboxMessage
from models.push.registry import KINDS, PushKind
from models.push.stale import OPTED_OUT
from models.push.stale_checks import STALE_CHECKS
from models.push.vocabulary import Channel, OutboxStatus
from models.residents import Resident

HELD_PER_REPLY = 5


class Queued(Protocol):
    """What the policy reads of a queued row (a claimed row, or a held one)."""

    @property
    def id(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def broadcast_opt_out(self) -> bool: ...


def not_to_send(db: Session, rows: Sequence[Queued]) -> dict[int, str]:
    """Why each of ``rows`` must not go out any more, by row id; rows still worth sending
    are left out. A kind the broadcast opt-out applies to is not sent to a resident who
    opted out; then each kind's own staleness check, once for all its rows."""
    reasons: dict[int, str] = {}
    checked: dict[PushKind, list[int]] = defaultdict(list)
    for row in rows:
        kind = PushKind(row.kind)
        if KINDS[kind].broadcast_opt_out and row.broadcast_opt_out:
            reasons[row.id] = OPTED_OUT
        elif kind in STALE_CHECKS:
            checked[kind].append(row.id)
    for kind, ids in checked.items():
        reasons.update(STALE_CHECKS[kind](db, ids))
    return reasons


def take_held_for_reply(
    db: Session, resident_id: int, now: datetime, limit: int = HELD_PER_REPLY
) -> list[dict[str, Any]]:
    """Payloads of held pushes for a resident who just wrote, marked delivered in the reply.

    At most ``limit`` ride on one reply (WeChat cuts long replies); the rest wait for the
    next. Expired ones are left for the expiry sweep, which records them as expired. One
    the policy finds stale (:func:`not_to_send`: a reminder whose sign-up or event was
    cancelled or whose event moved, a broadcast to a resident who opted out) is recorded
    as skipped instead, as the worker would have, and its place goes to the next held
    push. The webhook asks on every message and nearly always finds nothing, so the
    look-up is one prebuilt statement and the rest runs only when something was found.
    """
    taken: list[dict[str, Any]] = []
    while len(taken) < limit:
        rows = db.execute(
            HELD_FOR_REPLY, {"resident_id": resident_id, "now": now, "limit": limit - len(taken)}
        ).all()
        if not rows:
            break
        stale = not_to_send(db, rows)
        for row_id, reason in stale.items():
            _mark_held_skipped(db, row_id, reason)
        fresh = [row for row in rows if row.id not in stale]
        if fresh:
            db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row.id for row in fresh]))
                .values(status=OutboxStatus.SENT, channel=Channel.REPLY, sent_at=now)
            )
        taken.extend(row.payload for row in fresh)
        if not stale:
            break
    return taken


def _mark_held_skipped(db: Session, row_id: int, reason: str) -> None:
    db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.HELD)
        .values(status=OutboxStatus.SKIPPED, last_error=reason)
    )


# The opt-out is read with the rows (a subquery, not a join, so that FOR UPDATE locks
# only the outbox rows), as the 退订 in this very message has just set it. Public so that
# tests can check its prepared plan (tests/test_prepared_plans.py).
HELD_FOR_REPLY = (
    select(
        OutboxMessage.id,
        OutboxMessage.kind,
        OutboxMessage.payload,
        select(Resident.broadcast_opt_out)
        .where(Resident.id == bindparam("resident_id"))
        .scalar_subquery()
        .label("broadcast_opt_out"),
    )
    .where(
        OutboxMessage.resident_id == bindparam("resident_id"),
        # Written into the SQL, so the partial index of held rows serves the prepared plan.
        OutboxMessage.status == vocabulary_constant(OutboxStatus.HELD),
        or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > bindparam("now")),
    )
    .order_by(OutboxMessage.created_at, OutboxMessage.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
