"""INSERT ... ON CONFLICT DO NOTHING for both databases.

Concurrent first contacts (two deliveries of a new resident's first message, two workers
claiming one key) must not fail on a unique constraint; both dialects support the same
statement, spelled through their own insert constructs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflict(
    db: Session | Connection,
    model: type[Any],
    values: dict[str, Any],
    conflict_columns: list[str],
) -> Any | None:
    """Insert a row unless one with the same ``conflict_columns`` exists; return its id or None.

    On PostgreSQL an insert racing another transaction's uncommitted row with the same key
    waits for it, so a None here means "someone else has it", never "maybe".
    """
    dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
    statement = _statement(dialect.name, model.__table__, tuple(conflict_columns))
    return db.execute(statement, values).scalar_one_or_none()


@lru_cache(maxsize=64)
def _statement(dialect: str, table: Table, conflict_columns: tuple[str, ...]) -> Insert:
    """Built once per table: the values travel as parameters, so SQLAlchemy neither rebuilds
    the statement nor walks the values to find its compiled form (the webhook runs this
    twice per message)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
        .returning(table.c.id)
    )
