"""Events as the chat tests need them: a published event made to measure, places taken."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.services import Services
from models.events.signups import sign_up
from models.events.staff import create_event
from models.residents import get_or_create_resident
from tests.conftest import FakeClock
from tests.tags import given_tags

MakeEvent = Callable[..., int]


@pytest.fixture
def make_event(services: Services, clock: FakeClock) -> MakeEvent:
    """Creates a published event two days ahead (10:00 in Shanghai); returns its id. Its
    tags are added to the list first when they are not there."""

    def make(**fields: Any) -> int:
        values: dict[str, Any] = {
            "title": "社区花园共建",
            "starts_at": clock.now + timedelta(days=2),
            "ends_at": clock.now + timedelta(days=2, hours=2),
            "capacity": 10,
            "place": "社区花园",
            "publish": True,
        }
        values.update(fields)
        with services.session_factory() as db, db.begin():
            given_tags(db, values.get("tags", ()), clock.now)
            return create_event(db, now=clock.now, **values).id

    return make


def fill(services: Services, clock: FakeClock, event_id: int, count: int) -> None:
    """``count`` other residents take a place each (waitlisted once it is full)."""
    with services.session_factory() as db, db.begin():
        for index in range(count):
            other = get_or_create_resident(db, f"o-filler-{event_id}-{index}", clock.now)
            sign_up(db, event_id, other, 1, clock.now)
