"""The dashboard's tables: each chart's figures as rows with headings in the page's
language, so the chart, the table under it and its CSV and XLSX downloads show the same
numbers. A chart is described by which column holds its categories and which its
series; ``impact_charts.js`` turns that into an ECharts option."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext
from sqlalchemy.orm import Session

from bot.console.names import status_name
from models.impact.broadcasts import broadcast_reach
from models.impact.events import by_month, held_event_rows, total
from models.impact.needs import most_raised, over_deadline, partner_hours, raised_need_counts
from models.impact.residents import residents_served
from models.impact.scope import ImpactScope
from models.needs.queue import AckDeadlines


@dataclass(frozen=True)
class Chart:
    """A bar or line chart: categories from ``axis`` (a column's index), one series per
    column of ``series``; ``pivot`` (a column) turns one column's values into series."""

    kind: str
    axis: int
    series: tuple[int, ...]
    pivot: int | None = None


@dataclass(frozen=True)
class ImpactTable:
    key: str
    title: str
    headers: list[str]
    rows: list[list[Any]]
    chart: Chart | None = None

    def chart_data(self) -> dict[str, Any] | None:
        """What impact_charts.js draws, or none for a table without a chart."""
        if self.chart is None:
            return None
        return {
            "kind": self.chart.kind,
            "headers": self.headers,
            "rows": self.rows,
            "axis": self.chart.axis,
            "series": list(self.chart.series),
            "pivot": self.chart.pivot,
        }


@dataclass(frozen=True)
class Inputs:
    """What the tables are built from besides the session and the scope."""

    tz: ZoneInfo
    deadlines: AckDeadlines
    now: datetime
    category_name: Callable[[str], str]


def impact_tables(db: Session, scope: ImpactScope, inputs: Inputs) -> list[ImpactTable]:
    """Every table of the dashboard, in the page's order."""
    events = held_event_rows(db, scope)
    needs = raised_need_counts(db, scope, inputs.tz)
    name = inputs.category_name
    period = total(events)
    reach = broadcast_reach(db, scope)
    headline = [
        [gettext("impact_activities"), period.events],
        [gettext("impact_residents_served"), residents_served(db, scope)],
        [gettext("impact_confirmed"), period.confirmed],
        [gettext("impact_attended"), period.attended],
        [gettext("impact_walk_ins"), period.walk_ins],
        [gettext("impact_attendance_rate"), period.attendance_rate],
        [gettext("impact_needs_raised"), needs.total],
    ]
    if reach is not None:
        headline.append([gettext("impact_broadcasts_sent"), reach.broadcasts])
        headline.append([gettext("impact_broadcast_recipients"), reach.recipients])
    months = by_month(events, inputs.tz)
    return [
        ImpactTable(
            "headline",
            gettext("impact_table_headline"),
            _heads("impact_column_figure", "impact_column_value"),
            headline,
        ),
        ImpactTable(
            "attendance",
            gettext("impact_table_attendance"),
            _heads(
                "impact_column_month",
                "impact_column_activities",
                "impact_column_confirmed",
                "impact_column_attended",
                "impact_column_walk_ins",
                "impact_column_attendance_rate",
            ),
            [
                [m.label, m.events, m.confirmed, m.attended, m.walk_ins, m.attendance_rate]
                for m in months
            ],
            Chart("bar", 0, (2, 3, 4)),
        ),
        ImpactTable(
            "needs_status",
            gettext("impact_table_needs_status"),
            _heads("impact_column_category", "impact_column_status", "impact_column_needs"),
            [
                [name(category), status_name(status), count]
                for (category, status), count in sorted(needs.by_category_status().items())
            ],
            Chart("bar", 0, (2,), pivot=1),
        ),
        ImpactTable(
            "needs_months",
            gettext("impact_table_needs_months"),
            _heads("impact_column_month", "impact_column_category", "impact_column_needs"),
            [
                [month, name(category), count]
                for (month, category), count in sorted(needs.by_month_category().items())
            ],
            Chart("line", 0, (2,), pivot=1),
        ),
        ImpactTable(
            "needs_months_status",
            gettext("impact_table_needs_months_status"),
            _heads("impact_column_month", "impact_column_status", "impact_column_needs"),
            [
                [month, status_name(status), count]
                for (month, status), count in sorted(needs.by_month_status().items())
            ],
            Chart("line", 0, (2,), pivot=1),
        ),
        ImpactTable(
            "partner_hours",
            gettext("impact_table_partner_hours"),
            _heads(
                "impact_column_partner",
                "impact_column_acknowledged",
                "impact_column_to_acknowledge",
                "impact_column_resolved",
                "impact_column_to_resolve",
            ),
            [
                [
                    row.partner or gettext("impact_no_partner"),
                    row.acknowledged,
                    row.median_to_acknowledge,
                    row.resolved,
                    row.median_to_resolve,
                ]
                for row in partner_hours(db, scope)
            ],
            Chart("bar", 0, (2, 4)),
        ),
        ImpactTable(
            "over_deadline",
            gettext("impact_table_over_deadline"),
            _heads("impact_column_category", "impact_column_needs"),
            [
                [name(category), count]
                for category, count in sorted(
                    over_deadline(db, scope, inputs.deadlines, inputs.now).items()
                )
            ],
            Chart("bar", 0, (1,)),
        ),
        ImpactTable(
            "most_raised",
            gettext("impact_table_most_raised"),
            _heads(
                "impact_column_need",
                "impact_column_category",
                "impact_column_status",
                "impact_column_residents",
            ),
            [
                [row.ref, name(row.category), status_name(row.status), row.demand_count]
                for row in most_raised(db, scope)
            ],
            Chart("bar", 0, (3,)),
        ),
    ]


def _heads(*keys: str) -> list[str]:
    return [gettext(key) for key in keys]
