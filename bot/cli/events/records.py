"""An event as the commands print it (``events list``, and a change command's JSON)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models.events.queries import occupancies
from models.events.tables import Event
from models.villages.queries import all_villages


def event_record(db: Session, event: Event) -> dict[str, Any]:
    """One event as `events list` gives it: what a change command prints as JSON."""
    [record] = event_records(db, [event])
    return record


def event_records(db: Session, found: list[Event]) -> list[dict[str, Any]]:
    """Events as `events list` gives them, with their places taken (one query for all)
    and their villages' names (one more)."""
    taken = occupancies(db, found)
    labels = {entry.id: entry.label for entry in all_villages(db)}
    return [
        {
            **_summary(
                event,
                taken[event.id].confirmed,
                taken[event.id].waitlisted,
                taken[event.id].walk_ins,
            ),
            "village": labels.get(event.village_id) if event.village_id is not None else None,
        }
        for event in found
    ]


def _summary(event: Event, confirmed: int, waitlisted: int, walk_ins: int) -> dict[str, Any]:
    return {
        "id": event.id,
        "status": event.status,
        "title": event.title,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "place": event.place,
        "capacity": event.capacity,
        "deadline": event.signup_deadline,
        "max_party": event.max_party_size,
        "require_contact": event.contact_required,
        "confirmed": confirmed,
        "waitlisted": waitlisted,
        "walk_ins": walk_ins,
        "tags": event.tags,
        "partners": [partner.name for partner in event.partners],
    }
