"""Staff commands find the same database from any folder, and say in one line when it is
missing, empty or unreachable, creating nothing on the way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.config.loader import load_config
from models.migrate import upgrade
from tests.cli import STAFF_COMMANDS, command_args
from tests.settings import TEST_APP_ID, TEST_APP_SECRET, TEST_TOKEN


def invoke(*args: str, config: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a command from ``cwd`` with ``config`` as the config file; its stderr or output."""
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(main, list(args), env={"AIXIANG_CONFIG": str(config)})
    return result.stderr if result.exit_code else result.output


def config_file(folder: Path, url: str = "sqlite:///data/aixiang.db") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(f'[database]\nurl = "{url}"\n[needs]\nmedia_dir = "data/media"\n')
    return path


def test_relative_paths_are_read_from_the_config_files_folder(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path / "club"), environ={})
    assert config.database.url == f"sqlite:///{tmp_path}/club/data/aixiang.db"
    assert config.needs.media_dir == f"{tmp_path}/club/data/media"


def test_a_command_from_another_folder_uses_the_same_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_file(tmp_path / "club")
    (tmp_path / "club" / "data").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert invoke("db", "upgrade", config=config, cwd=tmp_path / "club", monkeypatch=monkeypatch)
    output = invoke(
        "needs", "list", "--json", config=config, cwd=elsewhere, monkeypatch=monkeypatch
    )
    assert json.loads(output) == {"rows": [], "total": 0, "offset": 0}
    assert list(elsewhere.iterdir()) == []


def test_a_missing_database_is_one_line_and_no_file_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_file(tmp_path / "club")
    line = invoke("events", "list", config=config, cwd=tmp_path, monkeypatch=monkeypatch)
    database = tmp_path / "club" / "data" / "aixiang.db"
    assert line == f"error: no database at {database}: create it with `aixiang db upgrade`\n"
    assert not database.exists()


def test_a_database_without_the_schema_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_file(tmp_path / "club")
    (tmp_path / "club" / "data").mkdir()
    (tmp_path / "club" / "data" / "aixiang.db").touch()
    line = invoke("needs", "list", config=config, cwd=tmp_path, monkeypatch=monkeypatch)
    assert line == "error: the database has no schema yet: run `aixiang db upgrade` first\n"


def test_an_unreachable_database_is_one_line_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_file(tmp_path, "postgresql://postgres:secretpw@127.0.0.1:1/aixiang")
    line = invoke("outbox", "stats", config=config, cwd=tmp_path, monkeypatch=monkeypatch)
    assert line.startswith("error: cannot reach the database: connection failed")
    assert line.count("\n") == 1 and "secretpw" not in line


def test_an_upgraded_database_is_found_by_every_reading_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_file(tmp_path / "club")
    (tmp_path / "club" / "data").mkdir()
    upgrade(load_config(config, environ={}).database.url)
    for command in (("needs", "list"), ("events", "list"), ("partners", "list")):
        assert invoke(*command, config=config, cwd=tmp_path, monkeypatch=monkeypatch)


# Every staff command, menu push too (its audit entry), finds the database before it
# does anything; the processes are checked below.
NEEDS_THE_DATABASE = sorted(STAFF_COMMANDS)
UNREACHABLE = "postgresql://postgres:secretpw@127.0.0.1:1/aixiang"


@pytest.mark.parametrize("path", NEEDS_THE_DATABASE, ids=" ".join)
def test_every_staff_command_is_one_line_when_the_database_is_unreachable(
    tmp_path: Path, path: tuple[str, ...]
) -> None:
    result = CliRunner().invoke(
        main,
        [*path, *command_args(path, png=str(tmp_path / "qr.png"))],
        env=unreachable_env(tmp_path),
    )
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach the database: ") and "secretpw" not in line


@pytest.mark.parametrize("process", ["worker", "scheduler"])
def test_a_process_starting_without_its_database_is_one_line(tmp_path: Path, process: str) -> None:
    result = CliRunner().invoke(main, [process, "--once"], env=unreachable_env(tmp_path))
    assert result.exit_code != 0, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach the database: ") and "secretpw" not in line


def unreachable_env(tmp_path: Path) -> dict[str, str]:
    """A config whose PostgreSQL nobody listens to, with WeChat credentials (the fake
    API's address: nothing is sent before the database is found missing)."""
    config = tmp_path / "config.toml"
    config.write_text("")
    return {
        "AIXIANG_CONFIG": str(config),
        "AIXIANG_DATABASE_URL": UNREACHABLE,
        "AIXIANG_WECHAT_TOKEN": TEST_TOKEN,
        "AIXIANG_WECHAT_APP_ID": TEST_APP_ID,
        "AIXIANG_WECHAT_APP_SECRET": TEST_APP_SECRET,
        "AIXIANG_WECHAT_API_BASE_URL": "http://127.0.0.1:1/cgi-bin/",
    }
