"""Residents signing up and cancelling, and the waitlist.

Every change to who holds a place first locks the event row (``SELECT ... FOR UPDATE``
on PostgreSQL; on SQLite ``BEGIN IMMEDIATE`` already serialises writers), then counts
and writes in the same transaction. Counting under that lock is what makes overbooking
impossible however many residents press "sign up" at once; a partial unique index (one
live sign-up per event and resident) is the last guard.

Places go in the order they were asked for: nobody who signs up later takes a place
ahead of someone already waiting. While anyone waits, a new sign-up joins the waitlist
even where its party would fit the places left; the waitlist is kept numbered 1..n in
arrival order, and when places free up, waiting sign-ups are confirmed in that order
(and told through the outbox) until the next one's party does not fit.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.events.errors import EventError, EventRefusal
from models.events.notices import promotion_payload
from models.events.queries import attendance_of, get_event, live_signup, occupancy
from models.events.tables import CHECKIN_CODE_DIGITS, Event, EventStatus, Signup, SignupStatus
from models.push import stale
from models.push.registry import PushKind
from models.push.rows import enqueue_push
from models.residents import Resident

MAX_NAME = 64


# Mainland China mobile numbers: 11 digits starting 13-19, optionally written +86 ...
_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


@dataclass(frozen=True)
class SignupResult:
    event: Event
    signup: Signup

    @property
    def waitlisted(self) -> bool:
        return self.signup.status == SignupStatus.WAITLISTED


def has_contact(resident: Resident) -> bool:
    return bool(resident.name and resident.mobile)


def normalize_mobile(value: str) -> str | None:
    """The 11-digit mainland mobile number in ``value`` (spaces, dashes, +86 allowed)."""
    match = _MOBILE.match(re.sub(r"[\s\-()]", "", value))
    return match.group(1) if match else None


def save_contact(resident: Resident, name: str, mobile: str, now: datetime) -> None:
    """Keep the contact details a resident agreed to share, for this and later sign-ups.

    That agreement covers event contact only; the needs privacy notice is still asked
    before their first need (``privacy_consent_at``).
    """
    resident.name = name.strip()[:MAX_NAME]
    resident.mobile = mobile
    resident.contact_consent_at = now


def check_not_signed_up(db: Session, event: Event, resident: Resident) -> None:
    """Refuse a second live sign-up, showing the one the resident has; and refuse one
    who already checked in (a walk-in holds a place, so a sign-up would be a second)."""
    existing = live_signup(db, event.id, resident.id)
    if existing is not None:
        raise EventError(
            EventRefusal.ALREADY_SIGNED_UP,
            f"already signed up for event {event.id}",
            event=event,
            signup=existing,
        )
    if attendance_of(db, event.id, resident.id) is not None:
        raise EventError(
            EventRefusal.ATTENDING,
            f"already checked in to event {event.id} as attending",
            event=event,
        )


def check_party_size(event: Event, party_size: int) -> None:
    if party_size < 1:
        raise EventError(EventRefusal.BAD_PARTY, "the party size must be at least 1", event=event)
    if party_size > event.max_party_size:
        raise EventError(
            EventRefusal.PARTY_TOO_LARGE,
            f"at most {event.max_party_size} people per sign-up for event {event.id}",
            event=event,
        )


def check_open(event: Event, now: datetime) -> None:
    """Refuse sign-ups (and their questions) for an event residents cannot join now."""
    if event.status == EventStatus.CANCELLED:
        raise EventError(
            EventRefusal.EVENT_CANCELLED, f"event {event.id} is cancelled", event=event
        )
    if event.status == EventStatus.FINISHED:
        raise EventError(EventRefusal.EVENT_FINISHED, f"event {event.id} is finished", event=event)
    if event.status != EventStatus.PUBLISHED:
        raise EventError(
            EventRefusal.NOT_PUBLISHED, f"event {event.id} is not published", event=event
        )
    if now >= event.closes_at:
        raise EventError(
            EventRefusal.DEADLINE_PASSED, f"sign-up for event {event.id} is closed", event=event
        )


def sign_up(
    db: Session,
    event_id: int,
    resident: Resident,
    party_size: int,
    now: datetime,
    *,
    join_waitlist: bool = True,
) -> SignupResult:
    """Confirm a place, or a place on the waitlist when the party does not fit the places
    open (none while anyone waits: see the module's docstring).

    With ``join_waitlist=False`` a party that does not fit is refused with
    EventRefusal.FULL and nothing is written, so the chat can offer the places open (come
    with fewer) or the waitlist first.
    """
    event = get_event(db, event_id, lock=True)
    check_open(event, now)
    check_party_size(event, party_size)
    if event.contact_required and not has_contact(resident):
        raise EventError(
            EventRefusal.CONTACT_REQUIRED,
            f"event {event.id} needs a name and mobile number",
            event=event,
        )
    check_not_signed_up(db, event, resident)
    taken = occupancy(db, event)
    fits = party_size <= taken.places_open
    if not fits and not join_waitlist:
        raise EventError(EventRefusal.FULL, f"event {event.id} is full", event=event)
    signup = Signup(
        event_id=event.id,
        resident_id=resident.id,
        party_size=party_size,
        status=SignupStatus.CONFIRMED if fits else SignupStatus.WAITLISTED,
        waitlist_position=None if fits else taken.waitlisted + 1,
        checkin_code=_new_checkin_code(db, event.id),
        created_at=now,
        confirmed_at=now if fits else None,
    )
    db.add(signup)
    db.flush()
    return SignupResult(event=event, signup=signup)


@dataclass(frozen=True)
class CancelResult:
    event: Event
    signup: Signup
    promoted: list[Signup]


def cancel_signup(
    db: Session, event_id: int, resident: Resident, now: datetime, tz: ZoneInfo
) -> CancelResult:
    """Give up a place (or a waitlist place); freed places go to the waitlist at once.

    A resident who has checked in is in the room: their places are not free, so giving
    them to the waitlist would put more people in the room than it holds.
    """
    event = get_event(db, event_id, lock=True)
    if attendance_of(db, event.id, resident.id) is not None:
        raise EventError(
            EventRefusal.CHECKED_IN,
            f"already checked in to event {event.id}; the sign-up can no longer be cancelled",
            event=event,
        )
    signup = live_signup(db, event.id, resident.id)
    if signup is None:
        raise EventError(
            EventRefusal.NOT_SIGNED_UP, f"no sign-up for event {event.id} to cancel", event=event
        )
    if event.status == EventStatus.CANCELLED:
        raise EventError(
            EventRefusal.EVENT_CANCELLED, f"event {event.id} is cancelled", event=event
        )
    if now >= event.starts_at:
        raise EventError(EventRefusal.STARTED, f"event {event.id} has already started", event=event)
    was_confirmed = signup.status == SignupStatus.CONFIRMED
    signup.status = SignupStatus.CANCELLED
    signup.cancelled_at = now
    signup.waitlist_position = None
    stale.signup_cancelled(db, signup.id)
    db.flush()
    promoted = promote_waitlist(db, event, now, tz) if was_confirmed else []
    if not was_confirmed:
        renumber_waitlist(db, event.id)
    return CancelResult(event=event, signup=signup, promoted=promoted)


def promote_waitlist(db: Session, event: Event, now: datetime, tz: ZoneInfo) -> list[Signup]:
    """Confirm waitlisted sign-ups in order while their party fits the places left; a
    party too large for what is free keeps the places for itself, as nobody behind it
    may go first. Called with the event locked."""
    free = occupancy(db, event).places_left
    promoted: list[Signup] = []
    if free > 0:
        for signup in _waitlist(db, event.id):
            if signup.party_size > free:
                break
            signup.status = SignupStatus.CONFIRMED
            signup.confirmed_at = now
            signup.waitlist_position = None
            free -= signup.party_size
            promoted.append(signup)
            _push_promotion(db, event, signup, now, tz)
    if promoted:
        db.flush()
        renumber_waitlist(db, event.id)
    return promoted


def _push_promotion(db: Session, event: Event, signup: Signup, now: datetime, tz: ZoneInfo) -> None:
    enqueue_push(
        db,
        recipient_openid=signup.resident.openid,
        resident_id=signup.resident_id,
        kind=PushKind.PROMOTION,
        payload=promotion_payload(event, signup, tz),
        idempotency_key=f"promotion:{signup.id}",
        now=now,
        expires_at=event.starts_at,
    )


def _waitlist(db: Session, event_id: int) -> list[Signup]:
    return list(
        db.execute(
            select(Signup)
            .where(Signup.event_id == event_id, Signup.status == SignupStatus.WAITLISTED)
            .order_by(Signup.waitlist_position, Signup.id)
        ).scalars()
    )


def renumber_waitlist(db: Session, event_id: int) -> None:
    """Keep positions 1..n in order after someone left the waitlist."""
    for position, signup in enumerate(_waitlist(db, event_id), start=1):
        if signup.waitlist_position != position:
            signup.waitlist_position = position
    db.flush()


def _new_checkin_code(db: Session, event_id: int) -> str:
    """A random code not yet used at this event (the event is locked, so it stays free)."""
    while True:
        code = f"{secrets.randbelow(10**CHECKIN_CODE_DIGITS):0{CHECKIN_CODE_DIGITS}d}"
        used = db.execute(
            select(Signup.id).where(Signup.event_id == event_id, Signup.checkin_code == code)
        ).first()
        if used is None:
            return code
