"""The events commands' arguments: a session that turns a refused rule into one line, the
club's time zone, and event ids, numbers and local times as staff type them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from bot.cli.support import (
    StaffError,
    config_from_context,
    parse_id,
    parse_local_time,
    refusing_session,
)
from models.events.errors import EventError
from models.tags.errors import TagError
from models.villages.errors import VillageError
from models.villages.queries import find_village

NONE_WORDS = frozenset({"none", ""})


@contextmanager
def event_session(ctx: click.Context) -> Iterator[Session]:
    """A staff session where a refused rule of events, their tags or villages becomes a
    one-line error (and a rollback)."""
    with refusing_session(ctx, EventError, TagError, VillageError) as db:
        yield db


def village_id_of(db: Session, name: str) -> int | None:
    """The village ``--village`` names (a group as 朝阳村·一组), or None for 'none'."""
    if name.strip().lower() in NONE_WORDS:
        return None
    return find_village(db, name).id


def local_tz(ctx: click.Context) -> ZoneInfo:
    return config_from_context(ctx).bot.tz


def event_id_of(value: str) -> int:
    return parse_id(value, "an event id", "events list")


def integer(value: str, option: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise StaffError(f"{option}: {value!r} is not a whole number") from None


def time_or_none(value: str | None, tz: ZoneInfo, option: str) -> datetime | None:
    return None if value is None else parse_local_time(value, tz, option)


def optional_time(value: str, tz: ZoneInfo, option: str) -> datetime | None:
    if value.strip().lower() in NONE_WORDS:
        return None
    return parse_local_time(value, tz, option)
