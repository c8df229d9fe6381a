"""The headline figures: the few numbers the dashboard leads with and the public page
shows. Counts only, never a name, a title or anything a resident wrote."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models.impact.broadcasts import broadcast_reach
from models.impact.events import held_event_rows, total
from models.impact.needs import raised_need_counts
from models.impact.residents import residents_served
from models.impact.scope import ImpactScope
from models.needs.tables import NeedStatus


@dataclass(frozen=True)
class Headline:
    activities: int
    residents_served: int
    attended: int
    attendance_rate: float | None
    needs_raised: int
    needs_resolved: int
    broadcast_recipients: int | None


def headline(db: Session, scope: ImpactScope, tz: ZoneInfo) -> Headline:
    events = total(held_event_rows(db, scope))
    needs = raised_need_counts(db, scope, tz)
    reach = broadcast_reach(db, scope)
    return Headline(
        activities=events.events,
        residents_served=residents_served(db, scope),
        attended=events.attended + events.walk_ins,
        attendance_rate=events.attendance_rate,
        needs_raised=needs.total,
        needs_resolved=needs.in_status(NeedStatus.RESOLVED),
        broadcast_recipients=None if reach is None else reach.recipients,
    )
