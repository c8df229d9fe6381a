"""The figures of the console's landing page, read in one place for every role: a
partner account sees only its own organisation's (needs assigned to it, events it
co-hosts), everyone else the whole club's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.events.tables import Event, EventStatus, event_partner
from models.needs.tables import OPEN_STATUSES, Need
from models.villages.queries import in_village


@dataclass(frozen=True)
class Dashboard:
    open_needs: int
    # Of which nobody has answered yet.
    submitted_needs: int
    upcoming_events: int


def dashboard(
    db: Session, now: datetime, partner_id: int | None = None, village_id: int | None = None
) -> Dashboard:
    """Open needs and published events still to come, for one partner and in one village
    (its groups included) when given."""
    needs = select(Need.status, func.count()).where(Need.status.in_(OPEN_STATUSES))
    events = select(func.count()).select_from(Event)
    if village_id is not None:
        needs = needs.where(in_village(Need.village_id, village_id))
        events = events.where(in_village(Event.village_id, village_id))
    if partner_id is not None:
        needs = needs.where(Need.partner_id == partner_id)
        events = events.join(event_partner, event_partner.c.event_id == Event.id).where(
            event_partner.c.partner_id == partner_id
        )
    by_status: dict[str, int] = {
        status: count for status, count in db.execute(needs.group_by(Need.status))
    }
    upcoming = db.execute(
        events.where(Event.status == EventStatus.PUBLISHED, Event.starts_at > now)
    ).scalar_one()
    return Dashboard(
        open_needs=sum(by_status.values()),
        submitted_needs=by_status.get("submitted", 0),
        upcoming_events=int(upcoming),
    )
