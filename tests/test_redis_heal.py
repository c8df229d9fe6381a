"""The webhook on a Redis server of its own, which the tests drop connections from: a
draft in progress survives, and every time the webhook goes on without Redis is counted
(``GET /healthz``) and logged once a minute per reason."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from bot.app import create_app
from bot.redis_conn import Degradations
from bot.safe_log import OncePerInterval
from bot.webhook_services import WebhookServices, build_webhook_services
from bot.wechat.payloads import WeChatPayloads
from tests.chat import Chat
from tests.conftest import make_test_config
from tests.test_serve import free_port

START_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def own_redis() -> Iterator[str]:
    """A redis-server for this module alone, so killing its clients touches no one else."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        probe = redis.Redis.from_url(url)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        probe.close()
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def healing_services(
    database_url: str, own_redis: str, services: WebhookServices
) -> Iterator[WebhookServices]:
    built = build_webhook_services(make_test_config(database_url, own_redis), clock=services.clock)
    built.redis.flushdb()
    yield built
    built.close()


def kill_clients(url: str) -> None:
    port = url.rsplit(":", 1)[1].split("/")[0]
    subprocess.run(["redis-cli", "-p", port, "CLIENT", "KILL", "TYPE", "normal"], check=True)


def test_a_draft_survives_redis_dropping_the_connection(
    healing_services: WebhookServices, own_redis: str, payloads: WeChatPayloads
) -> None:
    chat = Chat(client=create_app(services=healing_services).test_client(), payloads=payloads)
    assert "同意" in chat.say("需求")
    kill_clients(own_redis)
    asked_for_category = chat.say("同意")
    assert "同意" not in asked_for_category
    assert "1" in asked_for_category  # the categories, numbered: the flow went on


def test_going_on_without_redis_is_counted_on_healthz(
    database_url: str, services: WebhookServices, payloads: WeChatPayloads
) -> None:
    config = make_test_config(database_url, "redis://127.0.0.1:1/0")
    without = build_webhook_services(config, clock=services.clock)
    client = create_app(services=without).test_client()
    try:
        before = client.get("/healthz").get_json()["degraded"]
        Chat(client=client, payloads=payloads).say("帮助")
        health = client.get("/healthz")
    finally:
        without.close()
    assert health.status_code == 200
    body = health.get_json()
    assert body["database"] is True and body["redis"] is False
    what = "nonce check, reply cache and claim"
    assert body["degraded"][what] == before.get(what, 0) + 1


def test_healthz_says_when_everything_answers(client) -> None:
    body = client.get("/healthz").get_json()
    assert body["database"] is True and body["redis"] is True


def test_each_reason_is_logged_once_a_minute_with_the_count_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    degradations = Degradations(OncePerInterval(60.0, clock=lambda: now[0]))
    down = redis.ConnectionError("Connection refused")
    with caplog.at_level(logging.WARNING, logger="bot.redis_conn"):
        for _ in range(3):
            degradations.report("save flow", down)
        degradations.report("reply cache", down)
        now[0] = 61.0
        degradations.report("save flow", down)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.redis_conn"]
    assert lines == [
        "Redis unavailable for save flow (ConnectionError: Connection refused); "
        "carrying on without it",
        "Redis unavailable for reply cache (ConnectionError: Connection refused); "
        "carrying on without it",
        "Redis unavailable for save flow (ConnectionError: Connection refused); "
        "carrying on without it (2 more like it held back)",
    ]
    assert degradations.counts() == {"save flow": 4, "reply cache": 1}
