"""Staff operations on events: create, update, publish, cancel, and finish past ones.

A new capacity confirms waitlisted sign-ups at once; a cancellation queues a notice to
everyone who holds or waits for a place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from models.base import ID_MAX, rowcount
from models.events.errors import EventError, EventRefusal, InvalidRule
from models.events.notices import cancel_notice_expires_at, cancellation_payload, change_payload
from models.events.queries import get_event, live_signups, occupancy
from models.events.signups import promote_waitlist
from models.events.tables import (
    DEFAULT_DURATION,
    MAX_PLACE,
    MAX_TITLE,
    Event,
    EventStatus,
    EventTag,
    Signup,
)
from models.partners import Partner
from models.push import stale
from models.push.registry import PushKind
from models.push.rows import enqueue_push
from models.tags.errors import TagError
from models.tags.queries import find_tags

# How far ahead staff may set a time (an event's start or end, a broadcast's --at): a
# club plans weeks or months ahead, so a time past a year (366 days, for leap years) is a
# typo such as 2062 for 2026; and near year 9999 the check-in window, the reminders and a
# broadcast's quota periods would not fit in a datetime at all.
SCHEDULE_HORIZON = timedelta(days=366)


def event_tags(db: Session, names: Iterable[str], kept: Iterable[str] = ()) -> list[str]:
    """The keys of the tags ``names`` name, in either language (models/tags); a tag no
    longer offered is refused unless the event has it already (``kept``, its keys)."""
    found = find_tags(db, names)
    for tag in found:
        if not tag.active and tag.key not in kept:
            raise TagError("tag_error_inactive", name=tag.label)
    return [tag.key for tag in found]


def find_partners(db: Session, names: Iterable[str]) -> list[Partner]:
    """Partners by their exact names; an unknown name is refused, naming it."""
    partners: list[Partner] = []
    for name in names:
        partner = db.execute(
            select(Partner).where(Partner.name == name.strip())
        ).scalar_one_or_none()
        if partner is None:
            raise EventError(
                EventRefusal.UNKNOWN_PARTNER, f"there is no partner named {name.strip()!r}"
            )
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
        raise EventError(
            EventRefusal.INVALID, "the title cannot be empty", rule=InvalidRule.TITLE_EMPTY
        )
    if len(event.title) > MAX_TITLE:
        raise EventError(
            EventRefusal.INVALID,
            f"the title is longer than {MAX_TITLE} characters",
            rule=InvalidRule.TITLE_LONG,
        )
    if len(event.place) > MAX_PLACE:
        raise EventError(
            EventRefusal.INVALID,
            f"the place is longer than {MAX_PLACE} characters",
            rule=InvalidRule.PLACE_LONG,
        )
    if start_changed and event.starts_at <= now:
        raise EventError(
            EventRefusal.INVALID, "the start time is in the past", rule=InvalidRule.START_PAST
        )
    if start_changed and event.starts_at > now + SCHEDULE_HORIZON:
        raise EventError(
            EventRefusal.INVALID,
            "the start time is more than a year ahead",
            rule=InvalidRule.START_FAR,
        )
    if end_changed and event.ends_at is not None and event.ends_at > now + SCHEDULE_HORIZON:
        raise EventError(
            EventRefusal.INVALID, "the end time is more than a year ahead", rule=InvalidRule.END_FAR
        )
    if event.ends_at is not None and event.ends_at <= event.starts_at:
        raise EventError(
            EventRefusal.INVALID,
            "the end time must be after the start time",
            rule=InvalidRule.END_BEFORE_START,
        )
    if event.capacity < 1:
        raise EventError(
            EventRefusal.INVALID, "capacity must be at least 1", rule=InvalidRule.CAPACITY_LOW
        )
    if event.capacity > ID_MAX:
        # The column is an integer; PostgreSQL would refuse more with a traceback.
        raise EventError(
            EventRefusal.INVALID,
            f"capacity must be at most {ID_MAX}",
            rule=InvalidRule.CAPACITY_HIGH,
        )
    if event.max_party_size < 1:
        raise EventError(
            EventRefusal.INVALID,
            "the maximum party size must be at least 1",
            rule=InvalidRule.PARTY_LOW,
        )
    if event.max_party_size > event.capacity:
        raise EventError(
            EventRefusal.INVALID,
            f"the maximum party size ({event.max_party_size}) is larger than the capacity "
            f"({event.capacity})",
            rule=InvalidRule.PARTY_OVER_CAPACITY,
        )
    if event.signup_deadline is not None:
        if event.signup_deadline > event.starts_at:
            raise EventError(
                EventRefusal.INVALID,
                "the sign-up deadline must not be after the start time",
                rule=InvalidRule.DEADLINE_AFTER_START,
            )
        if deadline_changed and event.signup_deadline <= now:
            raise EventError(
                EventRefusal.INVALID,
                "the sign-up deadline is in the past",
                rule=InvalidRule.DEADLINE_PAST,
            )


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
    village_id: int | None = None,
) -> Event:
    """A new event; ``tags`` name tags of the managed list in either language (models/tags),
    and one no longer in use is refused."""
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
        status=EventStatus.PUBLISHED if publish else EventStatus.DRAFT,
        published_at=now if publish else None,
        village_id=village_id,
        created_at=now,
    )
    _validate(event, now, start_changed=True, end_changed=True, deadline_changed=True)
    event.tag_rows = [EventTag(tag=key) for key in event_tags(db, tags)]
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
        "village_id",
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
) -> EventUpdate:
    """Change an event that is not cancelled or finished. Waitlisted sign-ups a larger
    capacity confirms are told, and so is everyone confirmed or waitlisted when the time
    or the place changes (a notice of an earlier change not yet sent is dropped)."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
    event = get_event(db, event_id, lock=True)
    if event.status in (EventStatus.CANCELLED, EventStatus.FINISHED):
        raise _over(event, f"event {event_id} is {event.status} and cannot be changed")
    starts_at, place = event.starts_at, event.place
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
            EventRefusal.INVALID,
            f"capacity {event.capacity} is below the {taken.confirmed + taken.walk_ins} "
            "places already taken",
            rule=InvalidRule.CAPACITY_TAKEN,
        )
    if tags is not None:
        wanted = event_tags(db, tags, event.tags)
        event.tag_rows = [row for row in event.tag_rows if row.tag in wanted] + [
            EventTag(tag=tag) for tag in wanted if tag not in event.tags
        ]
    if partner_names is not None:
        event.partners = find_partners(db, partner_names)
    event.updated_at = now
    if event.starts_at != starts_at:
        stale.event_moved(db, event.id)
    db.flush()
    told: list[Signup] = []
    if event.status == EventStatus.PUBLISHED and (event.starts_at, event.place) != (
        starts_at,
        place,
    ):
        told = _tell_of_change(db, event, starts_at, place, now, tz)
    promoted = promote_waitlist(db, event, now, tz) if event.status == EventStatus.PUBLISHED else []
    return EventUpdate(event, promoted, told)


@dataclass(frozen=True)
class EventUpdate:
    """What an update did: the event, the waitlisted sign-ups a larger capacity
    confirmed, and the sign-ups told that the time or place changed."""

    event: Event
    promoted: list[Signup]
    told: list[Signup]

    @property
    def people_told(self) -> int:
        return sum(signup.party_size for signup in self.told)


def _tell_of_change(
    db: Session,
    event: Event,
    old_starts_at: datetime,
    old_place: str | None,
    now: datetime,
    tz: ZoneInfo,
) -> list[Signup]:
    """Queue the change notice to everyone confirmed or waitlisted, after dropping the
    unsent notices of an earlier change; returns the sign-ups told."""
    stale.event_changed(db, event.id)
    change = now.isoformat()
    told = []
    for signup, resident in live_signups(db, event.id):
        enqueue_push(
            db,
            recipient_openid=resident.openid,
            resident_id=resident.id,
            kind=PushKind.EVENT_MOVED,
            payload=change_payload(event, signup, old_starts_at, old_place, tz),
            idempotency_key=f"event_moved:{event.id}:{resident.id}:{change}",
            now=now,
            expires_at=event.starts_at,
        )
        told.append(signup)
    return told


def _over(event: Event, message: str) -> EventError:
    """The refusal for an event that is cancelled or finished: nothing more happens to it."""
    reason = (
        EventRefusal.EVENT_CANCELLED
        if event.status == EventStatus.CANCELLED
        else EventRefusal.EVENT_FINISHED
    )
    return EventError(reason, message, event=event)


def publish_event(db: Session, event_id: int, now: datetime) -> bool:
    """Open a draft to residents; False when it was already published."""
    event = get_event(db, event_id, lock=True)
    if event.status == EventStatus.PUBLISHED:
        return False
    if event.status != EventStatus.DRAFT:
        raise _over(event, f"event {event_id} is {event.status} and cannot be published")
    if event.starts_at <= now:
        raise EventError(
            EventRefusal.INVALID,
            f"event {event_id} has already started",
            event=event,
            rule=InvalidRule.START_PAST,
        )
    event.status = EventStatus.PUBLISHED
    event.published_at = now
    event.updated_at = now
    return True


def cancel_event(db: Session, event_id: int, reason: str, now: datetime, tz: ZoneInfo) -> int:
    """Call an event off and queue a push to everyone confirmed or waitlisted; returns how
    many residents will be told. Their sign-ups keep their status, as a record."""
    reason = reason.strip()
    if not reason:
        raise EventError(
            EventRefusal.INVALID,
            "a reason is required, residents are told it",
            rule=InvalidRule.REASON_EMPTY,
        )
    event = get_event(db, event_id, lock=True)
    if event.status in (EventStatus.CANCELLED, EventStatus.FINISHED):
        raise _over(event, f"event {event_id} is already {event.status}")
    # The status job marks ended events finished every few minutes (and not at all with
    # no scheduler leader): an event over by now is finished, and nobody should be told
    # that something which already happened is off.
    if event.over_at <= now:
        raise EventError(
            EventRefusal.EVENT_FINISHED, f"event {event_id} has already ended", event=event
        )
    event.status = EventStatus.CANCELLED
    event.cancelled_at = now
    event.cancel_reason = reason
    event.updated_at = now
    stale.event_cancelled(db, event.id, event.status)
    told = 0
    for signup, resident in live_signups(db, event_id):
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
            .where(Event.status == EventStatus.PUBLISHED, ended)
            .values(status=EventStatus.FINISHED, updated_at=now)
        )
    )
