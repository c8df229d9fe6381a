"""The staff command line under test: the runner fixture, the two ways to call it, and
every staff command with arguments that act on given records, which CLI tests share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bot.cli.main import main
from bot.services import Services
from bot.wechat.fake_api.server import FakeWeChatServer
from tests.settings import TEST_APP_ID, TEST_APP_SECRET, TEST_TOKEN


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


def run(
    staff: CliRunner, *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> Result:
    """Run a command that must succeed (exit 0); an exception fails the test as itself.
    ``input`` is what is typed or piped in (a password)."""
    result = staff.invoke(main, list(args), env=env, input=input, catch_exceptions=False)
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


# The processes run until stopped (or print logs); `db upgrade` prepares the database.
PROCESSES = {
    ("serve",),
    ("worker",),
    ("scheduler",),
    ("demo",),
    ("fake-wechat",),
    ("db", "upgrade"),
}
# A console account the scenarios hold, and a password the account rules accept.
ACCOUNT = "wangfang"
PASSWORD = "Lamp-post-17-village"
LONG_TEXT = "老街路灯坏了，晚上很黑，老人孩子出门都不方便，" * 4
# A village the scenarios hold.
VILLAGE = "朝阳村"
# The tags the scenarios hold, (Chinese, English): one in use, one to merge into it, one
# no longer in use.
TAGS = (("长者", "elderly"), ("老人", "old people"), ("妇女", "women"))


def leaf_commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


STAFF_COMMANDS = {path: command for path, command in leaf_commands(main) if path not in PROCESSES}


def command_args(
    path: tuple[str, ...],
    event: str = "1",
    draft: str = "2",
    code: str = "ABC123",
    broadcast: str = "1",
    push: str = "1",
    png: str = "qr.png",
) -> tuple[str, ...]:
    """Arguments for each staff command, acting on the given records."""
    return {
        ("broadcast",): ("--text", "通知", "--audience", "all", "--dry-run"),
        ("broadcasts", "list"): (),
        ("broadcasts", "cancel"): (broadcast,),
        ("events", "create"): (
            "--title",
            "T",
            "--starts-at",
            (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
            "--capacity",
            "3",
        ),
        ("events", "update"): (event, "--capacity", "9"),
        ("events", "publish"): (draft,),
        ("events", "cancel"): (event, "--reason", "下雨"),
        ("events", "list"): (),
        ("events", "roster"): (event,),
        ("events", "checkin"): (event, "--code", code),
        ("events", "walk-in"): (event, "--name", "张三"),
        ("events", "qr"): (event, "--out", png),
        ("needs", "list"): (),
        ("needs", "show"): ("N-000001",),
        ("needs", "update"): ("N-000001", "--status", "acknowledged", "--note", LONG_TEXT),
        ("partners", "add"): ("镇建设办", "--kind", "government"),
        ("partners", "list"): (),
        ("outbox", "stats"): (),
        ("outbox", "retry"): ("--dead",),
        ("outbox", "resume"): ("--kind", "reminder"),
        ("outbox", "show"): (push,),
        ("menu", "push"): (),
        ("accounts", "add"): ("hebe", "--role", "staff", "--password-stdin"),
        ("accounts", "passwd"): (ACCOUNT, "--password-stdin"),
        ("accounts", "disable"): (ACCOUNT,),
        ("accounts", "link"): (ACCOUNT, "--openid", "o-wangfang"),
        ("accounts", "list"): (),
        ("villages", "add"): ("李家村",),
        ("villages", "list"): (),
        ("villages", "rename"): (VILLAGE, "向阳村"),
        ("villages", "retire"): (VILLAGE,),
        ("tags", "add"): ("--zh", "儿童", "--en", "children"),
        ("tags", "list"): (),
        ("tags", "rename"): ("elderly", "--zh", "老年人"),
        ("tags", "deactivate"): ("长者",),
        ("tags", "activate"): ("women",),
        ("tags", "merge"): ("老人", "elderly"),
        ("export",): ("needs", "--out", str(Path(png).with_name("needs.xlsx"))),
    }[path]


def command_input(path: tuple[str, ...]) -> str | None:
    """What a staff command reads from standard input: the password, for those that set one."""
    return f"{PASSWORD}\n" if path in (("accounts", "add"), ("accounts", "passwd")) else None


def fake_wechat_env(fake: FakeWeChatServer) -> dict[str, str]:
    """What a staff command needs in its environment to talk to the fake WeChat API as
    the test account."""
    return {
        "AIXIANG_WECHAT_TOKEN": TEST_TOKEN,
        "AIXIANG_WECHAT_APP_ID": TEST_APP_ID,
        "AIXIANG_WECHAT_APP_SECRET": TEST_APP_SECRET,
        "AIXIANG_WECHAT_API_BASE_URL": fake.base_url,
    }
