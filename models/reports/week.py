"""Which week a weekly report covers, and when it is due.

The report is due on a configured local weekday and time (Monday 08:30 by default) and
covers the seven local days before that day, so Monday's report is the week just ended,
Monday to Sunday. The bounds are local midnights in the club's timezone, the way the
impact dashboard's periods are (models/impact/period.py), so the report's figures are
the dashboard's for the same dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

WEEK = timedelta(days=7)
# How long after its due time a report may still be queued: a scheduler that was down
# at the time catches up that day, but a report days late is left out.
LATE_LIMIT = timedelta(days=1)


class Weekday(StrEnum):
    """The day a weekly report is due, as ``reports.weekly_day`` names it; the order is
    Python's ``date.weekday()``."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        """0 for Monday, as ``date.weekday()`` and cron's ``day_of_week`` count."""
        return list(Weekday).index(self)


@dataclass(frozen=True)
class ReportWeek:
    """The seven local days ``first`` to ``last`` and their UTC bounds ``[start, end)``;
    ``due`` is when its report is due and ``next_due`` when the next one is."""

    first: date
    start: datetime
    end: datetime
    due: datetime
    next_due: datetime

    @property
    def last(self) -> date:
        return self.first + timedelta(days=6)

    @property
    def label(self) -> str:
        """The dates as people read them: 2026-11-23 – 2026-11-29."""
        return f"{self.first.isoformat()} – {self.last.isoformat()}"


def parse_time(text: str) -> time:
    """``HH:MM`` as a time of day (the config checks the form before it gets here)."""
    hours, minutes = (int(part) for part in text.split(":"))
    return time(hours, minutes)


def latest_week(now: datetime, tz: ZoneInfo, day: Weekday, at: time) -> ReportWeek:
    """The week whose report was due most recently at or before ``now``."""
    local = now.astimezone(tz)
    due_day = local.date() - timedelta(days=(local.weekday() - day.number) % 7)
    if _at(due_day, at, tz) > now:
        due_day -= WEEK
    return _week(due_day, at, tz)


def _week(due_day: date, at: time, tz: ZoneInfo) -> ReportWeek:
    first = due_day - WEEK
    return ReportWeek(
        first=first,
        start=_midnight(first, tz),
        end=_midnight(due_day, tz),
        due=_at(due_day, at, tz),
        next_due=_at(due_day + WEEK, at, tz),
    )


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return _at(day, time(), tz)


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def is_late(week: ReportWeek, now: datetime) -> bool:
    """Whether the week's report is past the time it may still be queued."""
    return now >= week.due + LATE_LIMIT
