"""Activities held, sign-ups against attendance, and the attendance rate, counted as
``event_summary`` counts them: people (party sizes), attendance split into those who
came with a confirmed sign-up and walk-ins."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
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
    first."""
    ids = select(Event.id).where(*held_events(scope)).scalar_subquery()
    confirmed = {
        event_id: int(people)
        for event_id, people in db.execute(
            select(Signup.event_id, func.sum(Signup.party_size))
            .where(Signup.event_id.in_(ids), Signup.status == SignupStatus.CONFIRMED)
            .group_by(Signup.event_id)
        )
    }
    came = {
        event_id: (int(attended), int(walk_ins))
        for event_id, attended, walk_ins in db.execute(
            select(
                Attendance.event_id,
                func.sum(case((Attendance.walk_in, 0), else_=Attendance.party_size)),
                func.sum(case((Attendance.walk_in, Attendance.party_size), else_=0)),
            )
            .where(Attendance.event_id.in_(ids))
            .group_by(Attendance.event_id)
        )
    }
    events = db.execute(
        select(Event.id, Event.title, Event.starts_at)
        .where(Event.id.in_(ids))
        .order_by(Event.starts_at, Event.id)
    )
    return [
        HeldEvent(
            event_id,
            title,
            starts_at,
            confirmed.get(event_id, 0),
            *came.get(event_id, (0, 0)),
        )
        for event_id, title, starts_at in events
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
