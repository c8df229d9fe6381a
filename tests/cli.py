"""The staff command line under test: one runner fixture every CLI test file shares."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.services import Services


@pytest.fixture
def staff(services: Services, tmp_path: Path) -> CliRunner:
    """A runner whose commands use the test database and Redis and no developer config
    file; a test adds what else it needs to ``staff.env``."""
    config = tmp_path / "config.toml"
    config.write_text("")
    return CliRunner(
        env={
            "AIXIANG_CONFIG": str(config),
            "AIXIANG_DATABASE_URL": services.config.database.url,
            "AIXIANG_REDIS_URL": services.config.redis.url,
        }
    )
