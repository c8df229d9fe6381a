"""The console's reads of events: a list narrowed by when, tag, village and co-host, whether an
organisation co-hosts an event, and how many residents a change would tell."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from models.accounts.roles import Role
from models.accounts.tables import Account
from models.base import SelectT
from models.events.tables import (
    LIVE_SIGNUP_STATUSES,
    Event,
    EventStatus,
    EventTag,
    Signup,
    event_partner,
)
from models.villages.queries import in_village


class EventListing(StrEnum):
    """Which events a list shows: still to come, over (or called off), or not yet open."""

    UPCOMING = "upcoming"
    PAST = "past"
    DRAFTS = "drafts"


@dataclass(frozen=True)
class EventFilter:
    """What the list narrows to: when, a tag (its key), a village (with its groups);
    ``partner_id`` keeps a partner to its own events."""

    listing: EventListing = EventListing.UPCOMING
    tag: str = ""
    village_id: int | None = None
    partner_id: int | None = None


def _when(query: SelectT, listing: EventListing, now: datetime) -> SelectT:
    if listing == EventListing.DRAFTS:
        return query.where(Event.status == EventStatus.DRAFT).order_by(Event.starts_at, Event.id)
    if listing == EventListing.UPCOMING:
        return query.where(Event.status == EventStatus.PUBLISHED, Event.starts_at > now).order_by(
            Event.starts_at, Event.id
        )
    return query.where(
        Event.status != EventStatus.DRAFT,
        (Event.starts_at <= now) | (Event.status == EventStatus.CANCELLED),
    ).order_by(Event.starts_at.desc(), Event.id.desc())


def events_narrowed(query: SelectT, wanted: EventFilter, now: datetime) -> SelectT:
    """The filter's conditions and the list's order, for the list and its export alike."""
    if wanted.tag:
        query = query.where(
            Event.id.in_(select(EventTag.event_id).where(EventTag.tag == wanted.tag))
        )
    if wanted.village_id is not None:
        query = query.where(in_village(Event.village_id, wanted.village_id))
    if wanted.partner_id is not None:
        query = query.where(Event.id.in_(co_hosted_by(wanted.partner_id)))
    return _when(query, wanted.listing, now)


def staff_events(db: Session, wanted: EventFilter, now: datetime) -> list[Event]:
    """The events a console list shows, soonest first (past ones: latest first)."""
    query = select(Event).options(selectinload(Event.tag_rows), selectinload(Event.partners))
    return list(db.execute(events_narrowed(query, wanted, now)).scalars())


def co_hosted_by(partner_id: int) -> Select[tuple[int]]:
    return select(event_partner.c.event_id).where(event_partner.c.partner_id == partner_id)


def co_hosts(db: Session, event_id: int, partner_id: int) -> bool:
    """Whether the partner co-hosts the event (what a partner's account may see of it)."""
    found = db.execute(
        select(func.count())
        .select_from(event_partner)
        .where(event_partner.c.event_id == event_id, event_partner.c.partner_id == partner_id)
    ).scalar_one()
    return bool(found)


def kept_to(account: Account) -> int | None:
    """The organisation whose events alone an account sees: a partner's; None for every
    other role, which sees them all."""
    return account.partner_id if account.role == Role.PARTNER else None


def visible_to(db: Session, event_id: int, account: Account) -> bool:
    """Whether the account may see (and, with the permission, check in at) the event."""
    scope = kept_to(account)
    return scope is None or co_hosts(db, event_id, scope)


def residents_to_tell(db: Session, event: Event) -> int:
    """How many residents a change of time or place, or a cancellation, would tell now:
    one notice per confirmed or waitlisted sign-up of a published event, as
    ``update_event`` and ``cancel_event`` queue them."""
    if event.status != EventStatus.PUBLISHED:
        return 0
    found = db.execute(
        select(func.count())
        .select_from(Signup)
        .where(Signup.event_id == event.id, Signup.status.in_(LIVE_SIGNUP_STATUSES))
    ).scalar_one()
    return int(found)
