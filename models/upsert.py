"""INSERT ... ON CONFLICT DO NOTHING for both databases.

Concurrent first contacts (two deliveries of a new resident's first message, two workers
claiming one key) must not fail on a unique constraint; both dialects support the same
statement, spelled through their own insert constructs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflict(
    db: Session, model: type[Any], values: dict[str, Any], conflict_columns: list[str]
) -> Any | None:
    """Insert a row unless one with the same ``conflict_columns`` exists; return its id or None.

    On PostgreSQL an insert racing another transaction's uncommitted row with the same key
    waits for it, so a None here means "someone else has it", never "maybe".
    """
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(model.id)
    )
    return db.execute(statement).scalar_one_or_none()
