"""Numbers past the integer columns' range are refused in one line, before PostgreSQL.

PostgreSQL's integer stops at 2147483647 and refuses a larger value with an error that
reached staff as a traceback; SQLite stores it. Both must give the same one-line answer.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.services import Services
from models.events.errors import EventError, EventRefusal
from models.events.queries import get_event
from models.events.staff import create_event, update_event
from models.events.tables import Event
from tests.cli import fail
from tests.conftest import FakeClock
from tests.helpers import count, local
from tests.test_events_cli import create, event

TOO_LARGE = "3000000000"
ID_MAX = 2_147_483_647


def test_create_refuses_a_capacity_past_the_column(staff: CliRunner, services: Services) -> None:
    line = fail(
        staff,
        "events",
        "create",
        "--title",
        "T",
        "--starts-at",
        local(timedelta(days=3)),
        "--capacity",
        TOO_LARGE,
    )
    assert line == f"error: capacity must be at most {ID_MAX}"
    assert count(services, Event) == 0


def test_update_refuses_a_capacity_past_the_column(staff: CliRunner, services: Services) -> None:
    event_id = create(staff, "--publish")
    line = fail(staff, "events", "update", str(event_id), "--capacity", TOO_LARGE)
    assert line == f"error: capacity must be at most {ID_MAX}"
    assert event(services, event_id).capacity == 3


@pytest.mark.parametrize(
    "command",
    [
        ("publish",),
        ("roster",),
        ("cancel", "--reason", "雨天"),
        ("update", "--title", "x"),
        ("checkin", "--code", "123456"),
    ],
)
def test_an_id_past_the_column_is_one_line(staff: CliRunner, command: tuple[str, ...]) -> None:
    name, *options = command
    line = fail(staff, "events", name, "99999999999", *options)
    assert line == "error: '99999999999' is too large to be an event id (see `events list`)"


def test_the_largest_id_is_merely_unknown(staff: CliRunner) -> None:
    assert fail(staff, "events", "roster", str(ID_MAX)) == f"error: there is no event {ID_MAX}"


def test_the_model_refuses_them_too(services: Services, clock: FakeClock) -> None:
    """The chat and the console call the model directly, without the CLI's parsing.
    (A refused change is rolled back by the caller: the session closes uncommitted.)"""
    starts_at = clock.now + timedelta(days=1)
    with services.session_factory() as db:
        with pytest.raises(EventError) as unknown:
            get_event(db, 99_999_999_999, lock=True)
        assert unknown.value.reason == EventRefusal.UNKNOWN_EVENT
        with pytest.raises(EventError) as invalid:
            create_event(db, title="T", starts_at=starts_at, capacity=ID_MAX + 1, now=clock.now)
        assert invalid.value.reason == EventRefusal.INVALID
        held = create_event(db, title="T", starts_at=starts_at, capacity=ID_MAX, now=clock.now)
        with pytest.raises(EventError, match="at most"):
            update_event(db, held.id, clock.now, ZoneInfo("Asia/Shanghai"), capacity=ID_MAX + 1)
