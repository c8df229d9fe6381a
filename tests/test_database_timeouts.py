"""A PostgreSQL that takes the connection and never answers hangs nothing.

The server here is a listening socket that never accepts: the kernel completes the TCP
handshake, so the client sees a server that is there and silent (a hung PostgreSQL, or a
host whose answers are dropped). The webhook spools the delivery and acknowledges it
within WeChat's wait; a staff command prints one line and exits 2.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

import models.db
from bot.app import create_app
from bot.cli.main import main
from bot.config.errors import ConfigError
from bot.config.loader import load_config
from bot.outage import WECHAT_WAIT_S
from bot.webhook_services import build_webhook_services
from bot.wechat.payloads import WeChatPayloads
from models.db import Timeouts, make_engine
from tests.conftest import make_test_config

ACK_ZH = "收到了，稍后回复您"
# How long a test waits for an answer before calling it hung.
HUNG_S = 20.0


@pytest.fixture
def silent_postgres() -> Iterator[str]:
    """The URL of a server that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        yield f"postgresql://aixiang@127.0.0.1:{port}/aixiang"


def test_the_webhook_spools_a_delivery_when_postgres_never_answers(
    silent_postgres: str, redis_url: str, tmp_path: Path, payloads: WeChatPayloads
) -> None:
    config = make_test_config(
        silent_postgres,
        redis_url,
        database={"connect_timeout_s": 1},
        bot={"spool_dir": str(tmp_path / "spool")},
    )
    services = build_webhook_services(config, ping_connections=False)
    client = create_app(services=services).test_client()
    delivery = payloads.sign(payloads.text("o-silent", "帮助"))
    answers: list[str] = []

    def post() -> None:
        response = client.post("/wechat", query_string=delivery.query, data=delivery.body)
        answers.append(payloads.read_reply(response.get_data())["Content"])

    started = time.monotonic()
    poster = threading.Thread(target=post, daemon=True)
    poster.start()
    poster.join(HUNG_S)
    assert answers == [ACK_ZH], "the webhook hung on a silent database"
    assert time.monotonic() - started < WECHAT_WAIT_S
    assert services.spool.depth().records == 1
    services.close()


def test_a_staff_command_prints_one_line_when_postgres_never_answers(
    silent_postgres: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    environment = {
        **os.environ,
        "AIXIANG_CONFIG": str(config),
        "AIXIANG_DATABASE_URL": silent_postgres,
        "AIXIANG_DATABASE_CONNECT_TIMEOUT_S": "1",
    }
    started = time.monotonic()
    finished = subprocess.run(
        [sys.executable, "-m", "bot", "events", "list"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=HUNG_S,
    )
    assert time.monotonic() - started < HUNG_S / 2
    assert finished.returncode == 2, finished.stderr
    assert finished.stderr.strip().splitlines() == [
        "error: cannot reach the database: connection timeout expired"
    ]


def test_statement_and_lock_limits_are_set_on_every_connection(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("statement and lock limits are PostgreSQL settings")
    engine = make_engine(database_url, timeouts=Timeouts(statement_s=2.5, lock_s=0.25))
    with engine.connect() as connection:
        shown = [
            connection.execute(text(f"SHOW {name}")).scalar_one()
            for name in ("statement_timeout", "lock_timeout")
        ]
    engine.dispose()
    assert shown == ["2500ms", "250ms"]


def test_no_limit_is_asked_of_postgres_unless_set() -> None:
    assert Timeouts().connect_args() == {"connect_timeout": 3}
    assert Timeouts(5, 0, 1.5).connect_args() == {
        "connect_timeout": 5,
        "options": "-c lock_timeout=1500",
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [("connect_timeout_s", "0"), ("statement_timeout_s", "-1"), ("lock_timeout_s", "soon")],
)
def test_a_bad_timeout_is_one_line_naming_it(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"database.{key}"):
        load_config(environ={f"AIXIANG_DATABASE_{key.upper()}": value}, read_file=False)


def test_db_upgrade_connects_with_the_configured_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`aixiang db upgrade` gives up on a silent server after the configured
    connect_timeout_s, as every other command does, not after the built-in default."""
    made: list[Timeouts] = []

    def recording_engine(url: str, **kwargs: Any) -> Engine:
        made.append(kwargs["timeouts"])
        return make_engine(url, **kwargs)

    monkeypatch.setattr(models.db, "make_engine", recording_engine)
    config = tmp_path / "config.toml"
    config.write_text("")
    environment = {
        "AIXIANG_CONFIG": str(config),
        "AIXIANG_DATABASE_URL": f"sqlite:///{tmp_path / 'aixiang.db'}",
        "AIXIANG_DATABASE_CONNECT_TIMEOUT_S": "7",
    }
    result = CliRunner().invoke(main, ["db", "upgrade"], env=environment)
    assert result.exit_code == 0, result.output
    assert made == [Timeouts(connect_s=7)]
