"""The demo's movable clock: a sign-up's reminder and a need's status update reach the page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from bot.demo.loops import DemoBackground
from bot.demo.runner import DemoCredentials, build_demo_app, demo_config
from bot.demo.simulator.clock import JUMP_LIMIT, MAX_AHEAD, MAX_JUMP, SimulatedClock
from bot.demo.templates import DEMO_TEMPLATES
from bot.spool import SpooledDelivery
from bot.webhook_services import WebhookServices, build_webhook_services
from bot.wechat.fake_api.server import FakeWeChatServer
from bot.wechat.payloads import WeChatPayloads
from bot.wechat.protocol import parse_xml
from models.events.staff import create_event
from models.needs.tables import Need
from models.needs.transitions import change_status
from models.push.outbox import OutboxMessage
from models.push.registry import TEMPLATE_VALUES
from tests.conftest import make_test_config
from tests.helpers import serving
from tests.test_simulator import pushes, say

Demo = tuple[str, WebhookServices]
MakeDemo = Callable[..., Demo]


@pytest.fixture
def make_demo(
    database_url: str, redis_url: str, services: WebhookServices, fake_wechat: FakeWeChatServer
) -> Iterator[MakeDemo]:
    """The demo app on a real port with a movable clock, its worker and its jobs running,
    on the test database; its account and templates as ``aixiang demo`` sets them up
    (``subscription=True``: as ``aixiang demo --subscription``)."""
    with ExitStack() as running:

        def make(subscription: bool = False, **push: object) -> Demo:
            account = demo_config(
                DemoCredentials.generate(), fake_wechat.base_url, subscription=subscription
            )
            config = make_test_config(
                database_url,
                redis_url,
                wechat={"api_base_url": fake_wechat.base_url},
                push={"rate_per_s": 0, **push},
            )
            config = replace(
                config,
                wechat=replace(config.wechat, account_type=account.wechat.account_type),
                push=replace(config.push, templates=account.push.templates),
            )
            demo_services = build_webhook_services(config, SimulatedClock())
            running.callback(demo_services.close)
            url = running.enter_context(
                serving(build_demo_app(demo_services, fake_wechat.root_url))
            )
            running.enter_context(DemoBackground(demo_services))
            return url, demo_services

        yield make


@pytest.fixture
def demo(make_demo: MakeDemo) -> Demo:
    return make_demo()


def wait_for_push(url: str, openid: str, words: str, within_s: float = 15.0) -> str:
    """Poll the page's push feed, as the page does, until a push with ``words`` shows."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for message in pushes(url, openid)["messages"]:
            if words in message["text"]:
                return str(message["text"])
        time.sleep(0.2)
    raise AssertionError(f"no push containing {words!r} reached {openid}")


def test_clock_moves_forward_only(demo: Demo) -> None:
    url, _ = demo
    before = requests.get(f"{url}/sim/api/clock", timeout=5).json()
    moved = requests.post(f"{url}/sim/api/clock", json={"hours": 24}, timeout=5).json()
    assert moved["ahead_hours"] == 24 and moved["now"] > before["now"]
    for bad in ({"hours": -1}, {"hours": "soon"}, {"hours": 24 * 31}, [1]):
        response = requests.post(f"{url}/sim/api/clock", json=bad, timeout=5)
        assert response.status_code == 400 and response.json()["error"]


@pytest.mark.parametrize("hours", [1e20, 10**23, 1e308])
def test_a_jump_too_big_for_a_timedelta_is_refused(demo: Demo, hours: float) -> None:
    url, _ = demo
    response = requests.post(f"{url}/sim/api/clock", json={"hours": hours}, timeout=5)
    assert response.status_code == 400
    assert response.json() == {"error": JUMP_LIMIT}
    assert requests.get(f"{url}/sim/api/clock", timeout=5).json()["ahead_hours"] == 0


def test_repeated_jumps_stop_at_the_limit(demo: Demo) -> None:
    url, _ = demo
    month = {"hours": MAX_JUMP / timedelta(hours=1)}
    for _ in range(MAX_AHEAD // MAX_JUMP):
        assert requests.post(f"{url}/sim/api/clock", json=month, timeout=5).status_code == 200
    ahead = requests.get(f"{url}/sim/api/clock", timeout=5).json()["ahead_hours"]
    response = requests.post(f"{url}/sim/api/clock", json=month, timeout=5)
    assert response.status_code == 400
    assert f"at most {MAX_AHEAD.days} days ahead" in response.json()["error"]
    assert requests.get(f"{url}/sim/api/clock", timeout=5).json()["ahead_hours"] == ahead


@pytest.mark.parametrize("hours", [float("nan"), float("inf"), 0.0, -1.0, 1e20])
def test_the_clock_refuses_jumps_out_of_range(hours: float) -> None:
    clock = SimulatedClock()
    with pytest.raises(ValueError, match="days at a time"):
        clock.advance_hours(hours)
    assert clock.offset == timedelta()


def test_reminder_arrives_when_the_clock_reaches_it(demo: Demo) -> None:
    url, services = demo
    now = services.clock()
    with services.session_factory() as db, db.begin():
        event_id = create_event(
            db,
            title="女性技能课堂",
            starts_at=now + timedelta(hours=30),
            capacity=10,
            now=now,
            place="社区活动室",
            publish=True,
        ).id
    assert "签到码" in say(url, f"报名 {event_id}", openid="o-demo-r")
    requests.post(f"{url}/sim/api/clock", json={"hours": 7}, timeout=5)
    assert "女性技能课堂" in wait_for_push(url, "o-demo-r", "活动提醒")


def test_need_status_update_arrives(demo: Demo) -> None:
    url, services = demo
    for text in ("需求", "同意", "1", "学校缺美术老师", "跳过", "跳过"):
        say(url, text, openid="o-demo-n")
    assert "N-" in say(url, "确认", openid="o-demo-n")
    with services.session_factory() as db, db.begin():
        need = db.execute(select(Need)).scalar_one()
        change_status(
            db, need, "acknowledged", by="staff", note=None, public=False, now=services.clock()
        )
    assert "N-" in wait_for_push(url, "o-demo-n", "受理")


def test_the_demo_drains_deliveries_the_spool_kept(demo: Demo, payloads: WeChatPayloads) -> None:
    """A delivery kept while the database was away is handled and answered by push."""
    url, services = demo
    fields = parse_xml(payloads.text("o-demo-spooled", "帮助").encode())
    services.spool.append(SpooledDelivery(f"msg:{fields['MsgId']}", fields, services.clock()))
    assert "活动" in wait_for_push(url, "o-demo-spooled", "活动")
    assert services.spool.depth().records == 0


def test_the_demo_has_a_template_for_every_push_kind() -> None:
    service = demo_config(DemoCredentials.generate(), "http://x/cgi-bin/")
    subscription = demo_config(DemoCredentials.generate(), "http://x/cgi-bin/", subscription=True)

    assert set(service.push.templates) == set(TEMPLATE_VALUES)
    assert {t.kind for t in DEMO_TEMPLATES} == set(TEMPLATE_VALUES)
    assert service.wechat.account_type == "service"
    assert (subscription.wechat.account_type, subscription.push.templates) == ("subscription", {})


def reminder_after_two_quiet_days(url: str, services: WebhookServices) -> OutboxMessage:
    """Sign up for an event 60 hours ahead, say nothing more, and move the clock to its
    2-hour reminder: 58 hours after the resident last wrote, past WeChat's 48-hour window
    for customer-service messages."""
    now = services.clock()
    with services.session_factory() as db, db.begin():
        event_id = create_event(
            db,
            title="社区花园开放日",
            starts_at=now + timedelta(hours=60),
            capacity=10,
            now=now,
            place="社区花园",
            publish=True,
        ).id
    assert "签到码" in say(url, f"报名 {event_id}", openid="o-demo-quiet")
    requests.post(f"{url}/sim/api/clock", json={"hours": 58.5}, timeout=5)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with services.session_factory() as db:
            row = db.execute(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "reminder",
                    OutboxMessage.status.in_(("sent", "held")),
                )
            ).scalar_one_or_none()
        if row is not None:
            return row
        time.sleep(0.2)
    raise AssertionError("the reminder was neither sent nor held")


def test_a_service_account_reminds_by_template_after_48_hours(
    make_demo: MakeDemo, fake_wechat: FakeWeChatServer
) -> None:
    url, services = make_demo(reminder_offsets_h=[2])

    row = reminder_after_two_quiet_days(url, services)

    assert (row.status, row.channel) == ("sent", "template")
    [call] = [c for c in fake_wechat.calls("message/template/send") if c["status"] == 200]
    assert call["body"]["template_id"] == "demo-reminder"
    assert call["body"]["data"]["keyword1"] == {"value": "社区花园开放日"}
    assert call["body"]["data"]["keyword3"] == {"value": "社区花园"}


def test_a_subscription_account_holds_the_reminder_until_the_next_message(
    make_demo: MakeDemo, fake_wechat: FakeWeChatServer
) -> None:
    url, services = make_demo(subscription=True, reminder_offsets_h=[2])

    row = reminder_after_two_quiet_days(url, services)

    assert row.status == "held"
    assert fake_wechat.calls("message/template/send") == []
    assert "社区花园开放日" in say(url, "帮助", openid="o-demo-quiet")
