"""The chat simulator and the demo: every message goes over HTTP through the real webhook."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from bot.app import create_app
from bot.cli.main import main
from bot.config.paths import PROJECT_ROOT
from bot.config.sections import MEMORY_REDIS_URL
from bot.demo.runner import (
    DEMO_RESIDENTS,
    DemoCredentials,
    build_demo_app,
    demo_config,
    seed_demo_data,
)
from bot.demo.simulator.blueprint import install_simulator
from bot.demo.simulator.clock import SimulatedClock
from bot.demo.simulator.page import MAX_RESIDENTS_LISTED
from bot.services import Services
from bot.wechat.client import AixiangWeChatClient, build_wechat_client
from bot.wechat.fake_api.server import FakeWeChatServer
from bot.wechat.payloads import WeChatPayloads
from models import InboundMessage, Resident
from models.events.tables import Event
from models.residents import get_or_create_resident
from models.villages.tables import Village
from tests.helpers import count, serving
from tests.settings import TEST_AES_KEY, TEST_APP_ID


@pytest.fixture
def demo_url(services: Services, fake_wechat: FakeWeChatServer) -> Iterator[str]:
    with serving(build_demo_app(services, fake_wechat.root_url)) as url:
        yield url


def send(url: str, **body: Any) -> dict[str, Any]:
    response = requests.post(f"{url}/sim/api/send", json=body, timeout=10)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def say(url: str, text: str, openid: str = "o-demo-test", safe: bool = False) -> str:
    answer = send(url, openid=openid, kind="text", text=text, safe=safe)
    assert answer["ok"], answer
    return str(answer["reply"])


def thread(url: str, openid: str, since: str = "") -> dict[str, Any]:
    response = requests.get(
        f"{url}/sim/api/thread", params={"openid": openid, "since": since}, timeout=10
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def pushes(url: str, openid: str, since: str = "") -> dict[str, Any]:
    """The thread's pushes (from the fake WeChat API's call log) and the cursor."""
    answer = thread(url, openid, since)
    return {
        "messages": [item for item in answer["items"] if "endpoint" in item],
        "cursor": answer["cursor"],
    }


def inbound(services: Services) -> list[InboundMessage]:
    with services.session_factory() as db:
        return list(db.execute(select(InboundMessage).order_by(InboundMessage.id)).scalars())


# The page ---------------------------------------------------------------------------


def test_page_and_its_files_are_served(demo_url: str) -> None:
    page = requests.get(f"{demo_url}/", timeout=10)
    assert page.status_code == 200
    assert "/sim/static/app.js" in page.text and "/sim/static/style.css" in page.text
    for name in ("app.js", "style.css", "sample-photo.svg"):
        assert requests.get(f"{demo_url}/sim/static/{name}", timeout=10).status_code == 200


def test_config_gives_the_menu_and_villages(demo_url: str, services: Services) -> None:
    config = requests.get(f"{demo_url}/sim/api/config", timeout=10).json()
    top_names = [button["name"] for button in config["menu"]]
    assert top_names == [button.name for button in services.config.menu.buttons]
    keys = {sub["key"] for button in config["menu"] for sub in button["sub_buttons"]}
    assert {"EVENTS", "MY_EVENTS", "NEED_NEW", "MY_NEEDS"} <= keys
    assert config["villages"] and config["safe_mode_available"] is True


# Messages through the webhook ---------------------------------------------------------


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe-mode"])
def test_help_through_the_webhook(demo_url: str, services: Services, safe: bool) -> None:
    reply = say(demo_url, "帮助", safe=safe)

    assert "活动" in reply and "需求" in reply
    [stored] = inbound(services)
    assert (stored.msg_type, stored.content) == ("text", "帮助")


@pytest.mark.parametrize("pasted", ["帮助\v", "\x00帮助", "帮\x1f助\ufffe"])
def test_control_characters_are_dropped_as_wechat_does(
    demo_url: str, services: Services, pasted: str
) -> None:
    """A vertical tab pasted from Word, or a NUL, cannot travel in XML."""
    assert "活动" in say(demo_url, pasted)
    [stored] = inbound(services)
    assert stored.content == "帮助"


def test_a_scene_with_control_characters_still_arrives(demo_url: str) -> None:
    answer = send(demo_url, openid="o-demo-new", kind="scan", scene="checkin:\x0b1")
    assert answer["ok"], answer


def test_follow_gets_the_welcome(demo_url: str) -> None:
    answer = send(demo_url, openid="o-demo-new", kind="subscribe")
    assert answer["ok"] and answer["reply"].startswith("欢迎关注爱乡共建俱乐部")


def test_english_switches_the_language(demo_url: str) -> None:
    assert say(demo_url, "English") == "Switched to English."
    assert "you can send" in say(demo_url, "帮助")
    assert say(demo_url, "中文") == "已切换为中文。"


def test_menu_tap_is_a_click_event(demo_url: str, services: Services) -> None:
    answer = send(demo_url, openid="o-demo-test", kind="click", key="HELP")

    assert answer["ok"] and "活动" in answer["reply"]
    [stored] = inbound(services)
    assert (stored.event, stored.event_key) == ("click", "HELP")


def test_scan_follows_a_newcomer_and_is_a_scan_for_a_follower(
    demo_url: str, services: Services
) -> None:
    send(demo_url, openid="o-demo-scan", kind="scan", scene="checkin:3")
    send(demo_url, openid="o-demo-scan", kind="scan", scene="checkin:3")

    first, second = inbound(services)
    assert (first.event, first.event_key) == ("subscribe", "qrscene_checkin:3")
    assert (second.event, second.event_key) == ("scan", "checkin:3")


def test_unfollow_gets_no_reply_and_marks_the_resident(demo_url: str, services: Services) -> None:
    send(demo_url, openid="o-demo-leaving", kind="subscribe")
    answer = send(demo_url, openid="o-demo-leaving", kind="unsubscribe")

    assert answer == {"ok": True, "status": 200, "reply": "", "reply_type": ""}
    residents = requests.get(f"{demo_url}/sim/api/residents", timeout=10).json()
    assert residents == [
        {"openid": "o-demo-leaving", "name": "", "subscribed": False, "language": ""}
    ]


def test_photo_and_location_are_wechat_messages(demo_url: str, services: Services) -> None:
    assert send(demo_url, openid="o-demo-test", kind="image", safe=True)["ok"]
    assert send(demo_url, openid="o-demo-test", kind="location", village=1)["ok"]

    photo, place = inbound(services)
    assert photo.msg_type == "image"
    assert place.msg_type == "location"


def test_a_rejection_is_reported_with_status_and_reason(
    services: Services, fake_wechat: FakeWeChatServer
) -> None:
    app = create_app(services=services)
    wrong = WeChatPayloads(token="not-the-token", app_id=TEST_APP_ID, encoding_aes_key=TEST_AES_KEY)
    install_simulator(app, wrong, fake_wechat.root_url)
    with serving(app) as url:
        answer = send(url, openid="o-demo-test", kind="text", text="帮助")

    assert answer == {"ok": False, "status": 403, "reason": "bad signature"}
    assert count(services, Resident) == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", "send a JSON object such as {openid, kind, text}"),
        ({"openid": "o 1", "kind": "text", "text": "hi"}, "openid must be 1-64 letters"),
        ({"openid": "o-1", "kind": "shout"}, "kind must be one of text, voice, click"),
        ({"openid": "o-1", "kind": "text", "text": "  "}, "text is empty"),
        ({"openid": "o-1", "kind": "text", "text": "\x00\x0b\x1f"}, "text is empty"),
        ({"openid": "o-1", "kind": "text", "text": "长" * 2001}, "text is over 2000 characters"),
        ({"openid": "o-1", "kind": "text", "text": "hi", "safe": "yes"}, "safe must be true"),
        ({"openid": "o-1", "kind": "click"}, "key must be a menu key"),
        ({"openid": "o-1", "kind": "scan", "scene": ""}, "scene must be 1-64 characters"),
        ({"openid": "o-1", "kind": "location", "village": 99}, "village must be a number"),
        ({"openid": "o-1", "kind": "text", "text": "\ud800"}, "text is not valid Unicode"),
        ({"openid": "o-1", "kind": "text", "text": "hi \udfff"}, "text is not valid Unicode"),
        ({"openid": "o-1", "kind": "click", "key": "\ud800"}, "key is not valid Unicode"),
        ({"openid": "o-1", "kind": "scan", "scene": "\ud800"}, "scene is not valid Unicode"),
    ],
)
def test_bad_requests_get_one_line_and_store_nothing(
    demo_url: str, services: Services, body: Any, error: str
) -> None:
    if isinstance(body, str):
        response = requests.post(f"{demo_url}/sim/api/send", data=body, timeout=10)
    else:
        response = requests.post(f"{demo_url}/sim/api/send", json=body, timeout=10)

    assert response.status_code == 400
    message = response.json()["error"]
    assert message.startswith(error) and "\n" not in message
    assert count(services, Resident) == 0


def test_residents_list_the_newest_and_the_selected_one(demo_url: str, services: Services) -> None:
    with services.session_factory() as db, db.begin():
        for index in range(MAX_RESIDENTS_LISTED + 5):
            get_or_create_resident(db, f"o-demo-{index:03d}", services.clock())

    def listed(**params: str) -> list[str]:
        response = requests.get(f"{demo_url}/sim/api/residents", params=params, timeout=10)
        assert response.status_code == 200
        return [r["openid"] for r in response.json()]

    newest = listed()
    assert len(newest) == MAX_RESIDENTS_LISTED and newest == sorted(newest)
    assert newest[-1] == f"o-demo-{MAX_RESIDENTS_LISTED + 4:03d}"
    assert "o-demo-000" not in newest
    assert listed(selected="o-demo-000") == ["o-demo-000", *newest]
    assert listed(selected="o-demo-nobody") == newest


# Pushes read from the fake WeChat API -----------------------------------------------


def test_pushes_for_a_resident_appear_in_the_feed(
    demo_url: str, wechat_client: AixiangWeChatClient
) -> None:
    wechat_client.message.send_text("o-demo-li", "您报名的活动明天开始")
    wechat_client.message.send_text("o-demo-other", "not for Li")
    wechat_client.message.send_template(
        "o-demo-li",
        "TEMPLATE-1",
        {"first": {"value": "需求有进展"}, "keyword1": {"value": "已受理"}},
    )
    wechat_client.post(
        "message/subscribe/bizsend",
        data={"touser": "o-demo-li", "template_id": "SUB-1", "data": {"thing1": {"value": "签到"}}},
    )

    feed = pushes(demo_url, "o-demo-li")

    assert [(m["endpoint"], m["text"]) for m in feed["messages"]] == [
        ("message/custom/send", "您报名的活动明天开始"),
        ("message/template/send", "需求有进展\n已受理"),
        ("message/subscribe/bizsend", "签到"),
    ]
    assert pushes(demo_url, "o-demo-li", since=feed["cursor"])["messages"] == []


def test_broadcasts_reach_everyone_or_the_tag(
    demo_url: str, wechat_client: AixiangWeChatClient
) -> None:
    tag_id = wechat_client.tag.create("volunteers")["id"]
    wechat_client.tag.tag_user(tag_id, ["o-demo-li", "o-demo-emma"])
    wechat_client.tag.untag_user(tag_id, ["o-demo-emma"])
    wechat_client.message.send_mass_text(tag_id, "志愿者集合")
    wechat_client.message.send_mass_text(None, "全体通知", is_to_all=True)
    wechat_client.message.send_mass_text(["o-demo-wang", "o-demo-emma"], "two of you")

    def texts(openid: str) -> list[str]:
        return [m["text"] for m in pushes(demo_url, openid)["messages"]]

    assert texts("o-demo-li") == ["志愿者集合", "全体通知"]
    assert texts("o-demo-wang") == ["全体通知", "two of you"]
    assert texts("o-demo-emma") == ["全体通知", "two of you"]  # untagged before the send


def test_a_refused_push_is_not_shown(
    demo_url: str, fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    fake_wechat.add_fault("message/custom/send", errcode=45015)
    with pytest.raises(Exception, match="45015"):
        wechat_client.message.send_text("o-demo-li", "too late")

    assert pushes(demo_url, "o-demo-li")["messages"] == []


def test_pushes_say_when_the_fake_api_is_down(services: Services) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with serving(build_demo_app(services, closed)) as url:
        response = requests.get(f"{url}/sim/api/thread", params={"openid": "o-1"}, timeout=10)
        bad_since = requests.get(
            f"{url}/sim/api/thread", params={"openid": "o-1", "since": "x"}, timeout=10
        )

    assert response.status_code == 502
    assert response.json() == {"error": f"the fake WeChat API at {closed} is not answering"}
    assert bad_since.status_code == 400


# The demo's wiring --------------------------------------------------------------------


def test_demo_data_is_seeded_once(services: Services) -> None:
    for _ in range(2):
        with services.session_factory() as db, db.begin():
            seed_demo_data(db, services.clock())

    with services.session_factory() as db:
        names = set(db.execute(select(Resident.name)).scalars())
    assert names == {person.name for person in DEMO_RESIDENTS}
    assert count(services, Event) == 4
    with services.session_factory() as db:
        villages = db.execute(select(Village.name).order_by(Village.id)).scalars().all()
    assert villages == ["爱乡村", "一组", "二组", "溪口村", "矿山社区"]


def test_every_run_makes_up_its_own_valid_account(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIXIANG_DATABASE_URL", "postgresql://production.example/aixiang")
    monkeypatch.setenv("AIXIANG_REDIS_URL", "redis://production.example:6379/0")
    first, second = DemoCredentials.generate(), DemoCredentials.generate()

    config = demo_config(first, "http://127.0.0.1:8001/cgi-bin/")

    assert first != second
    assert len({first.token, second.token}) == len({first.app_secret, second.app_secret}) == 2
    assert config.database.url == f"sqlite:///{PROJECT_ROOT}/instance/aixiang.db"
    assert config.redis.url == MEMORY_REDIS_URL
    assert config.wechat.api_base_url == "http://127.0.0.1:8001/cgi-bin/"
    payloads = WeChatPayloads(first.token, first.app_id, first.encoding_aes_key)
    delivery = payloads.sign(payloads.text("o-1", "hi"), safe=True)
    assert payloads.read_reply(delivery.body, safe=True)["Content"] == "hi"


def test_demo_refuses_one_port_for_both(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo", "--port", "8123", "--fake-port", "8123"])

    assert result.exit_code == 2
    assert result.output == ("error: the demo and the fake WeChat API cannot share port 8123\n")


@pytest.mark.parametrize("option", ["--port", "--fake-port"])
def test_demo_says_which_port_is_taken(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, option: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken, socket.socket() as free:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        free.bind(("127.0.0.1", 0))
        ports = {option: taken.getsockname()[1]}
        other = "--fake-port" if option == "--port" else "--port"
        ports[other] = free.getsockname()[1]
        free.close()
        args = ["demo", *(str(part) for pair in ports.items() for part in pair)]
        result = CliRunner().invoke(main, args)

    assert result.exit_code == 2
    assert result.output.startswith(f"error: cannot listen on {option} {ports[option]}: ")
    assert result.output.count("\n") == 1


def test_fake_wechat_command_says_its_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["fake-wechat", "--port", str(port)])

    assert result.exit_code == 2
    assert result.output.startswith(f"error: cannot listen on --port {port}: ")


def test_the_thread_survives_a_restart_of_the_fake_api(services: Services, tmp_path: Path) -> None:
    """The page's cursor still works against a restarted demo, whose call log carries on
    from the file, and a reload shows the pushes of both runs."""
    call_log = tmp_path / "demo-calls.jsonl"
    openid = "o-demo-li"
    with (
        FakeWeChatServer(call_log=call_log) as fake,
        serving(build_demo_app(services, fake.root_url)) as url,
    ):
        say(url, "帮助", openid=openid)
        push(services, fake, openid, "first run")
        cursor = thread(url, openid)["cursor"]
    with (
        FakeWeChatServer(call_log=call_log) as fake,
        serving(build_demo_app(services, fake.root_url)) as url,
    ):
        push(services, fake, openid, "second run")
        new = thread(url, openid, since=cursor)
        whole = thread(url, openid)

    assert [item["text"] for item in new["items"]] == ["second run"]
    texts = [item["text"] for item in whole["items"]]
    assert texts[0] == "帮助" and texts[-2:] == ["first run", "second run"]


def push(services: Services, fake: FakeWeChatServer, openid: str, text: str) -> None:
    """A text pushed through ``fake``, as the demo's worker would."""
    config = replace(
        services.config,
        wechat=replace(
            services.config.wechat,
            api_base_url=fake.base_url,
            app_id=fake.app_id,
            app_secret=fake.app_secret,
        ),
    )
    client = build_wechat_client(config, services.redis)
    try:
        client.message.send_text(openid, text)
    finally:
        client.close()


def test_the_clock_is_set_to_a_local_time_in_one_step(
    services: Services, fake_wechat: FakeWeChatServer
) -> None:
    clock = SimulatedClock()
    demo_services = replace(services, clock=clock)
    target = (clock() + timedelta(days=2)).astimezone(services.config.bot.tz)
    at = target.strftime("%Y-%m-%dT%H:%M")
    with serving(build_demo_app(demo_services, fake_wechat.root_url)) as url:
        moved = requests.post(f"{url}/sim/api/clock", json={"at": at}, timeout=10).json()
        back = requests.post(f"{url}/sim/api/clock", json={"at": "2020-01-01T09:00"}, timeout=10)

    assert moved["now"] == at.replace("T", " ")
    assert back.status_code == 400 and "only moves forward" in back.json()["error"]
