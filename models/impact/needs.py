"""Needs raised in the period, by category and status and month; the median hours
partners took to acknowledge and to resolve them; the open needs past their category's
deadline; and the needs raised by the most residents. Hours and resident counts are
those of ``needs_overview`` (``hours_to_acknowledge``, ``hours_to_resolve``,
``demand_count``).

Every figure is counted in the database, a few rows back per query, never the period's
needs one by one: a year holds a hundred thousand of them, and the page has 300 ms."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from models.impact.period import local_month_of
from models.impact.scope import ImpactScope, raised_needs
from models.needs.queue import AckDeadlines, waiting_too_long
from models.needs.tables import Need, NeedStatus, need_ref
from models.partners import Partner

MOST_RAISED = 10
HOURS_DECIMALS = 1


@dataclass(frozen=True)
class NeedCounts:
    """How many needs raised in the period are, now, in each status, by the local month
    they were raised in and their category: every count of needs the page shows is a sum
    of these cells."""

    cells: dict[tuple[str, str, str], int]

    @property
    def total(self) -> int:
        return sum(self.cells.values())

    def in_status(self, status: str) -> int:
        return sum(count for (_, _, found), count in self.cells.items() if found == status)

    def by_category_status(self) -> dict[tuple[str, str], int]:
        return self._sum(lambda month, category, status: (category, status))

    def by_month_category(self) -> dict[tuple[str, str], int]:
        """How many needs of each category were raised in each local month."""
        return self._sum(lambda month, category, status: (month, category))

    def by_month_status(self) -> dict[tuple[str, str], int]:
        """Of the needs raised in each local month, how many are in each status now."""
        return self._sum(lambda month, category, status: (month, status))

    def _sum(self, key: Callable[[str, str, str], tuple[str, str]]) -> dict[tuple[str, str], int]:
        sums: Counter[tuple[str, str]] = Counter()
        for cell, count in self.cells.items():
            sums[key(*cell)] += count
        return dict(sums)


def raised_need_counts(db: Session, scope: ImpactScope, tz: ZoneInfo) -> NeedCounts:
    """The period's needs counted by local month, category and status, in one query."""
    month = local_month_of(Need.created_at, scope.start, scope.end, tz)
    query = (
        select(month, Need.category, Need.status, func.count())
        .where(*raised_needs(scope))
        .group_by(month, Need.category, Need.status)
    )
    return NeedCounts({(m, c, s): int(n) for m, c, s, n in db.execute(query)})


@dataclass(frozen=True)
class PartnerHours:
    """A partner's (none: needs no partner has) median hours, and over how many needs."""

    partner: str | None
    acknowledged: int
    median_to_acknowledge: float | None
    resolved: int
    median_to_resolve: float | None


def partner_hours(db: Session, scope: ImpactScope) -> list[PartnerHours]:
    """The median hours to acknowledge and to resolve each partner's needs, by name."""
    to_ack = _medians(db, scope, Need.acknowledged_at)
    to_resolve = _medians(db, scope, Need.resolved_at)
    partners = sorted(to_ack, key=lambda name: (name is None, name or ""))
    return [
        PartnerHours(partner, *to_ack[partner], *to_resolve.get(partner, (0, None)))
        for partner in partners
    ]


def _medians(
    db: Session, scope: ImpactScope, moment: InstrumentedAttribute[datetime | None]
) -> dict[str | None, tuple[int, float | None]]:
    """Each partner's (by name) count of the period's needs that reached ``moment``, and
    the median hours they took, in one query. Every partner of a need raised in the
    period is there, with 0 and none when none of its needs got that far.

    PostgreSQL has the median built in (``percentile_cont``, over the intervals, turned
    into hours once per partner); SQLite has not, so there the needs are ranked within
    each partner and the middle one (or the two middle ones' mean) kept. Either way the
    hours are ``needs_overview``'s."""
    if db.get_bind().dialect.name == "sqlite":
        return _ranked_medians(db, scope, moment)
    taken = func.percentile_cont(0.5).within_group(moment - Need.created_at)
    query = (
        select(Partner.name, func.count(moment), func.date_part("epoch", taken) / 3600)
        .select_from(Need)
        .outerjoin(Partner, Partner.id == Need.partner_id)
        .where(*raised_needs(scope))
        .group_by(Partner.name)
    )
    return _rounded(db.execute(query))


def _ranked_medians(
    db: Session, scope: ImpactScope, moment: InstrumentedAttribute[datetime | None]
) -> dict[str | None, tuple[int, float | None]]:
    hours = (func.julianday(moment) - func.julianday(Need.created_at)) * 24
    partner = Partner.name
    missing = case((moment.is_(None), 1), else_=0)
    ranked = (
        select(
            partner.label("partner"),
            hours.label("hours"),
            func.row_number().over(partition_by=partner, order_by=(missing, hours)).label("rank"),
            func.count(moment).over(partition_by=partner).label("reached"),
        )
        .select_from(Need)
        .outerjoin(Partner, Partner.id == Need.partner_id)
        .where(*raised_needs(scope))
        .subquery()
    )
    middle = or_(
        ranked.c.rank == (ranked.c.reached + 1) // 2, ranked.c.rank == (ranked.c.reached + 2) // 2
    )
    query = select(
        ranked.c.partner,
        func.max(ranked.c.reached),
        func.avg(case((and_(middle, ranked.c.reached > 0), ranked.c.hours))),
    ).group_by(ranked.c.partner)
    return _rounded(db.execute(query))


def _rounded(rows: Iterable[Any]) -> dict[str | None, tuple[int, float | None]]:
    return {
        name: (int(reached), None if hours is None else round(float(hours), HOURS_DECIMALS))
        for name, reached, hours in rows
    }


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


def most_raised(db: Session, scope: ImpactScope, limit: int = MOST_RAISED) -> list[MostRaised]:
    """The needs raised in the period by the most residents (a duplicate counts in the
    need it was merged into, not on its own), most first, newest first among equals."""
    query = (
        select(Need.id, Need.category, Need.status, Need.demand)
        .where(*raised_needs(scope), Need.status != NeedStatus.DUPLICATE)
        .order_by(Need.demand.desc(), Need.created_at.desc(), Need.id)
        .limit(limit)
    )
    return [
        MostRaised(need_ref(need_id), category, status, int(demand))
        for need_id, category, status, demand in db.execute(query)
    ]
