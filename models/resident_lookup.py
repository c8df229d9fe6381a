"""Finding a resident for staff, and everything the club holds about one: what the
console's residents pages read. Staff look a resident up when the resident asks them
something (by phone, at an event), so the search takes what a resident can tell:
their name, their mobile, or the end of their openid as the chat shows it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models.base import SelectT
from models.events.tables import Attendance, Event, Signup
from models.needs.queries import resident_needs
from models.needs.tables import Need
from models.push.outbox import OutboxMessage
from models.residents import Resident
from models.villages.queries import in_village

SEARCH_MAX = 64
# The fewest characters searched for, so a search narrows to someone.
SEARCH_MIN = 2
LIMIT = 50
RECORD_LIMIT = 100


def search_residents(
    db: Session, text: str, village_id: int | None = None, limit: int = LIMIT
) -> list[Resident]:
    """Residents whose name contains ``text``, whose mobile contains it, or whose openid
    ends with it, in ``village_id`` (with its groups) when given; most recently heard
    from first. Too short a text finds no one, unless a village narrows the search."""
    text = text.strip()[:SEARCH_MAX]
    if len(text) < SEARCH_MIN and (text or village_id is None):
        return []
    query = residents_narrowed(select(Resident), text, village_id)
    return list(
        db.execute(
            query.order_by(Resident.last_interaction_at.desc(), Resident.id.desc()).limit(limit)
        ).scalars()
    )


def residents_narrowed(query: SelectT, text: str, village_id: int | None) -> SelectT:
    """Residents whose name or mobile contains ``text`` or whose openid ends with it, in
    ``village_id`` (with its groups): the search's conditions, for its export too."""
    text = text.strip()[:SEARCH_MAX]
    if text:
        lowered = text.lower()
        query = query.where(
            or_(
                func.lower(Resident.name).contains(lowered, autoescape=True),
                Resident.mobile.contains(text, autoescape=True),
                Resident.openid.endswith(text, autoescape=True),
            )
        )
    if village_id is not None:
        query = query.where(in_village(Resident.village_id, village_id))
    return query


@dataclass(frozen=True)
class ResidentRecord:
    """What the club holds about one resident, for their console page."""

    resident: Resident
    needs: list[Need]
    signups: list[tuple[Signup, Event]]
    attendance: list[tuple[Attendance, Event]]
    pushes: list[OutboxMessage]


def resident_record(db: Session, resident: Resident) -> ResidentRecord:
    """The resident's latest needs, sign-ups, check-ins and pushes (each newest first)."""
    signups = db.execute(
        select(Signup, Event)
        .join(Event, Event.id == Signup.event_id)
        .where(Signup.resident_id == resident.id)
        .order_by(Signup.created_at.desc(), Signup.id.desc())
        .limit(RECORD_LIMIT)
    )
    attendance = db.execute(
        select(Attendance, Event)
        .join(Event, Event.id == Attendance.event_id)
        .where(Attendance.resident_id == resident.id)
        .order_by(Attendance.checked_in_at.desc(), Attendance.id.desc())
        .limit(RECORD_LIMIT)
    )
    pushes = db.execute(
        select(OutboxMessage)
        .where(OutboxMessage.resident_id == resident.id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(RECORD_LIMIT)
    ).scalars()
    return ResidentRecord(
        resident,
        resident_needs(db, resident, limit=RECORD_LIMIT),
        list(signups),
        list(attendance),
        list(pushes),
    )
