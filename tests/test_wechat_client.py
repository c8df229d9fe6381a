"""The WeChat client against the fake WeChat API: one shared token, bounded retries."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from urllib3.response import HTTPResponse
from wechatpy.exceptions import WeChatClientException

from bot.config.sections import MenuButton, MenuConfig
from bot.redis_conn import connect_redis
from bot.wechat.api import WeChatAPI, menu_to_wechat
from bot.wechat.client import AixiangWeChatClient
from bot.wechat.errors import (
    WeChatAPIError,
    WeChatFileTooLarge,
    WeChatTimeout,
    WeChatTokenRejected,
    WeChatTransportError,
)
from bot.wechat.fake_api.server import FakeWeChatServer
from tests.fixtures_wechat import MakeWeChatClient


def tokens_used(fake: FakeWeChatServer, endpoint: str = "message/custom/send") -> list[str]:
    return [c["query"]["access_token"] for c in fake.calls(endpoint)]


def forced(fake: FakeWeChatServer) -> list[bool]:
    """The force_refresh flag of every stable_token fetch, in order."""
    return [c["body"]["force_refresh"] for c in fake.calls("stable_token")]


def test_processes_share_one_token(
    fake_wechat: FakeWeChatServer, make_wechat_client: MakeWeChatClient
) -> None:
    first, second = make_wechat_client(), make_wechat_client()

    first.message.send_text("o-1", "one")
    second.message.send_text("o-2", "two")
    first.message.send_text("o-3", "three")

    assert forced(fake_wechat) == [False]
    assert len(set(tokens_used(fake_wechat))) == 1
    assert fake_wechat.calls("token") == []


@pytest.mark.parametrize("shared", [True, False], ids=["one-client", "client-per-thread"])
def test_concurrent_first_calls_fetch_once(
    fake_wechat: FakeWeChatServer, make_wechat_client: MakeWeChatClient, shared: bool
) -> None:
    fake_wechat.add_fault("stable_token", delay_s=0.2)  # keep the fetch open while others ask
    one = make_wechat_client()
    clients = [one if shared else make_wechat_client() for _ in range(8)]
    start = threading.Barrier(len(clients))
    failures: list[BaseException] = []

    def send(client: AixiangWeChatClient, n: int) -> None:
        start.wait()
        try:
            client.message.send_text(f"o-{n}", "hello")
        except BaseException as exc:  # reported below, where the test can fail on it
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(c, n)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert failures == []
    assert len(fake_wechat.calls("stable_token")) == 1
    assert len(fake_wechat.calls("message/custom/send")) == 8
    assert len(set(tokens_used(fake_wechat))) == 1


def test_rejected_token_is_refreshed_once_and_the_call_retried(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    fake_wechat.add_fault("message/custom/send", errcode=40001, times=1)

    result = wechat_client.message.send_text("o-1", "hello")

    assert result == {"errcode": 0, "errmsg": "ok"}
    assert forced(fake_wechat) == [False, True]
    first, retry = tokens_used(fake_wechat)
    assert first != retry
    assert retry == fake_wechat.calls("stable_token")[-1]["result"]["access_token"]


def test_persistent_rejection_gives_a_clear_error_after_one_retry(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    fake_wechat.add_fault("message/custom/send", errcode=40001, times=None)

    with pytest.raises(WeChatTokenRejected) as raised:
        wechat_client.message.send_text("o-1", "hello")

    assert raised.value.errcode == 40001
    assert isinstance(raised.value, WeChatClientException)
    assert "freshly fetched access token" in str(raised.value)
    assert len(fake_wechat.calls("message/custom/send")) == 2
    assert forced(fake_wechat) == [False, True]


def test_expired_token_is_replaced(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    wechat_client.message.send_text("o-1", "before")
    fake_wechat.expire_tokens()

    wechat_client.message.send_text("o-1", "after")

    sends = fake_wechat.calls("message/custom/send")
    assert [c["result"]["errcode"] for c in sends] == [0, 42001, 0]
    assert sends[0]["query"]["access_token"] == sends[1]["query"]["access_token"]
    assert sends[2]["query"]["access_token"] != sends[1]["query"]["access_token"]
    assert forced(fake_wechat) == [False, True]
    # The next call, in this process or another, uses the stored replacement.
    wechat_client.message.send_text("o-1", "later")
    assert tokens_used(fake_wechat)[-1] == sends[2]["query"]["access_token"]
    assert len(fake_wechat.calls("stable_token")) == 2


def test_a_token_another_process_replaced_is_refused_once_then_read_from_redis(
    fake_wechat: FakeWeChatServer, make_wechat_client: MakeWeChatClient
) -> None:
    first, second = make_wechat_client(), make_wechat_client()
    first.message.send_text("o-1", "one")  # first now reuses its copy of the token
    replacement = second.refresh_access_token(rejected=second.access_token)

    first.message.send_text("o-1", "two")

    sends = fake_wechat.calls("message/custom/send")
    assert [c["result"]["errcode"] for c in sends] == [0, 40001, 0]
    assert sends[2]["query"]["access_token"] == replacement
    assert forced(fake_wechat) == [False, True]
    first.message.send_text("o-1", "three")
    assert tokens_used(fake_wechat)[-1] == replacement


def pool_size(client: AixiangWeChatClient, url: str) -> int:
    return int(client._http.get_adapter(url).poolmanager.connection_pool_kw["maxsize"])


def test_the_http_pool_keeps_a_connection_per_sending_thread(
    make_wechat_client: MakeWeChatClient,
) -> None:
    client = AixiangWeChatClient(
        "wx-pool",
        "secret",
        api_base_url="http://127.0.0.1:1/",
        timeout=1.0,
        redis_client=connect_redis("memory://"),
        pool_size=32,
    )
    assert pool_size(client, "https://api.weixin.qq.com/") == 32
    assert pool_size(client, "http://127.0.0.1:1/") == 32
    assert pool_size(make_wechat_client(), "https://api.weixin.qq.com/") == 10  # 8 threads
    client.close()


def test_a_proxy_set_in_the_environment_is_still_used(
    fake_wechat: FakeWeChatServer,
    make_wechat_client: MakeWeChatClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")  # nothing listens there
    client = make_wechat_client()

    for attempt in range(2):  # the second call uses what the first read from the environment
        with pytest.raises(WeChatTransportError):
            client.message.send_text("o-1", f"via the proxy {attempt}")

    assert fake_wechat.calls() == []


def test_a_closed_client_opens_new_connections_when_used_again(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    wechat_client.message.send_text("o-1", "before")
    wechat_client.close()

    assert wechat_client.message.send_text("o-1", "after") == {"errcode": 0, "errmsg": "ok"}
    assert len(fake_wechat.calls("message/custom/send")) == 2


def test_a_call_with_more_than_a_query_and_a_body_goes_through_requests_alike(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    WeChatAPI(wechat_client).menu.create(MenuConfig())

    direct = wechat_client.get("menu/get")
    through_requests = wechat_client.get("menu/get", headers={"X-Trace": "1"})

    assert direct == through_requests == {"menu": fake_wechat.calls("menu/create")[0]["body"]}


def test_a_token_someone_else_already_replaced_is_not_fetched_again(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    current = wechat_client.access_token

    assert wechat_client.refresh_access_token(rejected="FAKE_a-token-replaced-meanwhile") == current
    assert len(fake_wechat.calls("stable_token")) == 1


def test_slow_answer_times_out(
    fake_wechat: FakeWeChatServer, make_wechat_client: MakeWeChatClient
) -> None:
    client = make_wechat_client(http_timeout_s=0.5)
    client.access_token  # noqa: B018 - fetch the token before the endpoint turns slow
    fake_wechat.add_fault("message/custom/send", delay_s=30)

    with pytest.raises(WeChatTimeout) as raised:
        client.message.send_text("o-1", "hello")

    assert raised.value.errcode is None
    assert "0.5s" in str(raised.value)
    assert len(fake_wechat.calls("message/custom/send")) == 1


def test_http_error_status_is_a_transport_error(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    fake_wechat.add_fault("message/custom/send", http_status=502)

    with pytest.raises(WeChatTransportError) as raised:
        wechat_client.message.send_text("o-1", "hello")

    assert raised.value.errcode is None
    assert "HTTP 502" in str(raised.value)
    assert "access_token" not in str(raised.value)


def test_a_page_that_is_not_json_is_a_transport_error(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    fake_wechat.add_fault("message/custom/send", not_json="<html>502 upstream busy</html>")

    with pytest.raises(WeChatTransportError) as raised:
        wechat_client.message.send_text("o-1", "hello")

    assert raised.value.errcode is None
    assert "HTTP 200" in str(raised.value) and "not JSON" in str(raised.value)
    assert "access_token" not in str(raised.value)


def test_the_media_download_still_answers_the_file(wechat_client: AixiangWeChatClient) -> None:
    response = wechat_client.media.download("m-1")

    assert response.headers["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_a_qr_code_ticket_answers_its_image_without_the_token(
    wechat_client: AixiangWeChatClient, fake_wechat: FakeWeChatServer
) -> None:
    """showqrcode goes to the configured API host; the ticket alone opens it."""
    qrcode = WeChatAPI(wechat_client).qrcode
    image = qrcode.image(qrcode.create_permanent("checkin:7"))

    assert image.startswith(b"\x89PNG")
    [shown] = fake_wechat.calls("showqrcode")
    assert "access_token" not in shown["query"]
    with pytest.raises(WeChatTransportError, match="HTTP 404"):
        qrcode.image("no-such-ticket")


def test_a_capped_download_answers_a_file_within_the_cap(
    wechat_client: AixiangWeChatClient,
) -> None:
    response = WeChatAPI(wechat_client).media.download("m-1", max_bytes=1 << 20)

    assert response.headers["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_a_capped_download_refuses_a_bigger_file_and_the_client_goes_on(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    size = len(WeChatAPI(wechat_client).media.download("m-1", max_bytes=1 << 20).content)

    with pytest.raises(WeChatFileTooLarge, match=f"{size} bytes, over {size - 1}"):
        WeChatAPI(wechat_client).media.download("m-1", max_bytes=size - 1)

    assert len(WeChatAPI(wechat_client).media.download("m-1", max_bytes=size).content) == size
    assert len(fake_wechat.calls("media/get")) == 3


def test_a_finished_download_never_touches_its_connection_once_back_in_the_pool(
    fake_wechat: FakeWeChatServer,
    make_wechat_client: MakeWeChatClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """urllib3 hands the connection back inside the read that ends the body. The
    downloading thread is held right there while another call takes that connection and
    is still waiting for its answer when the download's deadline (2 s) passes: the other
    call must get its answer, and the download its file. The other call's answer takes
    0.7 s of its 2 s timeout, so a slow machine has room to spare."""
    client = make_wechat_client(http_timeout_s=2.0)
    client.access_token  # noqa: B018 - one pooled connection, already open
    fake_wechat.add_fault("message/custom/send", delay_s=0.7)
    handed_back, other_done = threading.Event(), threading.Event()
    release_conn = HTTPResponse.release_conn

    def release_and_stall(response: HTTPResponse) -> None:
        release_conn(response)
        if threading.current_thread().name == "download" and not handed_back.is_set():
            handed_back.set()
            other_done.wait(timeout=5)

    monkeypatch.setattr(HTTPResponse, "release_conn", release_and_stall)
    results: dict[str, Any] = {}

    def download() -> None:
        try:
            results["download"] = len(
                WeChatAPI(client).media.download("m-1", max_bytes=1 << 20).content
            )
        except Exception as exc:
            results["download"] = exc

    def other_call() -> None:
        handed_back.wait(timeout=5)
        time.sleep(1.5)  # in flight from 1.5 s to 2.2 s, across the download's deadline
        try:
            results["other"] = client.message.send_text("o-1", "hello")["errcode"]
        except Exception as exc:
            results["other"] = exc
        finally:
            other_done.set()

    threads = [
        threading.Thread(target=download, name="download"),
        threading.Thread(target=other_call),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert isinstance(results["download"], int) and results["download"] > 0, results
    assert results["other"] == 0, results


@pytest.mark.parametrize("errcode", [43004, 45009, 45015, 45047, -1])
def test_other_errcodes_are_raised_with_the_code_kept(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient, errcode: int
) -> None:
    fake_wechat.add_fault("message/custom/send", errcode=errcode)

    with pytest.raises(WeChatAPIError) as raised:
        wechat_client.message.send_text("o-1", "hello")

    assert raised.value.errcode == errcode
    assert not isinstance(raised.value, WeChatTransportError)
    assert len(fake_wechat.calls("stable_token")) == 1


def test_wrong_secret_says_the_token_could_not_be_fetched(
    fake_wechat: FakeWeChatServer, make_wechat_client: MakeWeChatClient
) -> None:
    client = make_wechat_client(app_secret="not-the-secret")

    with pytest.raises(WeChatAPIError) as raised:
        client.message.send_text("o-1", "hello")

    assert raised.value.errcode == 40125
    assert "could not get an access token" in str(raised.value)
    assert fake_wechat.calls("message/custom/send") == []


def test_push_menu_sends_wechats_menu_json(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    WeChatAPI(wechat_client).menu.create(MenuConfig())

    [created] = fake_wechat.calls("menu/create")
    assert created["body"] == {
        "button": [
            {
                "name": "活动",
                "sub_button": [
                    {"type": "click", "name": "近期活动", "key": "EVENTS"},
                    {"type": "click", "name": "我的活动", "key": "MY_EVENTS"},
                ],
            },
            {
                "name": "需求",
                "sub_button": [
                    {"type": "click", "name": "提交需求", "key": "NEED_NEW"},
                    {"type": "click", "name": "我的需求", "key": "MY_NEEDS"},
                ],
            },
            {"type": "click", "name": "帮助", "key": "HELP"},
        ]
    }
    assert created["result"] == {"errcode": 0, "errmsg": "ok"}
    assert wechat_client.menu.get() == {"menu": created["body"]}


def test_view_buttons_carry_their_url() -> None:
    menu = MenuConfig(
        buttons=(
            MenuButton(name="官网", url="https://example.org/club"),
            MenuButton(name="更多", sub_buttons=(MenuButton(name="帮助", key="HELP"),)),
        )
    )

    assert menu_to_wechat(menu) == {
        "button": [
            {"type": "view", "name": "官网", "url": "https://example.org/club"},
            {"name": "更多", "sub_button": [{"type": "click", "name": "帮助", "key": "HELP"}]},
        ]
    }


def test_sends_without_redis_on_a_process_local_token(
    fake_wechat: FakeWeChatServer, make_wechat_client: MakeWeChatClient
) -> None:
    unreachable = connect_redis("redis://127.0.0.1:1/0")
    client = make_wechat_client(redis_client=unreachable)

    results: list[Any] = [client.message.send_text("o-1", f"n{n}") for n in range(2)]

    assert results == [{"errcode": 0, "errmsg": "ok"}] * 2
    assert len(fake_wechat.calls("stable_token")) == 1
    unreachable.close()


def test_libcurl_is_loaded_by_the_first_call_not_by_the_import() -> None:
    """The webhook's workers load the client's module (through the console's pages) and
    rarely call WeChat; libcurl's libraries would take about 7 MB of each."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bot.app, bot.wechat.client; print('pycurl' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False"
