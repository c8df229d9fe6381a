"""Nothing a resident wrote, and no openid, reaches a log record on any failure path:
the database unreachable, a statement that fails, Redis down, a handler that raises."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, text

from bot.app import create_app
from bot.redis_conn import Degradations
from bot.webhook_services import WebhookServices, build_webhook_services
from bot.wechat.payloads import WeChatPayloads
from handlers.context import Context
from handlers.message import Message, Reply
from tests.conftest import make_test_config

WORDS = "我家住3号楼502 手机13800001111"
PRIVATE = ("3号楼502", "13800001111", "o-private-resident-77")
OPENID = PRIVATE[2]
UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/aixiang"


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Each record's message, arguments, exception text and formatted traceback."""
    formatter = logging.Formatter()
    parts = []
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or ""]
        parts.append(formatter.format(record))
    return "\n".join(parts)


def deliver(services: WebhookServices, payloads: WeChatPayloads, caplog: Any) -> int:
    client = create_app(services=services).test_client()
    delivery = payloads.sign(payloads.text(OPENID, WORDS))
    with caplog.at_level(logging.DEBUG):
        status = client.post("/wechat", query_string=delivery.query, data=delivery.body)
    logged = everything_logged(caplog)
    assert caplog.records
    for private in PRIVATE:
        assert private not in logged
    return status.status_code


@pytest.fixture
def build(database_url: str, redis_url: str, services: WebhookServices) -> Iterator[Callable]:
    built: list[WebhookServices] = []

    def make(database: str = database_url, redis: str = redis_url) -> WebhookServices:
        built.append(build_webhook_services(make_test_config(database, redis), services.clock))
        return built[-1]

    yield make
    for made in built:
        made.close()


def test_database_unreachable(build: Callable, payloads: WeChatPayloads, caplog: Any) -> None:
    """The delivery is spooled and acknowledged; the log says why, never what was said."""
    assert deliver(build(database=UNREACHABLE_DATABASE), payloads, caplog) == 200


def test_a_statement_that_fails_on_what_was_written(
    services: WebhookServices,
    payloads: WeChatPayloads,
    caplog: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL repeats a value it cannot cast in its message; SQLite's message has no
    value, but its parameters would be shown if they were not hidden."""

    def failing_store(connection: Connection, new: Any, *_: Any) -> bool:
        if connection.dialect.name == "postgresql":
            statement = text("SELECT CAST(:words AS integer)")
        else:
            statement = text("INSERT INTO no_such_table VALUES (:words)")
        connection.execute(statement, {"words": f"{new.content} {new.openid}"})
        return True

    # Whichever way the delivery is stored: alone in a group commit, or joining the
    # transaction of a handler that wrote (a first message records the language).
    monkeypatch.setattr("models.inbound.store", failing_store)
    monkeypatch.setattr("bot.inbound.store", failing_store)
    assert deliver(services, payloads, caplog) == 500


def test_redis_down(
    build: Callable, payloads: WeChatPayloads, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh count, so that this delivery's lines are written even when an earlier test
    # logged the same reasons less than a minute ago (one line per reason a minute).
    monkeypatch.setattr("bot.redis_conn.degradations", Degradations())
    assert deliver(build(redis="redis://127.0.0.1:1/0"), payloads, caplog) == 200


def test_a_handler_that_raises(
    services: WebhookServices,
    payloads: WeChatPayloads,
    caplog: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def raising(message: Message, ctx: Context) -> Reply:
        raise ValueError(f"cannot read {message.text!r} from {message.openid}")

    monkeypatch.setattr(services.router, "dispatch", raising)
    assert deliver(services, payloads, caplog) == 200
    assert "handler failed" in caplog.text
    assert "ValueError" in caplog.text
