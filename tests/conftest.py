"""Shared fixtures: one database and Redis per run, emptied between tests.

By default the suite runs on SQLite and the in-process Redis substitute; with
AIXIANG_TEST_DATABASE_URL / AIXIANG_TEST_REDIS_URL set (CI sets both) it runs on the real
servers, in a database created for this run and a Redis db flushed before each test.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import text

from bot.config.loader import load_config
from bot.config.sections import MEMORY_REDIS_URL, Config
from bot.redis_conn import connect_redis
from bot.webhook_services import WebhookServices, build_webhook_services
from models import Base
from models.migrate import upgrade
from tests.databases import create_postgres_database, drop_postgres_database
from tests.settings import (
    TEST_AES_KEY,
    TEST_APP_ID,
    TEST_APP_SECRET,
    TEST_CONSOLE_SECRET,
    TEST_TOKEN,
)

pytest_plugins = [
    "tests.browser",
    "tests.chat",
    "tests.cli",
    "tests.console",
    # Before tests.events, which imports it.
    "tests.tags",
    "tests.events",
    "tests.fixtures_wechat",
    "tests.guards",
    "tests.impact",
    "tests.pushes",
    "tests.transcript",
    "tests.workbench",
]


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


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("AIXIANG_TEST_DATABASE_URL")
    if server:
        url = create_postgres_database(server)
        upgrade(url)
        yield url
        drop_postgres_database(url)
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


# The configs' spool folders, deleted when the test process ends (TemporaryDirectory's
# finalizer), so a run leaves none behind.
_SPOOL_FOLDERS: list[tempfile.TemporaryDirectory[str]] = []


def _spool_folder() -> str:
    folder = tempfile.TemporaryDirectory(prefix="aixiang-test-spool-")
    _SPOOL_FOLDERS.append(folder)
    return folder.name


def make_test_config(database_url: str, redis_url: str, **overrides: Any) -> Config:
    settings: dict[str, dict[str, Any]] = {
        "database": {"url": database_url},
        "redis": {"url": redis_url},
        # Never the project's instance/: a test that breaks the database off spools there.
        # One folder per test process; the ``services`` fixture drains it for each test.
        "bot": {
            "spool_dir": str(Path(tempfile.gettempdir()) / f"aixiang-test-spool-{os.getpid()}")
        },
        "wechat": {
            "token": TEST_TOKEN,
            "app_id": TEST_APP_ID,
            "app_secret": TEST_APP_SECRET,
            "encoding_aes_key": TEST_AES_KEY,
        },
        "console": {"secret_key": TEST_CONSOLE_SECRET},
        # Never the project's instance/ either: background exports write their files here.
        "exports": {
            "dir": str(Path(tempfile.gettempdir()) / f"aixiang-test-exports-{os.getpid()}")
        },
    }
    for section, values in overrides.items():
        settings.setdefault(section, {}).update(values)
    return load_config(environ={}, overrides=settings, read_file=False)


@pytest.fixture(scope="session")
def base_config(database_url: str, redis_url: str) -> Config:
    return make_test_config(database_url, redis_url)


@pytest.fixture(scope="session")
def session_services(base_config: Config, clock: FakeClock) -> Iterator[WebhookServices]:
    services = build_webhook_services(base_config, clock=clock)
    yield services
    services.close()


def _empty_tables(services: WebhookServices) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with services.engine.begin() as connection:
        # DELETE, not TRUNCATE: on tables this small TRUNCATE costs ~0.6 s a test on
        # PostgreSQL (new files for every table), DELETE a few milliseconds.
        for table in tables:
            connection.execute(text(f"DELETE FROM {table}"))
        if connection.dialect.name == "postgresql":
            sequences = connection.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ).scalars()
            for sequence in list(sequences):
                connection.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))


@pytest.fixture
def services(session_services: WebhookServices, clock: FakeClock) -> Iterator[WebhookServices]:
    """The webhook's services over empty tables, a flushed Redis and the clock at its start."""
    clock.set(FakeClock().now)
    # A test that broke the database off leaves the gate closed and deliveries spooled.
    session_services.gate.open()
    session_services.spool.drain(lambda _kept: None)
    session_services.redis.flushdb()
    _empty_tables(session_services)
    yield session_services


@pytest.fixture
def redis_client(services: WebhookServices) -> redis.Redis:
    return services.redis


@pytest.fixture
def fresh_redis(redis_url: str) -> redis.Redis:
    """A separate client on the test Redis, for tests that build their own services."""
    return connect_redis(redis_url)


def pytest_configure(config: pytest.Config) -> None:
    """On CI (AIXIANG_TEST_REQUIRE_ALL=1) the real servers are mandatory."""
    if os.environ.get("AIXIANG_TEST_REQUIRE_ALL") != "1":
        return
    database = os.environ.get("AIXIANG_TEST_DATABASE_URL", "")
    if not database.startswith("postgresql"):
        raise pytest.UsageError("AIXIANG_TEST_REQUIRE_ALL=1 needs a PostgreSQL test database")
    if not os.environ.get("AIXIANG_TEST_REDIS_URL", "").startswith("redis://"):
        raise pytest.UsageError("AIXIANG_TEST_REQUIRE_ALL=1 needs a real Redis test URL")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On CI a skipped test is a failure: a silent skip would hide a missing service."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("AIXIANG_TEST_REQUIRE_ALL") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped on CI, where nothing may skip: {report.longrepr}"
