"""The fake WeChat API, spoken to over plain HTTP as WeChat would be."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.wechat.fake_api.endpoints import HANDLERS
from bot.wechat.fake_api.server import FakeWeChatServer
from bot.wechat.fake_api.state import FakeWeChat
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent


def call(fake: FakeWeChatServer, endpoint: str, body: Any = None, **query: str) -> Any:
    """One API call: POST with a JSON body, GET without; answers decoded from JSON."""
    url = f"{fake.base_url}{endpoint}"
    if body is None:
        return requests.get(url, params=query, timeout=5).json()
    return requests.post(url, params=query, json=body, timeout=5).json()


def stable_token(
    fake: FakeWeChatServer, *, force_refresh: bool = False, override: dict[str, str] | None = None
) -> Any:
    body = {
        "grant_type": "client_credential",
        "appid": fake.app_id,
        "secret": fake.app_secret,
        "force_refresh": force_refresh,
    }
    return call(fake, "stable_token", {**body, **(override or {})})


def plain_token(fake: FakeWeChatServer, **override: str) -> Any:
    query = {"grant_type": "client_credential", "appid": fake.app_id, "secret": fake.app_secret}
    return call(fake, "token", **{**query, **override})


@pytest.fixture
def token(fake_wechat: FakeWeChatServer) -> str:
    return str(stable_token(fake_wechat)["access_token"])


def text_message(openid: str = "o-resident-1") -> dict[str, Any]:
    return {"touser": openid, "msgtype": "text", "text": {"content": "你好"}}


def add_fault(fake: FakeWeChatServer, **fault: Any) -> requests.Response:
    return requests.post(f"{fake.root_url}/_fake/faults", json=fault, timeout=5)


def test_server_serves_under_cgi_bin_and_stops() -> None:
    with FakeWeChatServer() as fake:
        assert fake.base_url.endswith("/cgi-bin/")
        assert stable_token(fake)["expires_in"] == 7200
        root = fake.root_url
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{root}/_fake/calls", timeout=5)


def test_plain_token_is_new_every_call_and_retires_the_previous(
    fake_wechat: FakeWeChatServer,
) -> None:
    first, second = plain_token(fake_wechat), plain_token(fake_wechat)

    assert first["access_token"] != second["access_token"]
    assert second["expires_in"] == 7200
    assert call(fake_wechat, "menu/get", access_token=first["access_token"])["errcode"] == 40001
    assert (
        call(fake_wechat, "user/info", openid="o-1", access_token=second["access_token"])[
            "subscribe"
        ]
        == 1
    )


def test_stable_token_is_reused_until_forced(fake_wechat: FakeWeChatServer) -> None:
    first, again = stable_token(fake_wechat), stable_token(fake_wechat)
    forced = stable_token(fake_wechat, force_refresh=True)

    assert again["access_token"] == first["access_token"]
    assert forced["access_token"] != first["access_token"]
    assert forced["expires_in"] == 7200
    retired = call(fake_wechat, "user/info", openid="o-1", access_token=first["access_token"])
    assert retired["errcode"] == 40001


@pytest.mark.parametrize(
    ("override", "errcode"),
    [
        ({"appid": "wx-someone-else"}, 40013),
        ({"secret": "wrong"}, 40125),
        ({"grant_type": "password"}, 40002),
    ],
)
def test_wrong_credentials_are_refused(
    fake_wechat: FakeWeChatServer, override: dict[str, str], errcode: int
) -> None:
    assert stable_token(fake_wechat, override=override)["errcode"] == errcode
    assert plain_token(fake_wechat, **override)["errcode"] == errcode


def test_api_calls_need_a_current_token(fake_wechat: FakeWeChatServer, token: str) -> None:
    assert call(fake_wechat, "message/custom/send", text_message())["errcode"] == 41001
    refused = call(fake_wechat, "message/custom/send", text_message(), access_token="made-up")
    assert refused == {
        "errcode": 40001,
        "errmsg": "invalid credential, access_token is invalid or not latest",
    }
    sent = call(fake_wechat, "message/custom/send", text_message(), access_token=token)
    assert sent == {"errcode": 0, "errmsg": "ok"}


def test_expired_tokens_get_42001_and_a_new_stable_token(
    fake_wechat: FakeWeChatServer, token: str
) -> None:
    expired = requests.post(f"{fake_wechat.root_url}/_fake/expire_tokens", timeout=5).json()

    assert expired["expired"] >= 1
    assert call(fake_wechat, "menu/get", access_token=token)["errcode"] == 42001
    fresh = stable_token(fake_wechat)["access_token"]
    assert fresh != token
    assert call(fake_wechat, "user/info", openid="o-1", access_token=fresh)["subscribe"] == 1


def test_calls_are_recorded_filtered_and_cleared(fake_wechat: FakeWeChatServer, token: str) -> None:
    call(fake_wechat, "message/custom/send", text_message("o-a"), access_token=token)
    call(fake_wechat, "user/info", openid="o-a", access_token=token)
    call(fake_wechat, "message/custom/send", text_message("o-b"), access_token=token)
    calls_url = f"{fake_wechat.root_url}/_fake/calls"

    everything = requests.get(calls_url, timeout=5).json()
    sends = requests.get(calls_url, params={"endpoint": "message/custom/send"}, timeout=5).json()
    newer = requests.get(calls_url, params={"since": sends[0]["seq"]}, timeout=5).json()

    assert [c["endpoint"] for c in everything] == [
        "stable_token",
        "message/custom/send",
        "user/info",
        "message/custom/send",
    ]
    assert [c["body"]["touser"] for c in sends] == ["o-a", "o-b"]
    assert sends[0]["body"]["text"]["content"] == "你好"
    assert sends[0]["query"]["access_token"] == token
    assert sends[0]["result"] == {"errcode": 0, "errmsg": "ok"}
    assert sends[0]["status"] == 200
    assert isinstance(sends[0]["time"], float)
    assert [c["endpoint"] for c in newer] == ["user/info", "message/custom/send"]
    assert fake_wechat.calls("user/info")[0]["query"]["openid"] == "o-a"

    assert requests.delete(calls_url, timeout=5).json() == {"cleared": 4}
    assert requests.get(calls_url, timeout=5).json() == []


def test_errcode_fault_applies_the_given_number_of_times(
    fake_wechat: FakeWeChatServer, token: str
) -> None:
    created = add_fault(fake_wechat, endpoint="message/custom/send", errcode=45015, times=2)

    answers = [
        call(fake_wechat, "message/custom/send", text_message(), access_token=token)
        for _ in range(3)
    ]

    assert created.status_code == 201
    assert (
        answers[0]
        == answers[1]
        == {
            "errcode": 45015,
            "errmsg": "response out of time limit or subscription is canceled",
        }
    )
    assert answers[2]["errcode"] == 0
    assert requests.get(f"{fake_wechat.root_url}/_fake/faults", timeout=5).json() == []


@pytest.mark.parametrize(
    ("errcode", "errmsg"),
    [
        (43004, "require subscribe"),
        (45009, "reach max api daily quota limit"),
        (45047, "out of response count limit"),
        (-1, "system error"),
        (42001, "access_token expired"),
    ],
)
def test_errcode_faults_carry_wechats_texts(
    fake_wechat: FakeWeChatServer, token: str, errcode: int, errmsg: str
) -> None:
    fake_wechat.add_fault("message/template/send", errcode=errcode)
    body = {"touser": "o-1", "template_id": "tpl", "data": {}}

    answer = call(fake_wechat, "message/template/send", body, access_token=token)

    assert answer == {"errcode": errcode, "errmsg": errmsg}


def test_http_status_fault(fake_wechat: FakeWeChatServer, token: str) -> None:
    add_fault(fake_wechat, endpoint="message/custom/send", http_status=500)
    url = f"{fake_wechat.base_url}message/custom/send"

    failed = requests.post(url, params={"access_token": token}, json=text_message(), timeout=5)
    recovered = requests.post(url, params={"access_token": token}, json=text_message(), timeout=5)

    assert failed.status_code == 500
    assert recovered.json()["errcode"] == 0
    assert [c["status"] for c in fake_wechat.calls("message/custom/send")] == [500, 200]


def test_not_json_fault_answers_a_page_with_http_200(
    fake_wechat: FakeWeChatServer, token: str
) -> None:
    page = "<html><body>502 upstream busy</body></html>"
    add_fault(fake_wechat, endpoint="message/custom/send", not_json=page)
    url = f"{fake_wechat.base_url}message/custom/send"

    answer = requests.post(url, params={"access_token": token}, json=text_message(), timeout=5)

    assert answer.status_code == 200
    assert answer.text == page
    assert fake_wechat.calls("message/custom/send")[0]["result"] == page


def test_delay_fault_answers_late(fake_wechat: FakeWeChatServer, token: str) -> None:
    add_fault(fake_wechat, endpoint="menu/get", delay_s=0.2)

    started = time.monotonic()
    answer = call(fake_wechat, "menu/get", access_token=token)

    assert time.monotonic() - started >= 0.2
    assert answer["errcode"] in (0, 46003)


def test_fault_without_times_lasts_until_cleared(fake_wechat: FakeWeChatServer, token: str) -> None:
    add_fault(fake_wechat, endpoint="message/custom/send", errcode=-1, times=None)
    for _ in range(3):
        answer = call(fake_wechat, "message/custom/send", text_message(), access_token=token)
        assert answer["errcode"] == -1

    requests.delete(f"{fake_wechat.root_url}/_fake/faults", timeout=5)

    assert call(fake_wechat, "message/custom/send", text_message(), access_token=token) == {
        "errcode": 0,
        "errmsg": "ok",
    }


def test_clearing_faults_releases_a_delayed_answer(
    fake_wechat: FakeWeChatServer, token: str
) -> None:
    fake_wechat.add_fault("menu/get", delay_s=60)
    answers: list[Any] = []
    waiter = threading.Thread(
        target=lambda: answers.append(call(fake_wechat, "menu/get", access_token=token))
    )
    waiter.start()
    while not fake_wechat.calls("menu/get"):
        time.sleep(0.01)

    fake_wechat.clear()
    waiter.join(timeout=10)

    assert not waiter.is_alive()
    assert answers[0]["errcode"] in (0, 46003)


@pytest.mark.parametrize(
    "fault",
    [
        {"errcode": 45015},
        {"endpoint": "menu/get"},
        {"endpoint": "menu/get", "errcode": "x"},
        {"endpoint": "menu/get", "errcode": 45015, "times": 0},
        {"endpoint": "menu/get", "http_status": 200},
        {"endpoint": "menu/get", "colour": "red"},
        {"endpoint": "menu/get", "not_json": 7},
        {"endpoint": "menu/get", "not_json": "<html></html>", "errcode": 45015},
        {"endpoint": "menu/get", "delay_s": 1e10},
        {"endpoint": "menu/get", "delay_s": 60.5},
        {"endpoint": "menu/get", "delay_s": -1},
        {"endpoint": "menu/get", "delay_s": "inf"},
        {"endpoint": "menu/get", "delay_s": "1"},
        {"endpoint": "menu/get", "delay_s": True},
        {"endpoint": "menu/get", "delay_s": [1]},
        {"endpoint": "menu/get", "delay_s": {"a": 1}},
    ],
)
def test_malformed_faults_are_refused(fake_wechat: FakeWeChatServer, fault: Any) -> None:
    answer = add_fault(fake_wechat, **fault)

    assert answer.status_code == 400
    assert answer.json()["error"]
    assert fake_wechat.fake.faults() == []


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
def test_infinite_and_nan_delays_are_refused(fake_wechat: FakeWeChatServer, literal: str) -> None:
    """Python's JSON reader takes these literals; a delay they give could not be waited on
    (or would not be one), and /_fake/faults could not show it as standard JSON."""
    answer = requests.post(
        f"{fake_wechat.root_url}/_fake/faults",
        data=f'{{"endpoint": "menu/get", "delay_s": {literal}}}',
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert answer.status_code == 400
    assert "delay_s must be a number of seconds" in answer.json()["error"]
    assert fake_wechat.fake.faults() == []


@pytest.mark.parametrize("delay_s", [float("inf"), float("nan"), 1e10, 61])
def test_unbounded_delays_are_refused_from_python_too(
    fake_wechat: FakeWeChatServer, delay_s: float
) -> None:
    with pytest.raises(ValueError, match="delay_s must be a number of seconds from 0 to 60"):
        fake_wechat.add_fault("menu/get", delay_s=delay_s)
    assert fake_wechat.fake.faults() == []


def test_qrcode_ticket_shows_a_png(fake_wechat: FakeWeChatServer, token: str) -> None:
    temporary = call(
        fake_wechat,
        "qrcode/create",
        {
            "expire_seconds": 600,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": "event-7"}},
        },
        access_token=token,
    )
    permanent = call(
        fake_wechat,
        "qrcode/create",
        {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 7}}},
        access_token=token,
    )
    image = requests.get(
        f"{fake_wechat.base_url}showqrcode", params={"ticket": temporary["ticket"]}, timeout=5
    )
    unknown = requests.get(
        f"{fake_wechat.base_url}showqrcode", params={"ticket": "nope"}, timeout=5
    )

    assert temporary["expire_seconds"] == 600
    assert temporary["url"].startswith("http://weixin.qq.com/q/")
    assert "expire_seconds" not in permanent
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert unknown.status_code == 404


def test_media_get_returns_an_image(fake_wechat: FakeWeChatServer, token: str) -> None:
    media = requests.get(
        f"{fake_wechat.base_url}media/get",
        params={"access_token": token, "media_id": "m-1"},
        timeout=5,
    )

    assert media.headers["Content-Type"].startswith("image/")
    assert media.content.startswith(b"\x89PNG")
    assert call(fake_wechat, "media/get", access_token=token)["errcode"] == 40007
    recorded = fake_wechat.calls("media/get")[0]["result"]
    assert recorded == {"content_type": "image/png", "bytes": len(media.content)}


def post_raw(fake: FakeWeChatServer, endpoint: str, data: str, token: str) -> requests.Response:
    """A call with a body exactly as given, well-formed JSON or not."""
    return requests.post(
        f"{fake.base_url}{endpoint}", params={"access_token": token}, data=data, timeout=10
    )


@pytest.mark.parametrize(
    ("endpoint", "body", "errcode"),
    [
        ("qrcode/create", '{"action_name": ["QR_SCENE"]}', 47001),
        ("message/custom/send", '{"touser": "o1", "msgtype": {"a": 1}}', 40008),
        ("message/mass/send", '{"touser": ["a", "b"], "msgtype": ["text"]}', 40008),
        ("tags/delete", '{"tag": {"id": [1]}}', 45159),
        ("message/custom/send", "[" * 100_000, 47001),
    ],
)
def test_malformed_arguments_get_wechats_errcode_and_finish_the_call(
    fake_wechat: FakeWeChatServer, token: str, endpoint: str, body: str, errcode: int
) -> None:
    """A list or an object where WeChat expects a word, or JSON nested past what Python
    reads, is a WeChat error answer, never the fake's own 500; the log says how it ended."""
    answer = post_raw(fake_wechat, endpoint, body, token)

    assert (answer.status_code, answer.json()["errcode"]) == (200, errcode)
    [recorded] = fake_wechat.calls(endpoint)
    assert recorded["status"] == 200 and recorded["result"]["errcode"] == errcode


def test_user_tag_get_refuses_a_next_openid_that_is_not_text(
    fake_wechat: FakeWeChatServer, token: str
) -> None:
    tag_id = call(fake_wechat, "tags/create", {"tag": {"name": "t"}}, access_token=token)["tag"][
        "id"
    ]
    call(
        fake_wechat,
        "tags/members/batchtagging",
        {"tagid": tag_id, "openid_list": ["o1"]},
        access_token=token,
    )
    answer = call(
        fake_wechat, "user/tag/get", {"tagid": tag_id, "next_openid": 5}, access_token=token
    )

    assert answer["errcode"] == 47001
    assert fake_wechat.calls("user/tag/get")[0]["status"] == 200


def test_media_get_refuses_an_id_far_too_long(fake_wechat: FakeWeChatServer, token: str) -> None:
    answer = call(fake_wechat, "media/get", access_token=token, media_id="x" * 3000)

    assert answer["errcode"] == 40007
    assert fake_wechat.calls("media/get")[0]["status"] == 200


def test_a_body_over_a_mebibyte_is_refused_unrecorded(
    fake_wechat: FakeWeChatServer, token: str
) -> None:
    """One request cannot grow the call log without bound."""
    answer = post_raw(fake_wechat, "message/custom/send", "x" * (1024 * 1024 + 1), token)

    assert answer.status_code == 413 and answer.json()["errcode"] == 47001
    assert fake_wechat.calls("message/custom/send") == []


def test_a_failure_of_the_fake_still_finishes_the_call(
    fake_wechat: FakeWeChatServer, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fake: FakeWeChat, query: dict[str, str], body: Any) -> Any:
        raise RuntimeError("a bug in the fake")

    monkeypatch.setitem(HANDLERS, "menu/get", broken)
    answer = requests.get(
        f"{fake_wechat.base_url}menu/get", params={"access_token": token}, timeout=5
    )

    assert answer.status_code == 500
    [recorded] = fake_wechat.calls("menu/get")
    assert recorded["status"] == 500 and "failed" in recorded["result"]


def test_tags_users_and_mass_sends(fake_wechat: FakeWeChatServer, token: str) -> None:
    name = f"volunteers-{time.monotonic_ns()}"
    tag = call(fake_wechat, "tags/create", {"tag": {"name": name}}, access_token=token)["tag"]
    duplicate = call(fake_wechat, "tags/create", {"tag": {"name": name}}, access_token=token)
    tagged = call(
        fake_wechat,
        "tags/members/batchtagging",
        {"openid_list": ["o-1", "o-2"], "tagid": tag["id"]},
        access_token=token,
    )
    unknown_tag = call(
        fake_wechat,
        "tags/members/batchtagging",
        {"openid_list": ["o-1"], "tagid": 9_999_999},
        access_token=token,
    )
    tags = call(fake_wechat, "tags/get", access_token=token)["tags"]
    user = call(fake_wechat, "user/info", openid="o-1", access_token=token)
    message = {"msgtype": "text", "text": {"content": "活动通知"}}
    by_tag = call(
        fake_wechat,
        "message/mass/sendall",
        {"filter": {"is_to_all": False, "tag_id": tag["id"]}, **message},
        access_token=token,
    )
    to_all = call(
        fake_wechat,
        "message/mass/sendall",
        {"filter": {"is_to_all": True}, **message},
        access_token=token,
    )
    by_list = call(
        fake_wechat,
        "message/mass/send",
        {"touser": ["o-1", "o-2"], **message},
        access_token=token,
    )
    to_one = call(
        fake_wechat, "message/mass/send", {"touser": ["o-1"], **message}, access_token=token
    )

    assert duplicate["errcode"] == 45157
    assert tagged == {"errcode": 0, "errmsg": "ok"}
    assert unknown_tag["errcode"] == 45159
    assert {"id": tag["id"], "name": name, "count": 2} in tags
    assert tag["id"] in user["tagid_list"]
    for accepted in (by_tag, to_all, by_list):
        assert accepted["errcode"] == 0
        assert accepted["errmsg"] == "send job submission success"
        assert isinstance(accepted["msg_id"], int)
    assert to_one["errcode"] == 40130


def test_template_and_subscribe_messages(fake_wechat: FakeWeChatServer, token: str) -> None:
    template = {"touser": "o-1", "template_id": "tpl-reminder", "data": {}}

    sent = call(fake_wechat, "message/template/send", template, access_token=token)
    biz = call(fake_wechat, "message/subscribe/bizsend", template, access_token=token)
    no_template = call(
        fake_wechat, "message/subscribe/bizsend", {"touser": "o-1"}, access_token=token
    )
    bad_type = call(
        fake_wechat,
        "message/custom/send",
        {"touser": "o-1", "msgtype": "telegram"},
        access_token=token,
    )
    not_json = requests.post(
        f"{fake_wechat.base_url}message/custom/send",
        params={"access_token": token},
        data=b"{not json",
        timeout=5,
    ).json()

    assert sent["errcode"] == 0
    assert isinstance(sent["msgid"], int)
    assert biz == {"errcode": 0, "errmsg": "ok"}
    assert no_template["errcode"] == 40037
    assert bad_type["errcode"] == 40008
    assert not_json["errcode"] == 47001


def test_menu_is_checked_stored_and_returned() -> None:
    menu = {
        "button": [
            {"type": "click", "name": "帮助", "key": "HELP"},
            {
                "name": "活动",
                "sub_button": [
                    {"type": "view", "name": "官网", "url": "https://example.org/"},
                ],
            },
        ]
    }
    too_many = {"button": [{"type": "click", "name": f"b{i}", "key": "K"} for i in range(4)]}
    no_key = {"button": [{"type": "click", "name": "帮助"}]}
    with FakeWeChatServer() as fake:
        token = stable_token(fake)["access_token"]

        before = call(fake, "menu/get", access_token=token)
        created = call(fake, "menu/create", menu, access_token=token)
        after = call(fake, "menu/get", access_token=token)

        assert call(fake, "menu/create", too_many, access_token=token)["errcode"] == 40016
        assert call(fake, "menu/create", no_key, access_token=token)["errcode"] == 40019
    assert before["errcode"] == 46003
    assert created == {"errcode": 0, "errmsg": "ok"}
    assert after == {"menu": menu}


def test_serve_fake_wechat_runs_in_the_foreground_until_interrupted() -> None:
    port = free_port()
    serve = f"serve_fake_wechat('127.0.0.1', {port})"
    script = f"from bot.wechat.fake_api.server import serve_fake_wechat; {serve}"
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/_fake/calls", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the fake never started listening"
                assert process.poll() is None, "the fake exited on start"
                time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert answer.json() == []
