"""PostgreSQL stops and starts under the webhook and nothing a resident sent is lost.

A server of this module's own (tests/own_postgres.py) is stopped while deliveries arrive:
each is spooled and acknowledged in the resident's language within WeChat's deadline;
once the server is back the webhook handles new deliveries directly within 2 s and the
drain handles every spooled one exactly once, its reply queued as a push.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from bot.app import create_app
from bot.drain import Drainer
from bot.webhook_services import WebhookServices, build_webhook_services
from bot.wechat.payloads import SignedDelivery, WeChatPayloads
from bot.wechat.protocol import parse_xml
from models import InboundMessage
from models.migrate import upgrade
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from tests.conftest import make_test_config
from tests.databases import create_postgres_database
from tests.helpers import serving
from tests.own_postgres import OwnPostgres, own_postgres, postgres_bin

BIN = postgres_bin()
pytestmark = pytest.mark.skipif(BIN is None, reason="no PostgreSQL server binaries installed")

ACK_ZH = "收到了，稍后回复您"
ACK_EN = "Got it, we will reply shortly"
RECOVERY_S = 2.0


@pytest.fixture(scope="module")
def pg() -> Iterator[OwnPostgres]:
    assert BIN is not None
    with own_postgres(BIN) as server:
        yield server


@pytest.fixture(scope="module")
def pg_database(pg: OwnPostgres) -> str:
    url = create_postgres_database(pg.server_url)
    upgrade(url)
    return url


def build(pg_database: str, redis_url: str, spool_dir: Path) -> WebhookServices:
    config = make_test_config(pg_database, redis_url, bot={"spool_dir": str(spool_dir)})
    return build_webhook_services(config, ping_connections=False)


@pytest.fixture
def outage_services(pg_database: str, redis_url: str, tmp_path: Path) -> Iterator[WebhookServices]:
    services = build(pg_database, redis_url, tmp_path / "spool")
    yield services
    services.close()


def post(root: str, delivery: SignedDelivery) -> requests.Response:
    return requests.post(f"{root}/wechat", params=delivery.query, data=delivery.body, timeout=10)


def reply_of(payloads: WeChatPayloads, response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    return payloads.read_reply(response.content)["Content"]


def test_an_outage_loses_nothing_and_each_spooled_delivery_is_handled_once(
    pg: OwnPostgres, outage_services: WebhookServices, payloads: WeChatPayloads
) -> None:
    services = outage_services
    with serving(create_app(services=services, drain=True)) as root:
        english = "o-outage-en"
        reply_of(payloads, post(root, payloads.sign(payloads.text(english, "English"))))
        reply_of(payloads, post(root, payloads.sign(payloads.text(english, "help"))))

        pg.stop()
        try:
            spooled = [payloads.sign(payloads.text(f"o-outage-{n}", "帮助")) for n in range(4)]
            # A message that starts a flow: the drain's handling writes it.
            spooled.append(payloads.sign(payloads.text("o-outage-flow", "留言")))
            spooled.append(payloads.sign(payloads.text(english, "my events")))
            for delivery in spooled:
                started = time.monotonic()
                answer = reply_of(payloads, post(root, delivery))
                assert time.monotonic() - started < 1.0
                assert answer == (ACK_EN if delivery is spooled[-1] else ACK_ZH)
            # WeChat's re-send of an acknowledged delivery gets the same answer, once kept.
            assert reply_of(payloads, post(root, spooled[0])) == ACK_ZH
            health = requests.get(f"{root}/healthz", timeout=10)
            assert health.status_code == 503
            assert health.json()["spool"]["depth"] == len(spooled)
            assert health.json()["spool"]["oldest_age_s"] >= 0
        finally:
            pg.start()

        back = time.monotonic()
        while True:
            answer = reply_of(payloads, post(root, payloads.sign(payloads.text("o-after", "帮助"))))
            if answer != ACK_ZH:
                break
            assert time.monotonic() - back < RECOVERY_S, (
                "still spooling after the database came back"
            )
            time.sleep(0.05)
        assert "活动" in answer
        while requests.get(f"{root}/healthz", timeout=10).json()["spool"]["depth"]:
            assert time.monotonic() - back < 10, "the spool did not drain"
            time.sleep(0.05)

    assert Drainer(services).run_once() == 0
    flow = services.sessions.load("o-outage-flow")
    assert flow is not None and flow.name == "inbox.write"
    keys = [f"msg:{parse_xml(d.body)['MsgId']}" for d in spooled]
    with services.session_factory() as db:
        stored = db.scalars(select(InboundMessage).where(InboundMessage.dedupe_key.in_(keys)))
        assert sorted(row.dedupe_key for row in stored) == sorted(keys)
        wanted = [f"{PushKind.DEFERRED_REPLY}:{key}" for key in keys]
        pushes = db.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.in_(wanted)))
        by_key = {row.idempotency_key: row for row in pushes}
    assert sorted(by_key) == sorted(wanted)
    assert {row.kind for row in by_key.values()} == {PushKind.DEFERRED_REPLY}
    assert "events" in by_key[f"{PushKind.DEFERRED_REPLY}:{keys[-1]}"].payload["text"]["en"]
    assert "活动" in by_key[f"{PushKind.DEFERRED_REPLY}:{keys[0]}"].payload["text"]["zh"]


def test_with_neither_database_nor_spool_the_answer_is_503_at_once_and_the_resend_handled(
    pg: OwnPostgres,
    pg_database: str,
    redis_url: str,
    tmp_path: Path,
    payloads: WeChatPayloads,
) -> None:
    """A failed first copy gives up its claim: the re-send is handled, not kept waiting."""
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    services = build(pg_database, redis_url, not_a_folder / "spool")
    client = create_app(services=services).test_client()
    delivery = payloads.sign(payloads.text("o-nowhere", "帮助"))
    pg.stop()
    try:
        started = time.monotonic()
        refused = client.post("/wechat", query_string=delivery.query, data=delivery.body)
        assert refused.status_code == 503
        assert time.monotonic() - started < 1.0
    finally:
        pg.start()
    Drainer(services).run_once()  # the probe finds the database back
    started = time.monotonic()
    resent = client.post("/wechat", query_string=delivery.query, data=delivery.body)
    assert "活动" in payloads.read_reply(resent.get_data())["Content"]
    assert time.monotonic() - started < 1.0
    services.close()
