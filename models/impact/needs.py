"""Needs raised in the period, by category and status and month; the median hours
partners took to acknowledge and to resolve them; the open needs past their category's
deadline; and the needs raised by the most residents. Hours and resident counts are
those of ``needs_overview`` (``hours_to_acknowledge``, ``hours_to_resolve``,
``demand_count``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.impact.period import local_month
from models.impact.scope import ImpactScope, raised_needs
from models.needs.queries import demand_counts
from models.needs.queue import AckDeadlines, waiting_too_long
from models.needs.tables import Need, NeedStatus, need_ref
from models.partners import Partner

MOST_RAISED = 10
HOURS_DECIMALS = 1


@dataclass(frozen=True)
class RaisedNeed:
    need_id: int
    category: str
    status: str
    partner: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resident_id: int | None


def raised_need_rows(db: Session, scope: ImpactScope) -> list[RaisedNeed]:
    """Each need raised in the period, oldest first."""
    query = (
        select(
            Need.id,
            Need.category,
            Need.status,
            Partner.name,
            Need.created_at,
            Need.acknowledged_at,
            Need.resolved_at,
            Need.resident_id,
        )
        .outerjoin(Partner, Partner.id == Need.partner_id)
        .where(*raised_needs(scope))
        .order_by(Need.created_at, Need.id)
    )
    return [RaisedNeed(*row) for row in db.execute(query)]


def by_category_status(rows: list[RaisedNeed]) -> dict[tuple[str, str], int]:
    return dict(Counter((row.category, row.status) for row in rows))


def by_month_category(rows: list[RaisedNeed], tz: ZoneInfo) -> dict[tuple[str, str], int]:
    """How many needs of each category were raised in each local month."""
    return dict(Counter((local_month(row.created_at, tz), row.category) for row in rows))


def by_month_status(rows: list[RaisedNeed], tz: ZoneInfo) -> dict[tuple[str, str], int]:
    """Of the needs raised in each local month, how many are in each status now."""
    return dict(Counter((local_month(row.created_at, tz), row.status) for row in rows))


def hours_between(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds() / 3600


@dataclass(frozen=True)
class PartnerHours:
    """A partner's (none: needs no partner has) median hours, and over how many needs."""

    partner: str | None
    acknowledged: int
    median_to_acknowledge: float | None
    resolved: int
    median_to_resolve: float | None


def partner_hours(rows: list[RaisedNeed]) -> list[PartnerHours]:
    """The median hours to acknowledge and to resolve each partner's needs, by name."""
    partners = sorted({row.partner for row in rows}, key=lambda name: (name is None, name or ""))
    found = []
    for partner in partners:
        mine = [row for row in rows if row.partner == partner]
        to_ack = _hours([hours_between(row.created_at, row.acknowledged_at) for row in mine])
        to_resolve = _hours([hours_between(row.created_at, row.resolved_at) for row in mine])
        found.append(
            PartnerHours(
                partner, len(to_ack), _median(to_ack), len(to_resolve), _median(to_resolve)
            )
        )
    return found


def _hours(values: list[float | None]) -> list[float]:
    return [value for value in values if value is not None]


def _median(values: list[float]) -> float | None:
    return round(median(values), HOURS_DECIMALS) if values else None


def over_deadline(
    db: Session, scope: ImpactScope, deadlines: AckDeadlines, now: datetime
) -> dict[str, int]:
    """Needs raised in the period and, now, still unacknowledged past their category's
    deadline (the queue's "over time"), by category."""
    query = (
        select(Need.category, func.count())
        .where(*raised_needs(scope), waiting_too_long(deadlines, now))
        .group_by(Need.category)
    )
    return {category: int(count) for category, count in db.execute(query)}


@dataclass(frozen=True)
class MostRaised:
    ref: str
    category: str
    status: str
    demand_count: int


def most_raised(db: Session, rows: list[RaisedNeed], limit: int = MOST_RAISED) -> list[MostRaised]:
    """The needs raised by the most residents (a duplicate counts in the need it was
    merged into, not on its own), most first, newest first among equals."""
    kept = [row for row in rows if row.status != NeedStatus.DUPLICATE]
    counts = demand_counts(db, [row.need_id for row in kept])
    ranked = sorted(kept, key=lambda row: (-counts[row.need_id], -row.created_at.timestamp()))
    return [
        MostRaised(need_ref(row.need_id), row.category, row.status, counts[row.need_id])
        for row in ranked[:limit]
    ]
