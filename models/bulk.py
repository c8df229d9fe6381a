"""Many rows into one table in one statement, cheaply on PostgreSQL.

SQLAlchemy's bulk insert spells every value out as its own placeholder (thousands of
them), which psycopg must then parse, or sends one statement per row; on PostgreSQL each
column travels instead as one array and ``unnest`` turns the arrays back into rows, so
the statement stays short whatever the number of rows. SQLite keeps the bulk insert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Row, Table, insert, text
from sqlalchemy.orm import Session


def insert_rows(
    db: Session, table: Table, rows: Sequence[dict[str, Any]], returning: Sequence[str] = ()
) -> list[Row[Any]]:
    """Insert ``rows`` (dicts with the same keys) and return ``returning`` of each, in no
    particular order: match them up by a unique column, not by position."""
    if not rows:
        return []
    dialect = db.get_bind().dialect
    if dialect.name != "postgresql":
        statement = insert(table)
        if returning:
            result = db.execute(statement.returning(*(table.c[c] for c in returning)), rows)
            return list(result.all())
        db.execute(statement, rows)
        return []
    columns = list(rows[0])
    arrays = ", ".join(
        f"CAST(:{name} AS {table.c[name].type.compile(dialect=dialect)}[])" for name in columns
    )
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    values = {name: [_plain(table, name, row[name]) for row in rows] for name in columns}
    result = db.execute(text(sql), values)
    return list(result.all()) if returning else []


def _plain(table: Table, name: str, value: Any) -> Any:
    """JSON columns travel as their text; everything else as psycopg adapts it."""
    if value is not None and isinstance(table.c[name].type, JSON):
        return json.dumps(value, ensure_ascii=False)
    return value
