"""WeChat fixtures: the project's fake WeChat API on a real port, and clients aimed at it.

Loaded by the main conftest through ``pytest_plugins``. The server lives for a test module
(one per test would cost more than the tests); ``fake_wechat`` hands it to a test with
its call log and faults cleared. Redis is the real one at ``AIXIANG_TEST_REDIS_URL`` when
set, else a private fakeredis, so these tests need nothing from the main conftest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import fakeredis
import pytest
import redis

from bot.config.sections import Config, WeChatConfig
from bot.wechat.client import AixiangWeChatClient, build_wechat_client
from bot.wechat.fake_api.server import FakeWeChatServer
from tests.settings import TEST_APP_ID, TEST_APP_SECRET, TEST_TOKEN

MakeWeChatClient = Callable[..., AixiangWeChatClient]


@pytest.fixture(scope="module")
def fake_wechat_server() -> Iterator[FakeWeChatServer]:
    with FakeWeChatServer(app_id=TEST_APP_ID, app_secret=TEST_APP_SECRET) as server:
        yield server


@pytest.fixture
def fake_wechat(fake_wechat_server: FakeWeChatServer) -> FakeWeChatServer:
    """The module's fake WeChat server with no recorded calls and no scheduled faults."""
    fake_wechat_server.clear()
    return fake_wechat_server


@pytest.fixture
def wechat_redis() -> Iterator[redis.Redis]:
    """An empty Redis for the WeChat client's shared token."""
    url = os.environ.get("AIXIANG_TEST_REDIS_URL")
    if not url:
        yield fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
        return
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def wechat_config(fake_wechat: FakeWeChatServer) -> Config:
    return Config(
        wechat=WeChatConfig(
            token=TEST_TOKEN,
            app_id=fake_wechat.app_id,
            app_secret=fake_wechat.app_secret,
            api_base_url=fake_wechat.base_url,
            http_timeout_s=2.0,
        )
    )


@pytest.fixture
def make_wechat_client(
    wechat_config: Config, wechat_redis: redis.Redis
) -> Iterator[MakeWeChatClient]:
    """Builds clients the way separate processes would: each with its own HTTP pool and
    local lock, all sharing ``wechat_redis`` unless given another Redis. Keyword
    arguments override ``[wechat]`` settings, e.g. ``http_timeout_s=0.5``."""
    clients: list[AixiangWeChatClient] = []

    def make(redis_client: redis.Redis | None = None, **wechat: Any) -> AixiangWeChatClient:
        config = replace(wechat_config, wechat=replace(wechat_config.wechat, **wechat))
        client = build_wechat_client(config, wechat_redis if redis_client is None else redis_client)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def wechat_client(make_wechat_client: MakeWeChatClient) -> AixiangWeChatClient:
    return make_wechat_client()
