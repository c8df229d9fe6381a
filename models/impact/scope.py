"""What the figures are narrowed to: a period (UTC bounds), a village (its groups
included), an event tag, and, for a partner's account, its own organisation.

Needs carry no tag, so a tag narrows the event figures only; broadcasts belong to no
village and to no partner, so a village or a partner's scope leaves them out rather
than showing the whole club's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, select

from models.events.tables import Event, EventStatus, EventTag, event_partner
from models.needs.tables import Need
from models.villages.queries import in_village


@dataclass(frozen=True)
class ImpactScope:
    start: datetime
    end: datetime
    village_id: int | None = None
    tag: str = ""
    partner_id: int | None = None

    @property
    def whole_club(self) -> bool:
        """Whether club-wide figures with no village or partner (broadcasts) apply."""
        return self.village_id is None and self.partner_id is None


def held_events(scope: ImpactScope) -> list[ColumnElement[bool]]:
    """Events held in the period: published or finished (not drafts, not cancelled) and
    started within it."""
    conditions = [
        Event.status.in_((EventStatus.PUBLISHED, EventStatus.FINISHED)),
        Event.starts_at >= scope.start,
        Event.starts_at < scope.end,
    ]
    if scope.village_id is not None:
        conditions.append(in_village(Event.village_id, scope.village_id))
    if scope.tag:
        tagged = select(EventTag.event_id).where(EventTag.tag == scope.tag)
        conditions.append(Event.id.in_(tagged))
    if scope.partner_id is not None:
        conditions.append(
            exists().where(
                event_partner.c.event_id == Event.id,
                event_partner.c.partner_id == scope.partner_id,
            )
        )
    return conditions


def raised_needs(scope: ImpactScope) -> list[ColumnElement[bool]]:
    """Needs submitted in the period (in the village, assigned to the partner)."""
    conditions = [Need.created_at >= scope.start, Need.created_at < scope.end]
    if scope.village_id is not None:
        conditions.append(in_village(Need.village_id, scope.village_id))
    if scope.partner_id is not None:
        conditions.append(Need.partner_id == scope.partner_id)
    return conditions
