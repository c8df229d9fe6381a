"""Check-in at the door: by the event's QR code, by the code a resident shows, or by
staff; someone without a place comes in as a walk-in when one is free. Staff add a
walk-in who is not a follower by hand, with the name (and phone) they give: the same
attendance row, without a resident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.events.errors import EventError, EventRefusal, InvalidRule
from models.events.queries import attendance_of, get_event, live_signup, occupancy
from models.events.signups import normalize_mobile, renumber_waitlist
from models.events.tables import (
    CHECKIN_OPENS_BEFORE,
    WALK_IN_NAME_MAX,
    Attendance,
    CheckinMethod,
    Event,
    EventStatus,
    Signup,
    SignupStatus,
)
from models.residents import Resident

QR_SCENE_PREFIX = "checkin:"


@dataclass(frozen=True)
class CheckInResult:
    event: Event
    attendance: Attendance
    first_time: bool

    @property
    def walk_in(self) -> bool:
        return self.attendance.walk_in


def check_in(
    db: Session, event_id: int, resident: Resident, method: str, now: datetime
) -> CheckInResult:
    """Record that a resident came. A confirmed sign-up is checked in with its party;
    anyone else is a walk-in of one if a place is free, giving up any waitlist place.
    Checking in again changes nothing.

    The QR code at the door works only around the event's time; staff may record a
    check-in any time after it opens (e.g. from a paper list afterwards).
    """
    if method not in tuple(CheckinMethod):
        raise ValueError(f"unknown check-in method {method!r}")
    event = get_event(db, event_id, lock=True)
    existing = attendance_of(db, event.id, resident.id)
    if existing is not None:
        return CheckInResult(event=event, attendance=existing, first_time=False)
    _check_open(event, method, now)
    signup = live_signup(db, event.id, resident.id)
    if signup is not None and signup.status == SignupStatus.CONFIRMED:
        attendance = Attendance(
            event_id=event.id,
            resident_id=resident.id,
            signup_id=signup.id,
            checked_in_at=now,
            method=method,
            walk_in=False,
            party_size=signup.party_size,
        )
    else:
        if occupancy(db, event).places_left < 1:
            raise EventError(
                EventRefusal.NO_ROOM,
                f"event {event.id} is full; no walk-in place is left",
                event=event,
            )
        if signup is not None:
            _leave_waitlist_at_the_door(db, event, signup, now)
        attendance = Attendance(
            event_id=event.id,
            resident_id=resident.id,
            signup_id=None,
            checked_in_at=now,
            method=method,
            walk_in=True,
            party_size=1,
        )
    db.add(attendance)
    db.flush()
    return CheckInResult(event=event, attendance=attendance, first_time=True)


def add_walk_in(
    db: Session, event_id: int, name: str, phone: str, party_size: int, now: datetime
) -> CheckInResult:
    """Record someone who came without a sign-up and is not known by WeChat: the name
    they give, a mainland mobile number if they give one, and how many came with them.
    Like any walk-in, the party takes free places and is counted as walked in; staff
    add them from the time check-in opens, as staff check-ins are."""
    name = " ".join(name.split())
    if not name or len(name) > WALK_IN_NAME_MAX:
        raise EventError(
            EventRefusal.INVALID,
            f"a walk-in's name is 1 to {WALK_IN_NAME_MAX} characters",
            rule=InvalidRule.WALK_IN_NAME,
        )
    mobile = normalize_mobile(phone) if phone.strip() else None
    if phone.strip() and mobile is None:
        raise EventError(
            EventRefusal.INVALID,
            f"{phone.strip()!r} is not a mainland mobile number",
            rule=InvalidRule.WALK_IN_PHONE,
        )
    event = get_event(db, event_id, lock=True)
    if party_size < 1 or party_size > event.max_party_size:
        raise EventError(
            EventRefusal.INVALID,
            f"a party is 1 to {event.max_party_size} people at event {event.id}",
            event=event,
            rule=InvalidRule.WALK_IN_PARTY,
        )
    _check_open(event, CheckinMethod.STAFF, now)
    if occupancy(db, event).places_left < party_size:
        raise EventError(
            EventRefusal.NO_ROOM,
            f"event {event.id} has fewer than {party_size} places left",
            event=event,
        )
    attendance = Attendance(
        event_id=event.id,
        resident_id=None,
        signup_id=None,
        checked_in_at=now,
        method=CheckinMethod.STAFF,
        walk_in=True,
        party_size=party_size,
        walk_in_name=name,
        walk_in_phone=mobile,
    )
    db.add(attendance)
    db.flush()
    return CheckInResult(event=event, attendance=attendance, first_time=True)


def _check_open(event: Event, method: str, now: datetime) -> None:
    """Refuse a check-in at an event that is not taking them now: cancelled, a draft, not
    open yet, or (by the QR code at the door) over."""
    if event.status == EventStatus.CANCELLED:
        raise EventError(
            EventRefusal.EVENT_CANCELLED, f"event {event.id} is cancelled", event=event
        )
    if event.status == EventStatus.DRAFT:
        raise EventError(
            EventRefusal.NOT_PUBLISHED, f"event {event.id} is not published", event=event
        )
    if now < event.starts_at - CHECKIN_OPENS_BEFORE:
        raise EventError(
            EventRefusal.CHECKIN_NOT_OPEN,
            f"check-in for event {event.id} has not opened yet",
            event=event,
        )
    if method == CheckinMethod.QR and now > event.checkin_ends_at:
        raise EventError(
            EventRefusal.CHECKIN_CLOSED, f"check-in for event {event.id} is over", event=event
        )


def _leave_waitlist_at_the_door(db: Session, event: Event, signup: Signup, now: datetime) -> None:
    """A waitlisted resident who comes in as a walk-in (their party was waiting for more
    places than the one free) gives up their waitlist place: promoted later, it would
    count them twice and tell them of a place they are already standing in."""
    signup.status = SignupStatus.CANCELLED
    signup.cancelled_at = now
    signup.waitlist_position = None
    db.flush()
    renumber_waitlist(db, event.id)


def check_in_by_code(db: Session, event_id: int, code: str, now: datetime) -> CheckInResult:
    """Staff type the code a resident shows; it checks in whoever holds it. A cancelled
    sign-up's code is refused: the code stands for a place, and that place was given up
    (someone without one comes in as a walk-in, by their openid, if there is room). The
    one exception is a resident already in, so a second look at their code says so."""
    event = get_event(db, event_id)
    code = code.strip()
    signup = db.execute(
        select(Signup).where(Signup.event_id == event.id, Signup.checkin_code == code)
    ).scalar_one_or_none()
    if signup is None:
        raise EventError(
            EventRefusal.UNKNOWN_CODE, f"no sign-up for event {event.id} has code {code!r}"
        )
    if (
        signup.status == SignupStatus.CANCELLED
        and attendance_of(db, event.id, signup.resident_id) is None
    ):
        raise EventError(
            EventRefusal.CANCELLED_CODE,
            f"the sign-up with code {code!r} for event {event.id} was cancelled",
            event=event,
        )
    return check_in(db, event.id, signup.resident, CheckinMethod.CODE, now)
