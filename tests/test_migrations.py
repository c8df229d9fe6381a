"""Migrations read like history: one head, reversible, and matching the models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from models import Base
from models.db import make_engine
from models.migrate import downgrade, heads, upgrade
from tests.databases import create_postgres_database, drop_postgres_database


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    server = os.environ.get("AIXIANG_TEST_DATABASE_URL")
    if server:
        url = create_postgres_database(server)
        yield url
        drop_postgres_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"


def test_single_head() -> None:
    assert len(heads()) == 1


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    upgrade(empty_database)
    downgrade(empty_database, "base")
    upgrade(empty_database)


def test_migrations_match_the_models(empty_database: str) -> None:
    upgrade(empty_database)
    engine = make_engine(empty_database)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []
