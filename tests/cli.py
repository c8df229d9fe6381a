"""The staff command line under test: the runner fixture and the two ways to call it
that every CLI test file shares."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.main import main
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


def run(staff: CliRunner, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run a command that must succeed (exit 0); an exception fails the test as itself."""
    result = staff.invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def fail(
    staff: CliRunner, *args: str, env: dict[str, str] | None = None, exit_code: int = 2
) -> str:
    """Run a command that must be refused: ``exit_code`` and exactly one line on stderr,
    which is returned."""
    result = staff.invoke(main, list(args), env=env)
    assert result.exit_code == exit_code, f"{result.exception!r}: {result.output}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]
