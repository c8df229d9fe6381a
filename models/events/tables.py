"""Event tables: events, their audiences and partners, sign-ups, check-ins; and the
vocabularies their columns hold.

Capacity counts people: a confirmed sign-up holds ``party_size`` places and a walk-in
holds one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAtMixin, check_one_of
from models.partners import Partner
from models.residents import Resident
from models.tags.tables import Tag


class EventStatus(StrEnum):
    """Where an event is in its life: only a published one takes sign-ups."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    FINISHED = "finished"


class SignupStatus(StrEnum):
    """A sign-up holds a place, waits for one, or was given up (kept as history)."""

    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


# The sign-ups that hold or wait for a place.
LIVE_SIGNUP_STATUSES = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)


class CheckinMethod(StrEnum):
    """How a resident was checked in: the event's QR code, the code they showed, or staff."""

    QR = "qr"
    CODE = "code"
    STAFF = "staff"


# The QR code at the door works from a little before the start until a while after the
# end; an event without an end is taken to last this long.
CHECKIN_OPENS_BEFORE = timedelta(hours=2)
CHECKIN_CLOSES_AFTER = timedelta(hours=2)
DEFAULT_DURATION = timedelta(hours=3)


CHECKIN_CODE_DIGITS = 6
MAX_TITLE = 200
MAX_PLACE = 200
WALK_IN_NAME_MAX = 64
WALK_IN_PHONE_MAX = 20


event_partner = Table(
    "event_partner",
    Base.metadata,
    Column(
        "event_id", ForeignKey("event.id", ondelete="CASCADE"), primary_key=True, nullable=False
    ),
    Column("partner_id", ForeignKey("partner.id"), primary_key=True, nullable=False, index=True),
)


class EventTag(Base):
    """An audience an event is for (women, children, elderly, volunteers...): a tag of the
    managed list (models/tags), named by its key."""

    __tablename__ = "event_tag"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(ForeignKey("tag.key"), primary_key=True, index=True)

    entry: Mapped[Tag] = relationship(lazy="joined")


class Event(CreatedAtMixin, Base):
    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_status_starts_at", "status", "starts_at"),
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("max_party_size >= 1", name="max_party_size"),
        check_one_of("status", EventStatus),
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
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.DRAFT)
    published_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None]
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)

    tag_rows: Mapped[list[EventTag]] = relationship(
        cascade="all, delete-orphan", order_by=EventTag.tag
    )
    partners: Mapped[list[Partner]] = relationship(secondary=event_partner, order_by=Partner.name)

    @property
    def tags(self) -> list[str]:
        """The keys of its tags (models/tags/tables.py)."""
        return [row.tag for row in self.tag_rows]

    def tag_names(self, language: str) -> list[str]:
        """Its tags as a reader of ``language`` reads them."""
        return [row.entry.name(language) for row in self.tag_rows]

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
            sqlite_where=text(f"status != '{SignupStatus.CANCELLED}'"),
            postgresql_where=text(f"status != '{SignupStatus.CANCELLED}'"),
        ),
        UniqueConstraint("event_id", "checkin_code", name="uq_signup_event_id_checkin_code"),
        # Covers the count of places taken, so it needs no table reads.
        Index("ix_signup_event_id_status", "event_id", "status", "party_size"),
        CheckConstraint("party_size >= 1", name="party_size"),
        check_one_of("status", SignupStatus),
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
        # What the impact dashboard sums for a period's events, read without the table.
        Index("ix_attendance_event_id_walk_in_party_size", "event_id", "walk_in", "party_size"),
        check_one_of("method", CheckinMethod),
        # Someone staff add at the door by hand has no WeChat identity: a named walk-in.
        CheckConstraint(
            "resident_id IS NOT NULL OR (walk_in AND walk_in_name IS NOT NULL)",
            name="resident_or_named_walk_in",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    signup_id: Mapped[int | None] = mapped_column(ForeignKey("signup.id"))
    checked_in_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(8))
    walk_in: Mapped[bool] = mapped_column(Boolean, default=False)
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    # A walk-in staff added by hand (no resident): the name and phone they gave.
    walk_in_name: Mapped[str | None] = mapped_column(String(WALK_IN_NAME_MAX))
    walk_in_phone: Mapped[str | None] = mapped_column(String(WALK_IN_PHONE_MAX))

    resident: Mapped[Resident | None] = relationship()

    @property
    def name(self) -> str | None:
        """The name the roster shows: the resident's, or the one a walk-in gave."""
        return self.resident.name if self.resident is not None else self.walk_in_name

    @property
    def phone(self) -> str | None:
        return self.resident.mobile if self.resident is not None else self.walk_in_phone
