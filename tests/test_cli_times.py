"""Every time staff type is one line and exit 2 when nobody can mean it, never a traceback.

Times are kept in UTC within the years 1 to 9999, so a time within hours of either end may
have no stored or no shown form (Python raises OverflowError); and what staff schedule (a
broadcast's --at, an event's start or end) may be at most a year ahead
(models.events.staff.SCHEDULE_HORIZON), since near 9999 the quota periods, reminders and
check-in window overflow too. The CLI uses the real clock, so times here are relative to
now, in Shanghai time.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from bot.services import Services
from models import Broadcast
from models.audit import Actor
from models.base import utcnow
from models.broadcasts.fanout import create_broadcast
from models.broadcasts.messages import text_message
from models.broadcasts.records import BroadcastError
from models.events.errors import EventError
from models.events.staff import SCHEDULE_HORIZON, create_event
from models.events.tables import Event
from tests.cli import fail, run
from tests.helpers import count, local
from tests.pushes import add_resident

# Each has no UTC form or no Shanghai form.
OUT_OF_RANGE = (
    "9999-12-31T20:00-12:00",  # 10000-01-01 in UTC
    "9999-12-31T20:00+00:00",  # 10000-01-01 in Shanghai
    "0001-01-01T01:00",  # year 0 in UTC
)


SOON = local(timedelta(days=30))
PAST_HORIZON = (local(timedelta(days=367)), "9999-12-15T10:00")


def stored_event(services: Services) -> int:
    """A draft event a month ahead, for `events update`."""
    with services.session_factory() as db, db.begin():
        starts = utcnow() + timedelta(days=30)
        return create_event(db, title="清洁日", starts_at=starts, capacity=5, now=utcnow()).id


BROADCAST = ("broadcast", "--text", "通知", "--audience", "all")
CREATE = ("events", "create", "--title", "清洁日", "--capacity", "5")

# Every staff option that takes a time, before the time itself.
TIME_OPTIONS = {
    "broadcast --at": (*BROADCAST, "--at"),
    "broadcast --mass --dry-run --at": (*BROADCAST, "--mass", "--dry-run", "--at"),
    "events create --starts-at": (*CREATE, "--starts-at"),
    "events create --ends-at": (*CREATE, "--starts-at", SOON, "--ends-at"),
    "events create --deadline": (*CREATE, "--starts-at", SOON, "--deadline"),
    "needs list --since": ("needs", "list", "--since"),
}


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("command", TIME_OPTIONS.values(), ids=TIME_OPTIONS.keys())
def test_a_time_with_no_utc_or_local_form_is_one_line(
    staff: CliRunner, services: Services, command: tuple[str, ...], value: str
) -> None:
    add_resident(services, "o-1")
    add_resident(services, "o-2")
    line = fail(staff, *command, value)
    assert line == (
        f"error: {command[-1]}: {value!r} is out of range (times are kept in UTC, within "
        "the years 1 to 9999)"
    )
    assert count(services, Broadcast) == 0 and count(services, Event) == 0


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("option", ["--starts-at", "--ends-at", "--deadline"])
def test_updating_an_event_to_such_a_time_is_one_line(
    staff: CliRunner, services: Services, option: str, value: str
) -> None:
    event_id = stored_event(services)
    line = fail(staff, "events", "update", str(event_id), option, value)
    assert f"{option}: {value!r} is out of range" in line


@pytest.mark.parametrize("value", PAST_HORIZON, ids=["a year and 2 days", "year 9999"])
@pytest.mark.parametrize("mass", [(), ("--mass", "--dry-run")], ids=["normal", "mass dry run"])
def test_a_broadcast_more_than_a_year_ahead_is_refused(
    staff: CliRunner, services: Services, value: str, mass: tuple[str, ...]
) -> None:
    add_resident(services, "o-1")
    add_resident(services, "o-2")
    line = fail(staff, *BROADCAST, *mass, "--at", value)
    shown = value.replace("T", " ")
    assert line.startswith(f"error: --at {shown} (Asia/Shanghai) is more than a year ahead; ")
    assert "the latest is " in line
    assert count(services, Broadcast) == 0


def test_a_broadcast_within_the_year_is_scheduled(staff: CliRunner, services: Services) -> None:
    add_resident(services, "o-1")
    add_resident(services, "o-2")
    run(staff, *BROADCAST, "--mass", "--at", local(timedelta(days=360)))
    assert count(services, Broadcast) == 1


@pytest.mark.parametrize("value", PAST_HORIZON, ids=["a year and 2 days", "year 9999"])
@pytest.mark.parametrize(
    ("option", "what"), [("--starts-at", "start"), ("--ends-at", "end")], ids=["start", "end"]
)
def test_an_event_more_than_a_year_ahead_is_refused(
    staff: CliRunner, services: Services, option: str, what: str, value: str
) -> None:
    starts = () if option == "--starts-at" else ("--starts-at", SOON)
    line = fail(staff, *CREATE, *starts, option, value)
    assert line == f"error: the {what} time is more than a year ahead"
    assert count(services, Event) == 0
    event_id = stored_event(services)
    line = fail(staff, "events", "update", str(event_id), option, value)
    assert line == f"error: the {what} time is more than a year ahead"


def test_an_event_within_the_year_is_created(staff: CliRunner, services: Services) -> None:
    run(
        staff,
        *CREATE,
        "--starts-at",
        local(timedelta(days=360)),
        "--ends-at",
        local(timedelta(days=360.1)),
    )
    assert count(services, Event) == 1


def test_an_event_stored_further_ahead_can_still_be_edited(
    staff: CliRunner, services: Services
) -> None:
    """Only the times staff change are held to the horizon, so an event stored before the
    rule is not locked: its title can change, and its start can be brought nearer."""
    event_id = stored_event(services)
    far = utcnow() + timedelta(days=800)
    with services.session_factory() as db, db.begin():
        db.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(starts_at=far, ends_at=far + timedelta(hours=2))
        )
    run(staff, "events", "update", str(event_id), "--title", "新标题")
    run(staff, "events", "update", str(event_id), "--starts-at", SOON, "--ends-at", "none")


def test_needs_since_far_ahead_is_only_a_filter(staff: CliRunner) -> None:
    """--since filters what exists; a far date finds nothing and schedules nothing."""
    assert run(staff, "needs", "list", "--since", "9999-12-31").stdout.strip() == "(none)"


def test_the_models_refuse_past_the_horizon_too(services: Services) -> None:
    now = utcnow()
    beyond = now + SCHEDULE_HORIZON + timedelta(minutes=1)
    with services.session_factory() as db:
        with pytest.raises(BroadcastError, match=r"\(UTC\) is more than a year ahead"):
            create_broadcast(
                db,
                Actor.os_user("test"),
                texts=text_message("x"),
                audience="all",
                now=now,
                scheduled_at=beyond,
            )
        with pytest.raises(EventError, match="start time is more than a year ahead"):
            create_event(db, title="T", starts_at=beyond, capacity=5, now=now)
        assert create_broadcast(
            db,
            Actor.os_user("test"),
            texts=text_message("x"),
            audience="all",
            now=now,
            scheduled_at=beyond - timedelta(minutes=2),
        ).scheduled_at == beyond - timedelta(minutes=2)


# Every option where a date alone would be read as its midnight, which nobody means.
NEEDS_A_TIME = {name: command for name, command in TIME_OPTIONS.items() if "--since" not in name}


@pytest.mark.parametrize("command", NEEDS_A_TIME.values(), ids=NEEDS_A_TIME.keys())
def test_a_date_without_a_time_is_refused_where_a_moment_is_meant(
    staff: CliRunner, services: Services, command: tuple[str, ...]
) -> None:
    add_resident(services, "o-1")
    day = local(timedelta(days=30))[:10]
    line = fail(staff, *command, day)
    assert line == (
        f"error: {command[-1]}: {day!r} has no time of day; give the date and the time, "
        "like 2026-06-01T09:30"
    )
    assert count(services, Broadcast) == 0 and count(services, Event) == 0


@pytest.mark.parametrize("option", ["--starts-at", "--ends-at", "--deadline"])
def test_updating_an_event_to_a_date_alone_is_refused(
    staff: CliRunner, services: Services, option: str
) -> None:
    event_id = stored_event(services)
    day = local(timedelta(days=20))[:10]
    line = fail(staff, "events", "update", str(event_id), option, day)
    assert f"{option}: {day!r} has no time of day" in line


def test_since_takes_a_date_alone_as_the_start_of_that_day(staff: CliRunner) -> None:
    listed = json.loads(
        run(staff, "needs", "list", "--since", local(timedelta(days=-1))[:10], "--json").output
    )
    assert listed == {"rows": [], "total": 0, "offset": 0}
