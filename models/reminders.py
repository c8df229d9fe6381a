"""Which reminders are due, found from SQL each minute, and queued once each.

A reminder is due ``offset`` before its event starts, for every confirmed sign-up of a
published event. Each (sign-up, offset, start time) is decided once and recorded in the
``reminder`` table: queued (an outbox row that expires when the event starts), or skipped
with a reason. Only the latest due offset of a sign-up is sent, so a resident who signs
up an hour before the start, or whose reminders piled up while the scheduler was down,
gets one reminder, not two at once.

The sweep is set-based: SQL returns only sign-ups with a due reminder still undecided
(so a steady tick reads almost nothing), and the decisions are written with one bulk
insert per table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ForeignKey,
    Integer,
    Row,
    Select,
    String,
    Table,
    UniqueConstraint,
    any_,
    bindparam,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, check_one_of, local_text
from models.bulk import insert_rows
from models.events.notices import confirmed_push_text
from models.events.tables import Event, EventStatus, Signup, SignupStatus
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.push.rows import push_row
from models.push.stale import EVENT_MOVED, SIGNUP_CANCELLED, event_not_on
from models.residents import Resident

# How far back a tick looks for reminders nobody decided (the scheduler was down).
MISSED_LOOKBACK = timedelta(days=2)


class ReminderDecision(StrEnum):
    """What a tick decided for a due reminder (``reminder.status``): its push queued, or
    skipped because the event had begun while nothing ran."""

    QUEUED = "queued"
    SKIPPED = "skipped"


class Reminder(Base):
    """One reminder of one sign-up at one offset before one start time.

    The start time is part of the key, so an event that moves gets fresh reminders and a
    reminder for its old time is never sent; a reminder that fell due while nothing ran
    and whose event has begun is recorded as skipped rather than sent late.
    """

    __tablename__ = "reminder"
    __table_args__ = (
        check_one_of("status", ReminderDecision),
        UniqueConstraint("signup_id", "offset_minutes", "event_starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signup.id"), index=True)
    offset_minutes: Mapped[int] = mapped_column(Integer)
    event_starts_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class Sweep:
    queued: int
    skipped: int


def queue_due_reminders(
    db: Session, now: datetime, offsets_h: Sequence[float], tz: ZoneInfo
) -> Sweep:
    offsets = sorted({round(h * 60) for h in offsets_h})
    if not offsets:
        return Sweep(0, 0)
    candidates = _undecided(db, now, offsets)
    decided = _decided(db, [row.signup_id for row in candidates])
    to_queue: list[tuple[Row[Any], int]] = []
    to_skip: list[tuple[Row[Any], int]] = []
    for row in candidates:
        due = [m for m in offsets if row.starts_at - timedelta(minutes=m) <= now]
        for minutes in due:
            if (minutes, row.starts_at) in decided[row.signup_id]:
                continue
            if _skip_reason(row, minutes, due, now) is None:
                to_queue.append((row, minutes))
            else:
                to_skip.append((row, minutes))
    outbox_ids = _queue_pushes(db, to_queue, now, tz)
    decisions = [
        _decision(row, minutes, ReminderDecision.QUEUED, now, outbox_id)
        for (row, minutes), outbox_id in zip(to_queue, outbox_ids, strict=True)
    ] + [_decision(row, minutes, ReminderDecision.SKIPPED, now, None) for row, minutes in to_skip]
    insert_rows(db, cast(Table, Reminder.__table__), decisions)
    return Sweep(len(to_queue), len(to_skip))


def _undecided(db: Session, now: datetime, offsets: list[int]) -> list[Row[Any]]:
    """Confirmed sign-ups of published events with a due reminder not yet decided."""
    due_count = sum(
        (case((Event.starts_at <= now + timedelta(minutes=m), 1), else_=0) for m in offsets),
        start=literal(0),
    )
    decided_count = (
        select(func.count())
        .where(
            Reminder.signup_id == Signup.id,
            Reminder.event_starts_at == Event.starts_at,
        )
        .correlate(Signup, Event)
        .scalar_subquery()
    )
    rows: list[Row[Any]] = list(
        db.execute(
            select(
                Signup.id.label("signup_id"),
                Signup.checkin_code,
                Signup.confirmed_at,
                Signup.created_at,
                Event.id.label("event_id"),
                Event.title,
                Event.place,
                Event.starts_at,
                Resident.id.label("resident_id"),
                Resident.openid,
            )
            .join(Event, Event.id == Signup.event_id)
            .join(Resident, Resident.id == Signup.resident_id)
            .where(
                Event.status == EventStatus.PUBLISHED,
                Event.starts_at > now - MISSED_LOOKBACK,
                Event.starts_at <= now + timedelta(minutes=offsets[-1]),
                Signup.status == SignupStatus.CONFIRMED,
                due_count > decided_count,
            )
        )
    )
    return rows


def _decided(db: Session, signup_ids: list[int]) -> dict[int, set[tuple[int, datetime]]]:
    decided: dict[int, set[tuple[int, datetime]]] = defaultdict(set)
    statement = _decided_statement(db.get_bind().dialect.name)
    for chunk_start in range(0, len(signup_ids), 5000):
        chunk = signup_ids[chunk_start : chunk_start + 5000]
        for signup_id, minutes, starts_at in db.execute(statement, {"ids": chunk}):
            decided[signup_id].add((minutes, starts_at))
    return decided


@lru_cache(maxsize=2)
def _decided_statement(dialect: str) -> Select[int, int, datetime]:
    """Built once. On PostgreSQL the ids travel as one array: spelling out an IN list of
    thousands of values made the first tick's look-up take 38-47 ms instead of 12-16."""
    ids = (
        Reminder.signup_id == any_(bindparam("ids", type_=postgresql.ARRAY(Integer)))
        if dialect == "postgresql"
        else Reminder.signup_id.in_(bindparam("ids", expanding=True))
    )
    return select(Reminder.signup_id, Reminder.offset_minutes, Reminder.event_starts_at).where(ids)


def _skip_reason(row: Row[Any], minutes: int, due: list[int], now: datetime) -> str | None:
    if row.starts_at <= now:
        return "the event had started"
    confirmed_at = row.confirmed_at or row.created_at
    if row.starts_at - timedelta(minutes=minutes) < confirmed_at:
        return "signed up after it was due"
    if minutes != min(due):
        return "a later reminder is due too"
    return None


def _queue_pushes(
    db: Session, to_queue: list[tuple[Row[Any], int]], now: datetime, tz: ZoneInfo
) -> list[int]:
    """One outbox row per reminder, in one statement; ids in the order given.

    A second sweep racing this one (two `scheduler --once` crons) makes this insert fail
    on the unique idempotency key, rolling its whole sweep back; the first one's stands.
    """
    if not to_queue:
        return []
    rows = [_push_row(row, minutes, now, tz) for row, minutes in to_queue]
    table = cast(Table, OutboxMessage.__table__)
    stored = insert_rows(db, table, rows, returning=("idempotency_key", "id"))
    ids = {row.idempotency_key: row.id for row in stored}
    return [ids[row["idempotency_key"]] for row in rows]


def _push_row(row: Row[Any], minutes: int, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    return push_row(
        kind=PushKind.REMINDER,
        recipient_openid=row.openid,
        payload=reminder_payload(row, tz),
        idempotency_key=f"reminder:{row.signup_id}:{minutes}m:{row.starts_at.isoformat()}",
        now=now,
        resident_id=row.resident_id,
        expires_at=row.starts_at,
    )


def reminder_payload(row: Any, tz: ZoneInfo) -> dict[str, Any]:
    """A reminder's text and template values (models/push/registry.py)
    from a due sign-up's row: event_id, signup_id, title, starts_at, place, checkin_code."""
    when = local_text(row.starts_at, tz)
    return {
        "text": confirmed_push_text(
            "push_event_reminder", row.event_id, row.title, when, row.place, row.checkin_code
        ),
        "fields": {
            "event_id": row.event_id,
            "signup_id": row.signup_id,
            "title": row.title,
            "starts_at": when,
            # A template shows no place as nothing, never as "None".
            "place": row.place or "",
            "checkin_code": row.checkin_code,
        },
    }


def _decision(
    row: Row[Any], minutes: int, status: str, now: datetime, outbox_id: int | None
) -> dict[str, Any]:
    return {
        "signup_id": row.signup_id,
        "offset_minutes": minutes,
        "event_starts_at": row.starts_at,
        "status": status,
        "outbox_id": outbox_id,
        "created_at": now,
    }


def stale_reminders(db: Session, outbox_ids: Sequence[int]) -> dict[int, str]:
    """Why each of these queued reminders must not go out any more, by outbox id; those
    still worth sending are left out. One query for a whole batch.

    The change that made a reminder stale (its sign-up cancelled, its event cancelled or
    moved) marked it skipped when it happened; this is the check just before sending, in
    case anything changed the sign-up or event some other way.
    """
    if not outbox_ids:
        return {}
    rows = db.execute(
        select(
            Reminder.outbox_id,
            Reminder.event_starts_at,
            Signup.status.label("signup_status"),
            Event.status.label("event_status"),
            Event.starts_at,
        )
        .join(Signup, Signup.id == Reminder.signup_id)
        .join(Event, Event.id == Signup.event_id)
        .where(Reminder.outbox_id.in_(list(outbox_ids)))
    ).all()
    reasons: dict[int, str] = {}
    for row in rows:
        if row.signup_status != SignupStatus.CONFIRMED:
            reasons[row.outbox_id] = SIGNUP_CANCELLED
        elif row.event_status != EventStatus.PUBLISHED:
            reasons[row.outbox_id] = event_not_on(row.event_status)
        elif row.starts_at != row.event_starts_at:
            reasons[row.outbox_id] = EVENT_MOVED
    return reasons
