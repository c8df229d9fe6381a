"""Activities held, sign-ups against attendance, and the attendance rate, counted as
``event_summary`` counts them: people (party sizes), attendance split into those who
came with a confirmed sign-up and walk-ins."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, ScalarSelect, SQLColumnExpression, case, func, select
from sqlalchemy.orm import Session

from models.events.tables import Attendance, Event, Signup, SignupStatus
from models.impact.period import local_month
from models.impact.scope import ImpactScope, held_events

RATE_DECIMALS = 3


def attendance_rate(attended: int, confirmed: int) -> float | None:
    """attended / confirmed as the view rounds it; none when nobody was confirmed."""
    return round(attended / confirmed, RATE_DECIMALS) if confirmed else None


@dataclass(frozen=True)
class EventFigures:
    """One event's, or a month's, or the period's sign-ups and attendance."""

    label: str
    events: int
    confirmed: int
    attended: int
    walk_ins: int

    @property
    def attendance_rate(self) -> float | None:
        return attendance_rate(self.attended, self.confirmed)


@dataclass(frozen=True)
class HeldEvent:
    event_id: int
    title: str
    starts_at: datetime
    confirmed: int
    attended: int
    walk_ins: int


def held_event_rows(db: Session, scope: ImpactScope) -> list[HeldEvent]:
    """Each event held in the period with its confirmed sign-ups and attendance, oldest
    first, in one query.

    Each event's sums are subqueries of its own over the indexes that hold what they add
    up (``ix_signup_event_id_status``, ``ix_attendance_event_id_walk_in_party_size``):
    a few dozen index entries an event. Summed as one join over every sign-up of the
    period instead, PostgreSQL hashed half a million rows read from the table for a
    year (bench/README.md, Dashboard)."""

    def summed(column: SQLColumnExpression[int], *where: ColumnElement[bool]) -> ScalarSelect[int]:
        return select(func.coalesce(func.sum(column), 0)).where(*where).scalar_subquery()

    confirmed = summed(
        Signup.party_size, Signup.event_id == Event.id, Signup.status == SignupStatus.CONFIRMED
    )
    came = Attendance.event_id == Event.id
    attended = summed(case((Attendance.walk_in, 0), else_=Attendance.party_size), came)
    walk_ins = summed(case((Attendance.walk_in, Attendance.party_size), else_=0), came)
    query = (
        select(Event.id, Event.title, Event.starts_at, confirmed, attended, walk_ins)
        .where(*held_events(scope))
        .order_by(Event.starts_at, Event.id)
    )
    return [
        HeldEvent(event_id, title, starts_at, int(people), int(came_with), int(walked_in))
        for event_id, title, starts_at, people, came_with, walked_in in db.execute(query)
    ]


def total(rows: list[HeldEvent], label: str = "") -> EventFigures:
    return EventFigures(
        label,
        len(rows),
        sum(row.confirmed for row in rows),
        sum(row.attended for row in rows),
        sum(row.walk_ins for row in rows),
    )


def by_month(rows: list[HeldEvent], tz: ZoneInfo) -> list[EventFigures]:
    """The period's events month by month (local months), oldest first."""
    months: dict[str, list[HeldEvent]] = defaultdict(list)
    for row in rows:
        months[local_month(row.starts_at, tz)].append(row)
    return [total(months[month], month) for month in sorted(months)]
