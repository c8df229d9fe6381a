"""The impact dashboard's figures, read by models/impact, equal what the reporting views
(needs_overview, event_summary) say of the same needs and events, and each filter
(period, village, tag, partner) narrows them as the page says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, literal, select, text
from sqlalchemy.orm import Session

from bot.services import Services
from models.audit import Actor, AuditAction, AuditEntry
from models.base import UTCDateTime
from models.impact.broadcasts import Reach, broadcast_reach
from models.impact.events import by_month, held_event_rows, total
from models.impact.headline import headline
from models.impact.needs import most_raised, over_deadline, partner_hours, raised_need_counts
from models.impact.period import PeriodError, local_month, local_month_of, period_bounds
from models.impact.publication import public_impact_on, set_public_impact
from models.impact.residents import residents_served
from models.impact.scope import ImpactScope
from models.needs.queue import AckDeadlines
from tests.impact import AFTER, Club, day

TZ = ZoneInfo("Asia/Shanghai")
MARCH = period_bounds("month", "2026-03", TZ)
DEADLINES = AckDeadlines({"education": 2, "environment": 3}, 3)


def march(**narrowed: Any) -> ImpactScope:
    return ImpactScope(MARCH.start, MARCH.end, **narrowed)


def view_rows(db: Session, sql: str, scope: ImpactScope) -> list[Any]:
    """Rows of a query over a view within the scope's bounds (``:start``, ``:end``)."""
    query = text(sql).bindparams(
        bindparam("start", scope.start, type_=UTCDateTime()),
        bindparam("end", scope.end, type_=UTCDateTime()),
    )
    return list(db.execute(query))


HELD_FROM_VIEW = """
    SELECT s.event_id, s.confirmed, s.attended, s.walk_ins, s.attendance_rate
    FROM event_summary s JOIN event e ON e.id = s.event_id
    WHERE e.status IN ('published', 'finished') AND e.starts_at >= :start AND e.starts_at < :end
    {more}
    ORDER BY s.starts_at
"""


def test_event_figures_equal_event_summary(services: Services, club: Club) -> None:
    with services.session_factory() as db:
        rows = held_event_rows(db, march())
        viewed = view_rows(db, HELD_FROM_VIEW.format(more=""), march())
        assert [(r.event_id, r.confirmed, r.attended, r.walk_ins) for r in rows] == [
            (v.event_id, v.confirmed, v.attended, v.walk_ins) for v in viewed
        ]
        for row, seen in zip(rows, viewed, strict=True):
            figures = total([row])
            assert figures.attendance_rate == pytest.approx(float(seen.attendance_rate))
        period = total(rows)
    assert [row.event_id for row in rows] == [club.events["garden"], club.events["tea"]]
    assert (period.events, period.confirmed, period.attended, period.walk_ins) == (2, 6, 4, 1)
    assert period.attendance_rate == pytest.approx(0.667)


def test_a_tag_a_village_and_a_partner_narrow_the_events(
    services: Services, club: Club, partners: dict[str, int]
) -> None:
    with services.session_factory() as db:
        tagged = held_event_rows(db, march(tag="elderly"))
        in_village = held_event_rows(db, march(village_id=club.villages["朝阳村"]))
        cohosted = held_event_rows(db, march(partner_id=partners["镇建设办"]))
        other = held_event_rows(db, march(partner_id=partners["绿源"]))
        april = held_event_rows(db, ImpactScope(MARCH.end, AFTER))
    assert [row.event_id for row in tagged] == [club.events["tea"]]
    assert [row.event_id for row in in_village] == [club.events["garden"]]
    assert [row.event_id for row in cohosted] == [club.events["garden"]]
    assert other == []
    assert [row.event_id for row in april] == [club.events["april"]]


def test_months_sum_to_the_period(services: Services, club: Club) -> None:
    with services.session_factory() as db:
        rows = held_event_rows(db, ImpactScope(day(-30), AFTER))
    months = by_month(rows, TZ)
    assert [month.label for month in months] == ["2026-03", "2026-04"]
    assert sum(month.confirmed for month in months) == total(rows).confirmed


def test_needs_by_category_and_status_equal_needs_overview(services: Services, club: Club) -> None:
    with services.session_factory() as db:
        counted = raised_need_counts(db, march(), TZ).by_category_status()
        viewed = view_rows(
            db,
            "SELECT category, status, COUNT(*) FROM needs_overview"
            " WHERE created_at >= :start AND created_at < :end GROUP BY category, status",
            march(),
        )
    assert counted == {(category, status): count for category, status, count in viewed}
    assert counted == {
        ("infrastructure", "resolved"): 1,
        ("infrastructure", "duplicate"): 2,
        ("education", "submitted"): 1,
        ("environment", "submitted"): 1,
        ("environment", "acknowledged"): 1,
    }


def test_needs_by_month_and_status_equal_needs_overview(services: Services, club: Club) -> None:
    scope = ImpactScope(day(-30), AFTER)
    with services.session_factory() as db:
        counted = raised_need_counts(db, scope, TZ).by_month_status()
        viewed = view_rows(
            db,
            "SELECT ref, created_at, status FROM needs_overview"
            " WHERE created_at >= :start AND created_at < :end",
            scope,
        )
    expected: dict[tuple[str, str], int] = {}
    for _ref, created_at, status in viewed:
        month = local_month(as_utc(created_at), TZ)
        expected[(month, status)] = expected.get((month, status), 0) + 1
    assert counted == expected
    assert counted[("2026-02", "submitted")] == 1
    assert counted[("2026-04", "acknowledged")] == 1


def as_utc(value: datetime | str) -> datetime:
    """A view's timestamp: a datetime on PostgreSQL, naive UTC text on SQLite."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_local_months_counted_in_sql_are_python_s_at_their_edges(services: Services) -> None:
    """The database buckets moments by local month as :func:`local_month` does, to the
    microsecond around local midnight, for a period over three months."""
    start, end = MARCH.start - timedelta(days=10), MARCH.end + timedelta(days=10)
    edge = timedelta(microseconds=1)
    moments = [start, MARCH.start - edge, MARCH.start, MARCH.end - edge, MARCH.end, end - edge]
    with services.session_factory() as db:
        found = [
            db.execute(
                select(local_month_of(literal(moment, UTCDateTime()), start, end, TZ))
            ).scalar_one()
            for moment in moments
        ]
    assert found == [local_month(moment, TZ) for moment in moments]
    assert found == ["2026-02", "2026-02", "2026-03", "2026-03", "2026-04", "2026-04"]


def test_median_hours_per_partner_equal_needs_overview(services: Services, club: Club) -> None:
    scope = ImpactScope(day(-30), AFTER)
    with services.session_factory() as db:
        found = partner_hours(db, scope)
        viewed = view_rows(
            db,
            "SELECT partner, hours_to_acknowledge, hours_to_resolve FROM needs_overview"
            " WHERE created_at >= :start AND created_at < :end",
            scope,
        )
    for row in found:
        mine = [v for v in viewed if v.partner == row.partner]
        acked = [float(v.hours_to_acknowledge) for v in mine if v.hours_to_acknowledge is not None]
        solved = [float(v.hours_to_resolve) for v in mine if v.hours_to_resolve is not None]
        assert row.acknowledged == len(acked)
        assert row.resolved == len(solved)
        assert row.median_to_acknowledge == (round(median(acked), 1) if acked else None)
        assert row.median_to_resolve == (round(median(solved), 1) if solved else None)
    by_name = {row.partner: row for row in found}
    assert by_name["镇建设办"].median_to_acknowledge == pytest.approx(24.0)
    assert by_name["绿源"].median_to_acknowledge == pytest.approx(6.0)


def test_the_most_raised_needs_count_residents_as_needs_overview(
    services: Services, club: Club
) -> None:
    with services.session_factory() as db:
        found = most_raised(db, march())
        viewed = dict(list(db.execute(text("SELECT ref, demand_count FROM needs_overview"))))
    assert [(row.ref, row.demand_count) for row in found] == [
        (row.ref, viewed[row.ref]) for row in found
    ]
    # The lamp: its own resident and the neighbour whose need was merged into it; the
    # same resident's second copy counts once.
    assert found[0].demand_count == 2
    assert all(row.status != "duplicate" for row in found)


def test_needs_over_their_deadline_follow_the_queue_rule(services: Services, club: Club) -> None:
    now = AFTER
    with services.session_factory() as db:
        found = over_deadline(db, march(), DEADLINES, now)
        viewed = view_rows(
            db,
            "SELECT category, created_at FROM needs_overview WHERE status = 'submitted'"
            " AND acknowledged_at IS NULL AND created_at >= :start AND created_at < :end",
            march(),
        )
        village = over_deadline(db, march(village_id=club.villages["朝阳村"]), DEADLINES, now)
    expected: dict[str, int] = {}
    for category, created_at in viewed:
        if as_utc(created_at) < now - timedelta(days=DEADLINES.days(category)):
            expected[category] = expected.get(category, 0) + 1
    assert found == expected == {"education": 1, "environment": 1}
    assert village == {}


def test_residents_served_count_one_identity_across_needs_and_events(
    services: Services, club: Club
) -> None:
    with services.session_factory() as db:
        everyone = residents_served(db, march())
        came = view_rows(
            db,
            "SELECT COUNT(DISTINCT a.resident_id) FROM attendance a JOIN event e"
            " ON e.id = a.event_id WHERE e.status IN ('published', 'finished')"
            " AND e.starts_at >= :start AND e.starts_at < :end",
            march(tag=""),
        )[0][0]
        garden = residents_served(db, march(tag="garden"))
        lijia = residents_served(db, march(village_id=club.villages["李家村"]))
    # r1 r2 r3 r5 raised needs, r1 r2 r4 r6 came: six people, r1 and r2 once each.
    assert everyone == 6
    assert came == 4
    # A tag narrows events only: the garden's three, the needs left out.
    assert garden == 3
    # 李家村: r3 and r1 raised needs there, r4 came to its tea.
    assert lijia == 3


def test_broadcast_reach_is_the_club_s_only(
    services: Services, club: Club, partners: dict[str, int]
) -> None:
    with services.session_factory() as db:
        assert broadcast_reach(db, march()) == Reach(1, 42)
        assert broadcast_reach(db, ImpactScope(MARCH.end, AFTER)) == Reach(0, 0)
        assert broadcast_reach(db, march(village_id=club.villages["朝阳村"])) is None
        assert broadcast_reach(db, march(partner_id=partners["绿源"])) is None


def test_the_headline_holds_counts_only(services: Services, club: Club) -> None:
    with services.session_factory() as db:
        figures = headline(db, march(), TZ)
    assert figures.activities == 2
    assert figures.residents_served == 6
    assert figures.attended == 5
    assert figures.needs_raised == 6
    assert figures.needs_resolved == 1
    assert figures.broadcast_recipients == 42


@pytest.mark.parametrize(
    ("kind", "value", "start", "end"),
    [
        (
            "month",
            "2026-03",
            datetime(2026, 2, 28, 16, tzinfo=UTC),
            datetime(2026, 3, 31, 16, tzinfo=UTC),
        ),
        (
            "quarter",
            "2026-q4",
            datetime(2026, 9, 30, 16, tzinfo=UTC),
            datetime(2026, 12, 31, 16, tzinfo=UTC),
        ),
        (
            "year",
            "2026",
            datetime(2025, 12, 31, 16, tzinfo=UTC),
            datetime(2026, 12, 31, 16, tzinfo=UTC),
        ),
    ],
)
def test_periods_are_local_months(kind: str, value: str, start: datetime, end: datetime) -> None:
    period = period_bounds(kind, value, TZ)
    assert (period.start, period.end) == (start, end)


def test_a_custom_period_takes_both_days_whole() -> None:
    period = period_bounds("custom", "", TZ, "2026-03-01", "2026-03-01")
    assert period.end - period.start == timedelta(days=1)
    assert period.until(period.start + timedelta(hours=3)).end == period.start + timedelta(hours=3)


@pytest.mark.parametrize(
    ("kind", "value", "start", "end", "key"),
    [
        ("week", "2026-03", "", "", "impact_error_period"),
        ("month", "2026-13", "", "", "impact_error_period"),
        ("quarter", "2026-Q5", "", "", "impact_error_period"),
        ("year", "26", "", "", "impact_error_period"),
        ("custom", "", "2026-03-02", "2026-03-01", "impact_error_dates"),
        ("custom", "", "March", "2026-03-01", "impact_error_date"),
        ("custom", "", "2000-01-01", "2026-03-01", "impact_error_dates"),
    ],
)
def test_a_period_that_names_nothing_is_refused(
    kind: str, value: str, start: str, end: str, key: str
) -> None:
    with pytest.raises(PeriodError) as refused:
        period_bounds(kind, value, TZ, start, end)
    assert refused.value.key == key


def test_the_public_page_switch_is_off_until_turned_on_and_audited(
    services: Services, clock: Any
) -> None:
    admin = Actor.os_user("admin")
    with services.session_factory() as db, db.begin():
        assert not public_impact_on(db)
        set_public_impact(db, admin, True, clock.now)
        set_public_impact(db, admin, True, clock.now)
    with services.session_factory() as db, db.begin():
        assert public_impact_on(db)
        set_public_impact(db, admin, False, clock.now)
    with services.session_factory() as db:
        assert not public_impact_on(db)
        entries = db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    assert [(e.action, e.after) for e in entries] == [
        (AuditAction.SWITCH_CHANGE, {"public_impact": True}),
        (AuditAction.SWITCH_CHANGE, {"public_impact": False}),
    ]
