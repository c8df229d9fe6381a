"""Shared fixtures: one database and Redis per run, emptied between tests.

By default the suite runs on SQLite and the in-process Redis substitute; with
AIXIANG_TEST_DATABASE_URL / AIXIANG_TEST_REDIS_URL set (CI sets both) it runs on the real
servers, in a database created for this run and a Redis db flushed before each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.config import MEMORY_REDIS_URL, Config, load_config
from bot.redis_conn import connect_redis
from bot.services import Services, build_services
from models import Base
from models.migrate import upgrade
from tests.settings import TEST_AES_KEY, TEST_APP_ID, TEST_APP_SECRET, TEST_TOKEN

pytest_plugins = ["tests.chat"]


class FakeClock:
    """The time every test sees; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


def _create_postgres_database(server_url: str) -> str:
    """A fresh database on the test server for this run; returns its URL."""
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"aixiang_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("AIXIANG_TEST_DATABASE_URL")
    if server:
        url = _create_postgres_database(server)
        upgrade(url)
        yield url
        _drop_postgres_database(url)
    else:
        path: Path = tmp_path_factory.mktemp("db") / "aixiang-test.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("AIXIANG_TEST_REDIS_URL", MEMORY_REDIS_URL)


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock()


def make_test_config(database_url: str, redis_url: str, **overrides: Any) -> Config:
    settings: dict[str, dict[str, Any]] = {
        "database": {"url": database_url},
        "redis": {"url": redis_url},
        "wechat": {
            "token": TEST_TOKEN,
            "app_id": TEST_APP_ID,
            "app_secret": TEST_APP_SECRET,
            "encoding_aes_key": TEST_AES_KEY,
        },
    }
    for section, values in overrides.items():
        settings.setdefault(section, {}).update(values)
    return load_config(environ={}, overrides=settings, read_file=False)


@pytest.fixture(scope="session")
def base_config(database_url: str, redis_url: str) -> Config:
    return make_test_config(database_url, redis_url)


@pytest.fixture(scope="session")
def session_services(base_config: Config, clock: FakeClock) -> Iterator[Services]:
    services = build_services(base_config, clock=clock)
    yield services
    services.close()


def _empty_tables(services: Services) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with services.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def services(session_services: Services, clock: FakeClock) -> Iterator[Services]:
    """Services over empty tables, a flushed Redis and the clock at its start."""
    clock.set(FakeClock().now)
    session_services.redis.flushdb()
    _empty_tables(session_services)
    yield session_services


@pytest.fixture
def redis_client(services: Services) -> redis.Redis:
    return services.redis


@pytest.fixture
def fresh_redis(redis_url: str) -> redis.Redis:
    """A separate client on the test Redis, for tests that build their own services."""
    return connect_redis(redis_url)
