"""Model conventions set once: naming convention, UTC datetimes, timestamps.

Constraint names follow one convention so that migrations written by hand, autogenerate
and both databases agree on them; datetimes are timezone-aware UTC everywhere in Python,
whatever the database keeps, so no naive time ever reaches a comparison.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CheckConstraint,
    CursorResult,
    DateTime,
    MetaData,
    Result,
    Select,
    String,
    func,
    literal_column,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

# A query of any columns, kept as its own type by the functions that add conditions to it.
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The largest id an integer primary key holds; PostgreSQL refuses a larger one with an error.
ID_MAX = 2**31 - 1


def is_id(value: object) -> bool:
    """Whether ``value`` (from an address, a form or stored JSON) is text naming a row's
    id: digits only, and small enough to look up without the database refusing it."""
    return isinstance(value, str) and value.isdecimal() and int(value) <= ID_MAX


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite forgets the zone and PostgreSQL returns the session's zone; both come back as
    UTC here. A naive datetime is refused on the way in: it is a bug, not a local time.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def check_one_of(column: str, vocabulary: type[StrEnum]) -> CheckConstraint:
    """A CHECK that ``column`` holds one of the vocabulary's values (or is empty), named
    after the column (``ck_<table>_<column>``).

    Built from the enum, so a value added to or removed from a vocabulary changes the
    table's CHECK with it, and the test comparing the models with the migrated schema asks
    for the migration that follows.
    """
    values = ", ".join(f"'{member.value}'" for member in vocabulary)
    return CheckConstraint(f"{column} IN ({values})", name=column)


def vocabulary_constant(value: StrEnum) -> ColumnElement[str]:
    """A vocabulary value written into a statement's SQL rather than bound (its values are
    plain words, never quoted). psycopg prepares a statement run often, and PostgreSQL's
    generic plan for it can use a partial index (``WHERE status = 'held'``) only when
    the predicate's constant is in the statement itself."""
    return literal_column(f"'{value.value}'", String)


def page_count(total: int, page_size: int) -> int:
    """How many pages of ``page_size`` rows ``total`` rows fill; an empty list is still one
    page, so a list page always has a page 1 to show."""
    return max(1, -(-total // page_size))


def utcnow() -> datetime:
    return datetime.now(UTC)


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (typed: only a cursor result carries the count)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def local_text(moment: datetime, tz: ZoneInfo) -> str:
    """A stored UTC time as residents and staff read it: local, to the minute."""
    # isoformat, cut after the minutes, is strftime("%Y-%m-%d %H:%M") at a third of its
    # cost, which an export of hundreds of thousands of times notices.
    return moment.astimezone(tz).isoformat(" ", "minutes")[:16]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.current_timestamp()
    )
