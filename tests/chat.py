"""Conversation fixtures: a resident talking to the real webhook through signed payloads.

Tests read as transcripts: ``chat.say("帮助")`` returns the bot's answer text, after the
delivery went through signature checks, (optionally) AES, dedupe, storage and routing.
Conversations themselves are tested at the handler level (tests/transcript.py); ``Chat``
is for the wiring, one test per feature, and for what only the webhook does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bot.app import create_app
from bot.services import Services
from bot.wechat.payloads import WeChatPayloads
from tests.settings import TEST_AES_KEY, TEST_APP_ID, TEST_TOKEN


@dataclass
class Chat:
    client: FlaskClient
    payloads: WeChatPayloads
    openid: str = "o-resident-1"
    safe: bool = False
    history: list[tuple[str, str]] = field(default_factory=list)

    def post(self, xml: str, safe: bool | None = None, **sign_kwargs: object) -> TestResponse:
        use_safe = self.safe if safe is None else safe
        delivery = self.payloads.sign(xml, safe=use_safe, **sign_kwargs)  # type: ignore[arg-type]
        return self.client.post("/wechat", query_string=delivery.query, data=delivery.body)

    def reply_of(self, response: TestResponse, safe: bool | None = None) -> str:
        assert response.status_code == 200, response.get_data(as_text=True)
        use_safe = self.safe if safe is None else safe
        fields = self.payloads.read_reply(response.get_data(), safe=use_safe)
        return fields.get("Content", "")

    def send(self, xml: str) -> str:
        return self.reply_of(self.post(xml))

    def say(self, text: str, openid: str | None = None) -> str:
        answer = self.send(self.payloads.text(openid or self.openid, text))
        self.history.append((text, answer))
        return answer

    def tap(self, key: str, openid: str | None = None) -> str:
        return self.send(self.payloads.event(openid or self.openid, "CLICK", key))

    def event(self, event: str, key: str = "", openid: str | None = None) -> str:
        return self.send(self.payloads.event(openid or self.openid, event, key))

    def as_resident(self, openid: str) -> Chat:
        return Chat(client=self.client, payloads=self.payloads, openid=openid, safe=self.safe)


@pytest.fixture
def app(services: Services) -> Flask:
    return create_app(services=services)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def payloads() -> WeChatPayloads:
    return WeChatPayloads(token=TEST_TOKEN, app_id=TEST_APP_ID, encoding_aes_key=TEST_AES_KEY)


@pytest.fixture
def chat(client: FlaskClient, payloads: WeChatPayloads) -> Chat:
    return Chat(client=client, payloads=payloads)
