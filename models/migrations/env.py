"""Alembic environment: runs the package's migrations against the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from models import Base
from models.db import Timeouts, make_engine
from models.migrate import CONNECT_TIMEOUT_ATTRIBUTE

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connect_timeout_s = context.config.attributes.get(CONNECT_TIMEOUT_ATTRIBUTE, Timeouts.connect_s)
    engine = make_engine(
        context.config.get_main_option("sqlalchemy.url") or "",
        timeouts=Timeouts(connect_s=connect_timeout_s),
    )
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _foreign_keys_off(connection)
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=sqlite
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                _require_references_intact(connection)
    engine.dispose()


def _foreign_keys_off(connection: Connection) -> None:
    """Batch migrations rebuild a SQLite table (copy, drop, rename), and with foreign keys
    enforced the drop fails once other tables' rows point at it. SQLite's own recipe:
    keys off for the change, set before any transaction (inside one the pragma does
    nothing), then every reference checked before committing."""
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("the SQLite connection closed before the migration began")
    driver.execute("PRAGMA foreign_keys=OFF")


def _require_references_intact(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")


run_migrations_online()
