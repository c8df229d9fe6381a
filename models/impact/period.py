"""A reporting period as people name it (a month, a quarter, a year, or two dates) turned
into UTC bounds: periods start and end at local midnight in the club's timezone, since
"March" means March where the club is, not in Greenwich."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, literal
from sqlalchemy.orm import InstrumentedAttribute

from texts.errors import CatalogError


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CUSTOM = "custom"


class PeriodError(CatalogError):
    """A period that cannot be read; nothing is shown for it."""


# The longest custom period: ten years of figures is already more than a page shows.
CUSTOM_MAX_DAYS = 3660
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC, and the label people read (2026-03, 2026-Q1, 2026, or
    2026-03-01 – 2026-03-15)."""

    start: datetime
    end: datetime
    label: str

    def until(self, now: datetime) -> Period:
        """The period so far: figures never count what has not happened yet."""
        return Period(self.start, min(self.end, max(now, self.start)), self.label)


def current_value(kind: PeriodKind, today: date) -> str:
    """The period of ``kind`` that holds ``today``, as :func:`period_bounds` reads it."""
    if kind == PeriodKind.MONTH:
        return f"{today.year}-{today.month:02d}"
    if kind == PeriodKind.QUARTER:
        return f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    return str(today.year)


def period_bounds(kind: str, value: str, tz: ZoneInfo, start: str = "", end: str = "") -> Period:
    """The period ``kind`` and ``value`` name (``start`` and ``end``, inclusive dates as
    YYYY-MM-DD, for a custom one); :class:`PeriodError` when they name none."""
    try:
        chosen = PeriodKind(kind)
    except ValueError:
        raise PeriodError("impact_error_period", value=kind) from None
    if chosen == PeriodKind.CUSTOM:
        first, last = _day(start), _day(end)
        if last < first or (last - first).days > CUSTOM_MAX_DAYS:
            raise PeriodError("impact_error_dates", start=start, end=end)
        return _local(first, last + timedelta(days=1), tz, f"{first} – {last}")
    value = value.strip()
    first_month, months = _months(chosen, value)
    year, month = first_month
    after = _add_months(year, month, months)
    return _local(date(year, month, 1), after, tz, value.upper())


def _months(kind: PeriodKind, value: str) -> tuple[tuple[int, int], int]:
    """The first (year, month) of the period and how many months it spans."""
    if kind == PeriodKind.MONTH and (found := _MONTH.match(value)):
        month = int(found.group(2))
        if 1 <= month <= 12:
            return (int(found.group(1)), month), 1
    if kind == PeriodKind.QUARTER and (found := _QUARTER.match(value)):
        return (int(found.group(1)), 3 * int(found.group(2)) - 2), 3
    if kind == PeriodKind.YEAR and (found := _YEAR.match(value)):
        return (int(found.group(1)), 1), 12
    raise PeriodError("impact_error_period", value=value)


def _add_months(year: int, month: int, months: int) -> date:
    index = year * 12 + month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError("impact_error_date", value=text) from None


def _local(first: date, after: date, tz: ZoneInfo, label: str) -> Period:
    start = datetime(first.year, first.month, first.day, tzinfo=tz).astimezone(UTC)
    end = datetime(after.year, after.month, after.day, tzinfo=tz).astimezone(UTC)
    return Period(start, end, label)


def local_month(moment: datetime, tz: ZoneInfo) -> str:
    """The local month a moment falls in (2026-03): the buckets of the charts over time."""
    return moment.astimezone(tz).strftime("%Y-%m")


def local_month_of(
    column: ColumnElement[datetime] | InstrumentedAttribute[datetime],
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
) -> ColumnElement[str]:
    """SQL for :func:`local_month` of ``column``, for moments in ``[start, end)``: a CASE
    over the UTC instants the local months between them end at, so the database groups
    by local month the same way on PostgreSQL and SQLite (which has no time zones)."""
    first = start.astimezone(tz)
    year, month = first.year, first.month
    branches: list[tuple[ColumnElement[bool], ColumnElement[str]]] = []
    while True:
        after = _add_months(year, month, 1)
        ends = datetime(after.year, after.month, after.day, tzinfo=tz).astimezone(UTC)
        label = f"{year}-{month:02d}"
        if ends >= end:
            return case(*branches, else_=literal(label)) if branches else literal(label)
        branches.append((column < ends, literal(label)))
        year, month = after.year, after.month
