"""Co-building events: publishing, sign-ups with a waitlist, and check-in.

Every change to who holds a place (sign-up, cancellation, promotion, walk-in, a new
capacity) first locks the event row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite
``BEGIN IMMEDIATE`` already serialises writers), then counts and writes in the same
transaction. Counting under that lock is what makes overbooking impossible however many
residents press "sign up" at once; a partial unique index (one live sign-up per event and
resident) is the last guard.

Capacity counts people: a confirmed sign-up holds ``party_size`` places and a walk-in
holds one. The waitlist is kept numbered 1..n in arrival order; when places free up, the
first waitlisted sign-up whose party fits is confirmed and told through the outbox.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    text,
    union,
    union_all,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from models.base import Base, CreatedAtMixin, local_text, rowcount
from models.needs import ID_MAX, Partner
from models.push import stale
from models.push.outbox import enqueue_push
from models.push.vocabulary import PushKind
from models.residents import Resident

DRAFT = "draft"
PUBLISHED = "published"
CANCELLED = "cancelled"
FINISHED = "finished"
EVENT_STATUSES = (DRAFT, PUBLISHED, CANCELLED, FINISHED)

CONFIRMED = "confirmed"
WAITLISTED = "waitlisted"
SIGNUP_CANCELLED = "cancelled"
SIGNUP_STATUSES = (CONFIRMED, WAITLISTED, SIGNUP_CANCELLED)
LIVE_SIGNUP_STATUSES = (CONFIRMED, WAITLISTED)

CHECKIN_QR = "qr"
CHECKIN_CODE = "code"
CHECKIN_STAFF = "staff"
CHECKIN_METHODS = (CHECKIN_QR, CHECKIN_CODE, CHECKIN_STAFF)

# The QR code at the door works from a little before the start until a while after the
# end; an event without an end is taken to last this long.
CHECKIN_OPENS_BEFORE = timedelta(hours=2)
CHECKIN_CLOSES_AFTER = timedelta(hours=2)
DEFAULT_DURATION = timedelta(hours=3)

# How far ahead staff may set a time (an event's start or end, a broadcast's --at): a
# club plans weeks or months ahead, so a time past a year (366 days, for leap years) is a
# typo such as 2062 for 2026; and near year 9999 the check-in window, the reminders and a
# broadcast's quota periods would not fit in a datetime at all.
SCHEDULE_HORIZON = timedelta(days=366)

# A cancellation notice is worth sending until the event would have begun; once it has
# begun (rain called it off mid-way), people on their way or already there still need to
# hear, so the notice lives until the event's end, and at least this long.
LATE_CANCEL_NOTICE_WINDOW = timedelta(hours=3)

CHECKIN_CODE_DIGITS = 6
MAX_TITLE = 200
MAX_PLACE = 200
MAX_TAG = 32
MAX_NAME = 64
QR_SCENE_PREFIX = "checkin:"

# Mainland China mobile numbers: 11 digits starting 13-19, optionally written +86 ...
_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")

# Reasons a request is refused; the chat and the CLI turn them into their own words.
UNKNOWN_EVENT = "unknown_event"
NOT_PUBLISHED = "not_published"
EVENT_CANCELLED = "event_cancelled"
EVENT_FINISHED = "event_finished"
DEADLINE_PASSED = "deadline_passed"
ALREADY_SIGNED_UP = "already_signed_up"
BAD_PARTY = "bad_party"
PARTY_TOO_LARGE = "party_too_large"
CONTACT_REQUIRED = "contact_required"
FULL = "full"
NOT_SIGNED_UP = "not_signed_up"
STARTED = "started"
CHECKED_IN = "checked_in"
ATTENDING = "attending"
CHECKIN_NOT_OPEN = "checkin_not_open"
CHECKIN_CLOSED = "checkin_closed"
NO_ROOM = "no_room"
UNKNOWN_CODE = "unknown_code"
CANCELLED_CODE = "cancelled_code"
UNKNOWN_PARTNER = "unknown_partner"
INVALID = "invalid"


class EventError(Exception):
    """A request an event's rules refuse. ``reason`` is one of the constants above; the
    message is one English line for staff; ``event``/``signup`` say what it was about."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        event: Event | None = None,
        signup: Signup | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.event = event
        self.signup = signup


event_partner = Table(
    "event_partner",
    Base.metadata,
    Column(
        "event_id", ForeignKey("event.id", ondelete="CASCADE"), primary_key=True, nullable=False
    ),
    Column("partner_id", ForeignKey("partner.id"), primary_key=True, nullable=False, index=True),
)


class EventTag(Base):
    """An audience an event is for (women, children, elderly, volunteers...)."""

    __tablename__ = "event_tag"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(MAX_TAG), primary_key=True, index=True)


class Event(CreatedAtMixin, Base):
    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_status_starts_at", "status", "starts_at"),
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("max_party_size >= 1", name="max_party_size"),
        CheckConstraint("status IN ('draft', 'published', 'cancelled', 'finished')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(MAX_PLACE), default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    capacity: Mapped[int] = mapped_column(Integer)
    signup_deadline: Mapped[datetime | None]
    max_party_size: Mapped[int] = mapped_column(Integer, default=1)
    contact_required: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    published_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None]

    tag_rows: Mapped[list[EventTag]] = relationship(
        cascade="all, delete-orphan", order_by=EventTag.tag
    )
    partners: Mapped[list[Partner]] = relationship(secondary=event_partner, order_by=Partner.name)

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]

    @property
    def closes_at(self) -> datetime:
        """Sign-ups close at the deadline, or at the start when there is none."""
        return self.signup_deadline or self.starts_at

    @property
    def over_at(self) -> datetime:
        """Its end, or the usual length after its start when no end was given."""
        return self.ends_at or self.starts_at + DEFAULT_DURATION

    @property
    def checkin_ends_at(self) -> datetime:
        return self.over_at + CHECKIN_CLOSES_AFTER


class Signup(Base):
    __tablename__ = "signup"
    __table_args__ = (
        # One live sign-up per event and resident; cancelled ones stay as history.
        Index(
            "uq_signup_event_id_resident_id_live",
            "event_id",
            "resident_id",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        UniqueConstraint("event_id", "checkin_code", name="uq_signup_event_id_checkin_code"),
        # Covers the count of places taken, so it needs no table reads.
        Index("ix_signup_event_id_status", "event_id", "status", "party_size"),
        CheckConstraint("party_size >= 1", name="party_size"),
        CheckConstraint("status IN ('confirmed', 'waitlisted', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))
    waitlist_position: Mapped[int | None] = mapped_column(Integer)
    checkin_code: Mapped[str] = mapped_column(String(CHECKIN_CODE_DIGITS))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship()
    resident: Mapped[Resident] = relationship()


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("event_id", "resident_id", name="uq_attendance_event_id_resident_id"),
        # Walk-ins hold places; this small index finds them without reading every check-in.
        Index(
            "ix_attendance_event_id_walk_in",
            "event_id",
            "party_size",
            sqlite_where=text("walk_in"),
            postgresql_where=text("walk_in"),
        ),
        CheckConstraint("method IN ('qr', 'code', 'staff')", name="method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    signup_id: Mapped[int | None] = mapped_column(ForeignKey("signup.id"))
    checked_in_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(8))
    walk_in: Mapped[bool] = mapped_column(Boolean, default=False)
    party_size: Mapped[int] = mapped_column(Integer, default=1)

    resident: Mapped[Resident] = relationship()


# Reading -------------------------------------------------------------------------------


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


def get_event(db: Session, event_id: int, *, lock: bool = False) -> Event:
    """The event, or EventError(UNKNOWN_EVENT). ``lock`` takes the row lock that every
    change to places goes through, and reloads the row as the lock found it."""
    if event_id > ID_MAX:
        # No row can have it, and PostgreSQL would refuse the number rather than say so.
        raise EventError(UNKNOWN_EVENT, f"there is no event {event_id}")
    query = select(Event).where(Event.id == event_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    event = db.execute(query).scalar_one_or_none()
    if event is None:
        raise EventError(UNKNOWN_EVENT, f"there is no event {event_id}")
    return event


def _occupancy_statement() -> Select[Any]:
    """Places taken per event for the ids bound to ``ids``: built once, because building a
    union of case expressions costs more Python time than PostgreSQL takes to run it."""
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    held = union_all(
        select(
            Signup.event_id.label("event_id"),
            case((Signup.status == CONFIRMED, Signup.party_size), else_=0).label("confirmed"),
            case((Signup.status == WAITLISTED, 1), else_=0).label("waitlisted"),
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
            .where(Event.status == PUBLISHED, Event.starts_at > now)
            .order_by(Event.starts_at, Event.id)
            .offset(offset)
            .limit(limit)
        ).scalars()
    )


def list_events(db: Session, now: datetime, *, upcoming: bool = False) -> list[Event]:
    """Every event for staff (newest start first), or only those still to come."""
    query = select(Event)
    if upcoming:
        query = query.where(Event.starts_at > now, Event.status.in_((DRAFT, PUBLISHED)))
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
        order_by=(case((Signup.status == SIGNUP_CANCELLED, 1), else_=0), Signup.id.desc()),
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
    only_cancelled = and_(Signup.status == SIGNUP_CANCELLED, Attendance.id.is_(None))
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
        confirmed=[s for s in signups if s.status == CONFIRMED],
        waitlist=sorted(
            (s for s in signups if s.status == WAITLISTED),
            key=lambda s: s.waitlist_position or 0,
        ),
        attendance=attendance,
    )


# Staff: creating and changing events ------------------------------------------------------


def normalize_tags(tags: Iterable[str]) -> list[str]:
    result: list[str] = []
    for tag in tags:
        cleaned = tag.strip().lower()
        if not cleaned:
            raise EventError(INVALID, "a tag cannot be empty")
        if len(cleaned) > MAX_TAG:
            raise EventError(INVALID, f"tag {cleaned!r} is longer than {MAX_TAG} characters")
        if cleaned not in result:
            result.append(cleaned)
    return result


def find_partners(db: Session, names: Iterable[str]) -> list[Partner]:
    """Partners by their exact names; an unknown name is refused, naming it."""
    partners: list[Partner] = []
    for name in names:
        partner = db.execute(
            select(Partner).where(Partner.name == name.strip())
        ).scalar_one_or_none()
        if partner is None:
            raise EventError(UNKNOWN_PARTNER, f"there is no partner named {name.strip()!r}")
        if partner not in partners:
            partners.append(partner)
    return partners


def _validate(
    event: Event,
    now: datetime,
    *,
    start_changed: bool,
    end_changed: bool,
    deadline_changed: bool,
) -> None:
    """The rules every event keeps; the start and deadline may not move into the past, nor
    the start or end beyond :data:`SCHEDULE_HORIZON`. Only changed times are checked, so
    an event stored before a rule can still be edited."""
    if not event.title.strip():
        raise EventError(INVALID, "the title cannot be empty")
    if len(event.title) > MAX_TITLE:
        raise EventError(INVALID, f"the title is longer than {MAX_TITLE} characters")
    if len(event.place) > MAX_PLACE:
        raise EventError(INVALID, f"the place is longer than {MAX_PLACE} characters")
    if start_changed and event.starts_at <= now:
        raise EventError(INVALID, "the start time is in the past")
    if start_changed and event.starts_at > now + SCHEDULE_HORIZON:
        raise EventError(INVALID, "the start time is more than a year ahead")
    if end_changed and event.ends_at is not None and event.ends_at > now + SCHEDULE_HORIZON:
        raise EventError(INVALID, "the end time is more than a year ahead")
    if event.ends_at is not None and event.ends_at <= event.starts_at:
        raise EventError(INVALID, "the end time must be after the start time")
    if event.capacity < 1:
        raise EventError(INVALID, "capacity must be at least 1")
    if event.capacity > ID_MAX:
        # The column is an integer; PostgreSQL would refuse more with a traceback.
        raise EventError(INVALID, f"capacity must be at most {ID_MAX}")
    if event.max_party_size < 1:
        raise EventError(INVALID, "the maximum party size must be at least 1")
    if event.max_party_size > event.capacity:
        raise EventError(
            INVALID,
            f"the maximum party size ({event.max_party_size}) is larger than the capacity "
            f"({event.capacity})",
        )
    if event.signup_deadline is not None:
        if event.signup_deadline > event.starts_at:
            raise EventError(INVALID, "the sign-up deadline must not be after the start time")
        if deadline_changed and event.signup_deadline <= now:
            raise EventError(INVALID, "the sign-up deadline is in the past")


def create_event(
    db: Session,
    *,
    title: str,
    starts_at: datetime,
    capacity: int,
    now: datetime,
    ends_at: datetime | None = None,
    place: str = "",
    description: str = "",
    signup_deadline: datetime | None = None,
    max_party_size: int = 1,
    contact_required: bool = False,
    tags: Iterable[str] = (),
    partner_names: Iterable[str] = (),
    publish: bool = False,
) -> Event:
    event = Event(
        title=title.strip(),
        description=description.strip(),
        place=place.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        signup_deadline=signup_deadline,
        max_party_size=max_party_size,
        contact_required=contact_required,
        status=PUBLISHED if publish else DRAFT,
        published_at=now if publish else None,
        created_at=now,
    )
    _validate(event, now, start_changed=True, end_changed=True, deadline_changed=True)
    event.tag_rows = [EventTag(tag=tag) for tag in normalize_tags(tags)]
    event.partners = find_partners(db, partner_names)
    db.add(event)
    db.flush()
    return event


# What `update_event` may change, and how it is named.
UPDATABLE = frozenset(
    {
        "title",
        "description",
        "place",
        "starts_at",
        "ends_at",
        "capacity",
        "signup_deadline",
        "max_party_size",
        "contact_required",
    }
)


def update_event(
    db: Session,
    event_id: int,
    now: datetime,
    tz: ZoneInfo,
    *,
    tags: Iterable[str] | None = None,
    partner_names: Iterable[str] | None = None,
    **changes: object,
) -> tuple[Event, list[Signup]]:
    """Change an event that is not cancelled or finished; returns it and the waitlisted
    sign-ups a larger capacity confirmed (they are told through the outbox)."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
    event = get_event(db, event_id, lock=True)
    if event.status in (CANCELLED, FINISHED):
        raise EventError(
            EVENT_CANCELLED if event.status == CANCELLED else EVENT_FINISHED,
            f"event {event_id} is {event.status} and cannot be changed",
            event=event,
        )
    starts_at = event.starts_at
    for name, value in changes.items():
        if isinstance(value, str):
            value = value.strip()
        setattr(event, name, value)
    _validate(
        event,
        now,
        start_changed="starts_at" in changes,
        end_changed="ends_at" in changes,
        deadline_changed="signup_deadline" in changes,
    )
    taken = occupancy(db, event)
    if event.capacity < taken.confirmed + taken.walk_ins:
        raise EventError(
            INVALID,
            f"capacity {event.capacity} is below the {taken.confirmed + taken.walk_ins} "
            "places already taken",
        )
    if tags is not None:
        wanted = normalize_tags(tags)
        event.tag_rows = [row for row in event.tag_rows if row.tag in wanted] + [
            EventTag(tag=tag) for tag in wanted if tag not in event.tags
        ]
    if partner_names is not None:
        event.partners = find_partners(db, partner_names)
    event.updated_at = now
    if event.starts_at != starts_at:
        stale.event_moved(db, event.id)
    db.flush()
    promoted = _promote(db, event, now, tz) if event.status == PUBLISHED else []
    return event, promoted


def publish_event(db: Session, event_id: int, now: datetime) -> bool:
    """Open a draft to residents; False when it was already published."""
    event = get_event(db, event_id, lock=True)
    if event.status == PUBLISHED:
        return False
    if event.status != DRAFT:
        raise EventError(
            EVENT_CANCELLED if event.status == CANCELLED else EVENT_FINISHED,
            f"event {event_id} is {event.status} and cannot be published",
            event=event,
        )
    if event.starts_at <= now:
        raise EventError(INVALID, f"event {event_id} has already started", event=event)
    event.status = PUBLISHED
    event.published_at = now
    event.updated_at = now
    return True


def cancel_event(db: Session, event_id: int, reason: str, now: datetime, tz: ZoneInfo) -> int:
    """Call an event off and queue a push to everyone confirmed or waitlisted; returns how
    many residents will be told. Their sign-ups keep their status, as a record."""
    reason = reason.strip()
    if not reason:
        raise EventError(INVALID, "a reason is required, residents are told it")
    event = get_event(db, event_id, lock=True)
    if event.status in (CANCELLED, FINISHED):
        raise EventError(
            EVENT_CANCELLED if event.status == CANCELLED else EVENT_FINISHED,
            f"event {event_id} is already {event.status}",
            event=event,
        )
    # The status job marks ended events finished every few minutes (and not at all with
    # no scheduler leader): an event over by now is finished, and nobody should be told
    # that something which already happened is off.
    if event.over_at <= now:
        raise EventError(EVENT_FINISHED, f"event {event_id} has already ended", event=event)
    event.status = CANCELLED
    event.cancelled_at = now
    event.cancel_reason = reason
    event.updated_at = now
    stale.event_cancelled(db, event.id, event.status)
    signups = db.execute(
        select(Signup, Resident)
        .join(Resident, Resident.id == Signup.resident_id)
        .where(Signup.event_id == event_id, Signup.status.in_(LIVE_SIGNUP_STATUSES))
        .order_by(Signup.id)
    ).all()
    told = 0
    for signup, resident in signups:
        enqueue_push(
            db,
            recipient_openid=resident.openid,
            resident_id=resident.id,
            kind=PushKind.EVENT_CANCELLED,
            payload=cancellation_payload(event, signup, reason, tz),
            idempotency_key=f"event_cancelled:{event.id}:{resident.id}",
            now=now,
            expires_at=cancel_notice_expires_at(event, now),
        )
        told += 1
    return told


def cancel_notice_expires_at(event: Event, now: datetime) -> datetime:
    """When a cancellation notice stops being worth sending: at the start for an event
    not yet begun; for one already under way, at its end or a few hours from now,
    whichever is later, so the notice is never born expired."""
    if event.starts_at > now:
        return event.starts_at
    return max(event.over_at, now + LATE_CANCEL_NOTICE_WINDOW)


def cancellation_payload(event: Event, signup: Signup, reason: str, tz: ZoneInfo) -> dict[str, Any]:
    """The push telling a signed-up resident the event is off, with its template values
    (models/push/registry.py)."""
    when = local_text(event.starts_at, tz)
    return {
        "text": {
            "zh": f"很抱歉，活动“{event.title}”（{when}）已取消。原因：{reason}",
            "en": f"Sorry, the event '{event.title}' ({when}) is cancelled: {reason}",
        },
        "fields": {
            "event_id": event.id,
            "title": event.title,
            "starts_at": when,
            "reason": reason,
            "signup_status": signup.status,
        },
    }


# Residents: signing up and cancelling ---------------------------------------------------------


@dataclass(frozen=True)
class SignupResult:
    event: Event
    signup: Signup

    @property
    def waitlisted(self) -> bool:
        return self.signup.status == WAITLISTED


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
            ALREADY_SIGNED_UP,
            f"already signed up for event {event.id}",
            event=event,
            signup=existing,
        )
    if attendance_of(db, event.id, resident.id) is not None:
        raise EventError(
            ATTENDING, f"already checked in to event {event.id} as attending", event=event
        )


def check_party_size(event: Event, party_size: int) -> None:
    if party_size < 1:
        raise EventError(BAD_PARTY, "the party size must be at least 1", event=event)
    if party_size > event.max_party_size:
        raise EventError(
            PARTY_TOO_LARGE,
            f"at most {event.max_party_size} people per sign-up for event {event.id}",
            event=event,
        )


def check_open(event: Event, now: datetime) -> None:
    """Refuse sign-ups (and their questions) for an event residents cannot join now."""
    if event.status == CANCELLED:
        raise EventError(EVENT_CANCELLED, f"event {event.id} is cancelled", event=event)
    if event.status == FINISHED:
        raise EventError(EVENT_FINISHED, f"event {event.id} is finished", event=event)
    if event.status != PUBLISHED:
        raise EventError(NOT_PUBLISHED, f"event {event.id} is not published", event=event)
    if now >= event.closes_at:
        raise EventError(DEADLINE_PASSED, f"sign-up for event {event.id} is closed", event=event)


def sign_up(
    db: Session,
    event_id: int,
    resident: Resident,
    party_size: int,
    now: datetime,
    *,
    join_waitlist: bool = True,
) -> SignupResult:
    """Confirm a place, or a place on the waitlist when the party does not fit.

    With ``join_waitlist=False`` a full event is refused with FULL and nothing is written,
    so the chat can offer the waitlist first.
    """
    event = get_event(db, event_id, lock=True)
    check_open(event, now)
    check_party_size(event, party_size)
    if event.contact_required and not has_contact(resident):
        raise EventError(
            CONTACT_REQUIRED, f"event {event.id} needs a name and mobile number", event=event
        )
    check_not_signed_up(db, event, resident)
    taken = occupancy(db, event)
    fits = party_size <= taken.places_left
    if not fits and not join_waitlist:
        raise EventError(FULL, f"event {event.id} is full", event=event)
    signup = Signup(
        event_id=event.id,
        resident_id=resident.id,
        party_size=party_size,
        status=CONFIRMED if fits else WAITLISTED,
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
            CHECKED_IN,
            f"already checked in to event {event.id}; the sign-up can no longer be cancelled",
            event=event,
        )
    signup = live_signup(db, event.id, resident.id)
    if signup is None:
        raise EventError(NOT_SIGNED_UP, f"no sign-up for event {event.id} to cancel", event=event)
    if event.status == CANCELLED:
        raise EventError(EVENT_CANCELLED, f"event {event.id} is cancelled", event=event)
    if now >= event.starts_at:
        raise EventError(STARTED, f"event {event.id} has already started", event=event)
    was_confirmed = signup.status == CONFIRMED
    signup.status = SIGNUP_CANCELLED
    signup.cancelled_at = now
    signup.waitlist_position = None
    stale.signup_cancelled(db, signup.id)
    db.flush()
    promoted = _promote(db, event, now, tz) if was_confirmed else []
    if not was_confirmed:
        _renumber_waitlist(db, event.id)
    return CancelResult(event=event, signup=signup, promoted=promoted)


def _promote(db: Session, event: Event, now: datetime, tz: ZoneInfo) -> list[Signup]:
    """Confirm waitlisted sign-ups in order while their party fits the places left,
    skipping a party too large for what is free. Called with the event locked."""
    free = occupancy(db, event).places_left
    promoted: list[Signup] = []
    if free > 0:
        for signup in _waitlist(db, event.id):
            if free <= 0:
                break
            if signup.party_size > free:
                continue
            signup.status = CONFIRMED
            signup.confirmed_at = now
            signup.waitlist_position = None
            free -= signup.party_size
            promoted.append(signup)
            _push_promotion(db, event, signup, now, tz)
    if promoted:
        db.flush()
        _renumber_waitlist(db, event.id)
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


def promotion_payload(event: Event, signup: Signup, tz: ZoneInfo) -> dict[str, Any]:
    """The push telling a waitlisted resident their place is confirmed, with its template
    values (models/push/registry.py)."""
    when = local_text(event.starts_at, tz)
    place_zh = f"，地点：{event.place}" if event.place else ""
    place_en = f" at {event.place}" if event.place else ""
    return {
        "text": {
            "zh": (
                f"好消息！您候补的活动“{event.title}”有名额了，已为您确认报名。"
                f"时间：{when}{place_zh}。签到码：{signup.checkin_code}。"
                f"如不能参加，请回复“取消报名 {event.id}”。"
            ),
            "en": (
                f"Good news: a place opened up for '{event.title}' and your sign-up is "
                f"confirmed. {when}{place_en}. Check-in code: {signup.checkin_code}. "
                f"If you cannot come, reply 'cancel {event.id}'."
            ),
        },
        "fields": {
            "event_id": event.id,
            "title": event.title,
            "starts_at": when,
            # A template shows no place as nothing, never as "None".
            "place": event.place or "",
            "party_size": signup.party_size,
            "checkin_code": signup.checkin_code,
        },
    }


def _waitlist(db: Session, event_id: int) -> list[Signup]:
    return list(
        db.execute(
            select(Signup)
            .where(Signup.event_id == event_id, Signup.status == WAITLISTED)
            .order_by(Signup.waitlist_position, Signup.id)
        ).scalars()
    )


def _renumber_waitlist(db: Session, event_id: int) -> None:
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


# Check-in ------------------------------------------------------------------------------------


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
    if method not in CHECKIN_METHODS:
        raise ValueError(f"unknown check-in method {method!r}")
    event = get_event(db, event_id, lock=True)
    existing = attendance_of(db, event.id, resident.id)
    if existing is not None:
        return CheckInResult(event=event, attendance=existing, first_time=False)
    if event.status == CANCELLED:
        raise EventError(EVENT_CANCELLED, f"event {event.id} is cancelled", event=event)
    if event.status == DRAFT:
        raise EventError(NOT_PUBLISHED, f"event {event.id} is not published", event=event)
    if now < event.starts_at - CHECKIN_OPENS_BEFORE:
        raise EventError(
            CHECKIN_NOT_OPEN, f"check-in for event {event.id} has not opened yet", event=event
        )
    if method == CHECKIN_QR and now > event.checkin_ends_at:
        raise EventError(CHECKIN_CLOSED, f"check-in for event {event.id} is over", event=event)
    signup = live_signup(db, event.id, resident.id)
    if signup is not None and signup.status == CONFIRMED:
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
                NO_ROOM, f"event {event.id} is full; no walk-in place is left", event=event
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


def _leave_waitlist_at_the_door(db: Session, event: Event, signup: Signup, now: datetime) -> None:
    """A waitlisted resident who comes in as a walk-in (their party was waiting for more
    places than the one free) gives up their waitlist place: promoted later, it would
    count them twice and tell them of a place they are already standing in."""
    signup.status = SIGNUP_CANCELLED
    signup.cancelled_at = now
    signup.waitlist_position = None
    db.flush()
    _renumber_waitlist(db, event.id)


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
        raise EventError(UNKNOWN_CODE, f"no sign-up for event {event.id} has code {code!r}")
    if (
        signup.status == SIGNUP_CANCELLED
        and attendance_of(db, event.id, signup.resident_id) is None
    ):
        raise EventError(
            CANCELLED_CODE,
            f"the sign-up with code {code!r} for event {event.id} was cancelled",
            event=event,
        )
    return check_in(db, event.id, signup.resident, CHECKIN_CODE, now)


def finish_past_events(db: Session, now: datetime) -> int:
    """Mark published events whose end (or start plus the default length) has passed.

    A finished event takes no sign-ups or reminders; attendance stays as recorded.
    """
    ended = or_(
        and_(Event.ends_at.is_not(None), Event.ends_at <= now),
        and_(Event.ends_at.is_(None), Event.starts_at <= now - DEFAULT_DURATION),
    )
    return rowcount(
        db.execute(
            update(Event)
            .where(Event.status == PUBLISHED, ended)
            .values(status=FINISHED, updated_at=now)
        )
    )
