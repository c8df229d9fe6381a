"""Reading events: one event, the places taken, listings, a resident's events, a roster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import Session, selectinload

from models.base import ID_MAX
from models.events.errors import EventError, EventRefusal
from models.events.tables import (
    LIVE_SIGNUP_STATUSES,
    Attendance,
    Event,
    EventStatus,
    Signup,
    SignupStatus,
)
from models.residents import Resident
from models.villages.queries import in_village


@dataclass(frozen=True)
class Occupancy:
    """Who holds the places of one event right now, in people (waitlisted: sign-ups)."""

    capacity: int
    confirmed: int = 0
    walk_ins: int = 0
    waitlisted: int = 0

    @property
    def places_left(self) -> int:
        return max(0, self.capacity - self.confirmed - self.walk_ins)

    @property
    def places_open(self) -> int:
        """The places a new sign-up may take: none while anyone waits, since places go in
        the order they were asked for (the free ones wait for the waitlist)."""
        return 0 if self.waitlisted else self.places_left


def get_event(db: Session, event_id: int, *, lock: bool = False) -> Event:
    """The event, or EventError(EventRefusal.UNKNOWN_EVENT). ``lock`` takes the row lock
    that every change to places goes through, and reloads the row as the lock found it."""
    if event_id > ID_MAX:
        # No row can have it, and PostgreSQL would refuse the number rather than say so.
        raise EventError(EventRefusal.UNKNOWN_EVENT, f"there is no event {event_id}")
    query = select(Event).where(Event.id == event_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    event = db.execute(query).scalar_one_or_none()
    if event is None:
        raise EventError(EventRefusal.UNKNOWN_EVENT, f"there is no event {event_id}")
    return event


def _occupancy_statement() -> Select[Any]:
    """Places taken per event for the ids bound to ``ids``: built once, because building a
    union of case expressions costs more Python time than PostgreSQL takes to run it."""
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    held = union_all(
        select(
            Signup.event_id.label("event_id"),
            case((Signup.status == SignupStatus.CONFIRMED, Signup.party_size), else_=0).label(
                "confirmed"
            ),
            case((Signup.status == SignupStatus.WAITLISTED, 1), else_=0).label("waitlisted"),
            literal(0).label("walk_ins"),
        ).where(Signup.event_id.in_(ids), Signup.status.in_(LIVE_SIGNUP_STATUSES)),
        select(Attendance.event_id, literal(0), literal(0), Attendance.party_size).where(
            Attendance.event_id.in_(ids), Attendance.walk_in
        ),
    ).subquery()
    return select(
        held.c.event_id,
        func.sum(held.c.confirmed).label("confirmed"),
        func.sum(held.c.waitlisted).label("waitlisted"),
        func.sum(held.c.walk_ins).label("walk_ins"),
    ).group_by(held.c.event_id)


OCCUPANCY = _occupancy_statement()


def occupancies(db: Session, events: Sequence[Event]) -> dict[int, Occupancy]:
    """Places taken per event, in one grouped query whatever the number of events."""
    if not events:
        return {}
    counts = {row.event_id: row for row in db.execute(OCCUPANCY, {"ids": [e.id for e in events]})}
    result: dict[int, Occupancy] = {}
    for event in events:
        row = counts.get(event.id)
        result[event.id] = Occupancy(
            capacity=event.capacity,
            confirmed=int(row.confirmed or 0) if row else 0,
            waitlisted=int(row.waitlisted or 0) if row else 0,
            walk_ins=int(row.walk_ins or 0) if row else 0,
        )
    return result


def occupancy(db: Session, event: Event) -> Occupancy:
    return occupancies(db, [event])[event.id]


def upcoming_events(db: Session, now: datetime, *, offset: int = 0, limit: int = 5) -> list[Event]:
    """Published events that have not started, soonest first."""
    return list(
        db.execute(
            select(Event)
            .where(Event.status == EventStatus.PUBLISHED, Event.starts_at > now)
            .order_by(Event.starts_at, Event.id)
            .offset(offset)
            .limit(limit)
        ).scalars()
    )


def list_events(
    db: Session, now: datetime, *, upcoming: bool = False, village_id: int | None = None
) -> list[Event]:
    """Every event for staff (newest start first), or only those still to come; in one
    village (its groups included) when given."""
    query = select(Event)
    if village_id is not None:
        query = query.where(in_village(Event.village_id, village_id))
    if upcoming:
        query = query.where(
            Event.starts_at > now, Event.status.in_((EventStatus.DRAFT, EventStatus.PUBLISHED))
        )
        return list(db.execute(query.order_by(Event.starts_at, Event.id)).scalars())
    return list(db.execute(query.order_by(Event.starts_at.desc(), Event.id.desc())).scalars())


def live_signup(db: Session, event_id: int, resident_id: int) -> Signup | None:
    return db.execute(
        select(Signup).where(
            Signup.event_id == event_id,
            Signup.resident_id == resident_id,
            Signup.status.in_(LIVE_SIGNUP_STATUSES),
        )
    ).scalar_one_or_none()


def attendance_of(db: Session, event_id: int, resident_id: int) -> Attendance | None:
    return db.execute(
        select(Attendance).where(
            Attendance.event_id == event_id, Attendance.resident_id == resident_id
        )
    ).scalar_one_or_none()


def resident_signups(
    db: Session, resident_id: int, since: datetime, limit: int = 10
) -> list[tuple[Signup | None, Event, Attendance | None]]:
    """A resident's events starting after ``since``, soonest first, one row each: the
    live sign-up, else the latest cancelled one, with the check-in when there is one.
    A walk-in (checked in without signing up) is listed too, with no sign-up.

    The limit counts events, not sign-up rows, and events where the resident holds a
    place or came are kept before those they only cancelled: signing up and cancelling
    again and again must never push a live sign-up out of the list.
    """
    mine = union(
        select(Signup.event_id.label("event_id")).where(Signup.resident_id == resident_id),
        select(Attendance.event_id.label("event_id")).where(Attendance.resident_id == resident_id),
    ).subquery()
    latest_first = func.row_number().over(
        partition_by=Signup.event_id,
        order_by=(case((Signup.status == SignupStatus.CANCELLED, 1), else_=0), Signup.id.desc()),
    )
    latest = (
        select(
            Signup.id.label("signup_id"),
            Signup.event_id.label("event_id"),
            latest_first.label("pick"),
        )
        .join(Event, Event.id == Signup.event_id)
        .where(Signup.resident_id == resident_id, Event.starts_at >= since)
        .subquery()
    )
    # A walk-in has no sign-up (its status is NULL): it came, so it is never "only cancelled".
    only_cancelled = and_(Signup.status == SignupStatus.CANCELLED, Attendance.id.is_(None))
    rows = db.execute(
        select(Signup, Event, Attendance)
        .select_from(mine)
        .join(Event, Event.id == mine.c.event_id)
        .outerjoin(latest, and_(latest.c.event_id == Event.id, latest.c.pick == 1))
        .outerjoin(Signup, Signup.id == latest.c.signup_id)
        .outerjoin(
            Attendance,
            (Attendance.event_id == Event.id) & (Attendance.resident_id == resident_id),
        )
        .where(Event.starts_at >= since, or_(Signup.id.is_not(None), Attendance.id.is_not(None)))
        .order_by(case((only_cancelled, 1), else_=0), Event.starts_at, Event.id)
        .limit(limit)
    ).all()
    return [
        (signup, event, attendance)
        for signup, event, attendance in sorted(rows, key=lambda row: (row[1].starts_at, row[1].id))
    ]


@dataclass(frozen=True)
class Roster:
    event: Event
    confirmed: list[Signup]
    waitlist: list[Signup]
    attendance: list[Attendance]


def roster(db: Session, event_id: int) -> Roster:
    """Who is coming (in sign-up order), who waits (in waitlist order), who came."""
    event = get_event(db, event_id)
    signups = list(
        db.execute(
            select(Signup)
            .where(Signup.event_id == event_id, Signup.status.in_(LIVE_SIGNUP_STATUSES))
            .order_by(Signup.confirmed_at, Signup.id)
            .options(selectinload(Signup.resident))
        ).scalars()
    )
    attendance = list(
        db.execute(
            select(Attendance)
            .where(Attendance.event_id == event_id)
            .order_by(Attendance.checked_in_at, Attendance.id)
            .options(selectinload(Attendance.resident))
        ).scalars()
    )
    return Roster(
        event=event,
        confirmed=[s for s in signups if s.status == SignupStatus.CONFIRMED],
        waitlist=sorted(
            (s for s in signups if s.status == SignupStatus.WAITLISTED),
            key=lambda s: s.waitlist_position or 0,
        ),
        attendance=attendance,
    )


def live_signups(db: Session, event_id: int) -> list[tuple[Signup, Resident]]:
    """The event's confirmed and waitlisted sign-ups with their residents, in sign-up
    order: the people a cancellation or a change of time or place is told to."""
    rows = db.execute(
        select(Signup, Resident)
        .join(Resident, Resident.id == Signup.resident_id)
        .where(Signup.event_id == event_id, Signup.status.in_(LIVE_SIGNUP_STATUSES))
        .order_by(Signup.id)
    ).all()
    return [(signup, resident) for signup, resident in rows]
