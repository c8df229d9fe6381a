"""Tags as the tests need them: the managed list holds a tag before an event is given it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from bot.services import Services
from models.audit import Actor
from models.tags.errors import TagError
from models.tags.operations import add_tag
from models.tags.queries import find_tag
from tests.conftest import FakeClock

# The Chinese names the tests' usual tags have (as the demo's, and as the chat read
# them before the list was managed).
CHINESE_NAMES = {"women": "女性", "children": "儿童", "elderly": "长者", "volunteers": "志愿者"}


def given_tags(db: Session, names: Iterable[str], now: datetime) -> None:
    """Tags of these English names, each added unless there already."""
    for name in names:
        try:
            find_tag(db, name)
        except TagError:
            add_tag(db, Actor.os_user("tests"), CHINESE_NAMES.get(name, name), name, now)


@pytest.fixture
def usual_tags(services: Services, clock: FakeClock) -> None:
    """The tests' usual tags (women, children, elderly, volunteers) in the list, for tests
    that tag events through the CLI or the console."""
    with services.session_factory() as db, db.begin():
        given_tags(db, CHINESE_NAMES, clock.now)
