"""Mass sends by WeChat user tag (subscription accounts), through the worker and the fake
WeChat API: the tag ends up holding exactly the audience, one sendall goes to it by
``tag_id``, a retry never sends twice, and WeChat's refusals are told apart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.services import Services
from bot.wechat.api import WeChatAPI
from bot.wechat.client import AixiangWeChatClient
from bot.wechat.errors import WeChatAPIError
from bot.wechat.fake_api.server import FakeWeChatServer
from bot.wechat.fake_api.tags import MAX_TAGS
from models import BroadcastRecipient, OutboxMessage
from models.base import utcnow
from models.broadcasts.mass import mass_tag_day, mass_tag_name
from scheduler.mass_tags import sync_tag
from scheduler.worker import Worker
from tests.cli import fail, run
from tests.conftest import FakeClock
from tests.helpers import pushes
from tests.pushes import sent_to
from tests.test_broadcasts import (
    SUBSCRIPTION,
    broadcast_now,
    event,
    real_event,
    resident,
    signs_up,
)

SENDALL = "message/mass/sendall"
TAGGING = "tags/members/batchtagging"
UNTAGGING = "tags/members/batchuntagging"
NOW = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def tag_named(client: AixiangWeChatClient, name: str) -> int | None:
    tags = client.get("tags/get")["tags"]
    return next((int(tag["id"]) for tag in tags if tag["name"] == name), None)


def members(client: AixiangWeChatClient, tag_id: int) -> list[str]:
    page = client.post("user/tag/get", data={"tagid": tag_id, "next_openid": ""})
    return list((page.get("data") or {}).get("openid", []))


def tag_send(
    make_worker: Callable[..., Worker], **sections: dict[str, Any]
) -> tuple[Worker, Services, int, OutboxMessage]:
    """A subscription account's mass send to those signed up for an event, queued:
    o-1 and o-en (English) are signed up, o-quiet too but opted out, o-other is not."""
    worker = make_worker(**sections)
    services = worker._services
    resident(services, "o-1")
    resident(services, "o-en", language="en")
    resident(services, "o-quiet", opted_out=True)
    resident(services, "o-other")
    made = event(services, "女性技能课堂", "women")
    signs_up(services, made, "o-1", "o-en", "o-quiet")
    broadcast_id = broadcast_now(services, f"signed-up:{made}", mass=True, settings=SUBSCRIPTION)
    [row] = pushes(services, "mass")
    return worker, services, broadcast_id, row


def test_subscription_mass_to_signed_up_reaches_exactly_the_audience_by_tag(
    make_worker: Callable[..., Worker],
    fake_wechat: FakeWeChatServer,
    wechat_client: AixiangWeChatClient,
) -> None:
    worker, services, broadcast_id, row = tag_send(make_worker)
    name = f"aixiang-20260501-b{broadcast_id}"
    assert row.recipient_openid == f"wechat-tag:{name}"
    assert row.payload["target"] == {"to": "tag", "tag": name, "openids": ["o-1", "o-en"]}
    # The tag is left over from before: o-quiet has since opted out, o-stranger was
    # tagged by hand; neither may get the message.
    old_id = tag_named(wechat_client, name)
    if old_id is None:
        old_id = int(wechat_client.post("tags/create", data={"tag": {"name": name}})["tag"]["id"])
    wechat_client.post(TAGGING, data={"openid_list": ["o-quiet", "o-stranger"], "tagid": old_id})
    fake_wechat.clear()

    assert worker.run_once() == 1

    [call] = sent_to(fake_wechat, SENDALL)
    body = call["body"]
    assert body["filter"] == {"is_to_all": False, "tag_id": old_id}
    assert "group_id" not in json.dumps(body)
    assert body["clientmsgid"] == f"aixiang-b{broadcast_id}-r1"
    assert body["text"]["content"].startswith("周六社区大扫除，欢迎参加")
    assert "Community clean-up on Saturday" in body["text"]["content"]
    assert call["recipients"] == ["o-1", "o-en"]
    untagged = [c["body"]["openid_list"] for c in sent_to(fake_wechat, UNTAGGING)]
    assert sorted(openid for batch in untagged for openid in batch) == ["o-quiet", "o-stranger"]
    assert fake_wechat.calls("message/mass/send") == []
    [sent] = pushes(services, "mass")
    assert (sent.status, sent.channel, sent.last_error) == ("sent", "mass", None)
    with services.session_factory() as db:
        reached = db.execute(select(func.count()).select_from(BroadcastRecipient)).scalar_one()
    assert reached == 2


def test_a_new_tag_is_made_and_filled_in_batches_of_fifty(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    name = f"aixiang-20260501-b{time.monotonic_ns() % 10**9}"
    audience = [f"o-{n:03d}" for n in range(120)]
    fake_wechat.fake.tag_page_size = 7
    try:
        tag_id = sync_tag(WeChatAPI(wechat_client).tags, name, audience, NOW)
        sizes = [len(c["body"]["openid_list"]) for c in sent_to(fake_wechat, TAGGING)]
        assert sizes == [50, 50, 20]
        fake_wechat.clear()
        # Half of them leave, others join: only the difference is sent; 120 members
        # listed 7 a page take 18 pages, and one more finds none left.
        changed = audience[60:] + [f"o-new-{n}" for n in range(3)]
        assert sync_tag(WeChatAPI(wechat_client).tags, name, changed, NOW) == tag_id
        assert len(fake_wechat.calls("user/tag/get")) == 19
    finally:
        fake_wechat.fake.tag_page_size = 10_000
    assert [len(c["body"]["openid_list"]) for c in sent_to(fake_wechat, UNTAGGING)] == [50, 10]
    assert [len(c["body"]["openid_list"]) for c in sent_to(fake_wechat, TAGGING)] == [3]
    assert fake_wechat.calls("tags/create") == []
    assert members(wechat_client, tag_id) == sorted(changed)


def test_old_tags_of_earlier_broadcasts_are_deleted_and_no_others(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    """Tags more than two days older than the send (2026-05-01 02:00 UTC) go."""
    names = ["aixiang-20260420-b3", "aixiang-20260428-b4", "aixiang-20260429-b5", "volunteers"]
    for name in names:
        if tag_named(wechat_client, name) is None:
            wechat_client.post("tags/create", data={"tag": {"name": name}})

    sync_tag(WeChatAPI(wechat_client).tags, "aixiang-20260501-b6", ["o-1"], NOW)

    left = {tag["name"] for tag in wechat_client.get("tags/get")["tags"]}
    assert "aixiang-20260420-b3" not in left and "aixiang-20260428-b4" not in left
    assert {"aixiang-20260429-b5", "volunteers", "aixiang-20260501-b6"} <= left


def test_a_retried_tag_send_is_not_sent_twice(
    make_worker: Callable[..., Worker], fake_wechat: FakeWeChatServer, clock: FakeClock
) -> None:
    worker, services, _, _ = tag_send(make_worker, wechat={"http_timeout_s": 0.3})
    # WeChat takes the request but its answer never arrives in time.
    fake_wechat.add_fault(SENDALL, delay_s=0.8)
    worker.run_once()
    [row] = pushes(services, "mass")
    assert row.status == "failed" and "within 0.3s" in (row.last_error or "")
    deadline = time.monotonic() + 5
    while fake_wechat.calls(SENDALL)[0]["status"] is None and time.monotonic() < deadline:
        time.sleep(0.02)
    tagged_before = len(fake_wechat.calls(TAGGING))

    clock.set(row.next_attempt_at)
    worker.run_once()

    first, second = fake_wechat.calls(SENDALL)
    assert first["body"] == second["body"]
    assert first["result"]["errcode"] == 0 and first["recipients"] == ["o-1", "o-en"]
    assert second["result"] == {
        "errcode": 45065,
        "errmsg": "clientmsgid exist",
        "msg_id": first["result"]["msg_id"],
    }
    assert "recipients" not in second
    assert len(fake_wechat.calls(TAGGING)) == tagged_before  # nothing left to change
    [row] = pushes(services, "mass")
    assert row.status == "sent"


@pytest.mark.parametrize(
    ("endpoint", "errcode", "status", "message"),
    [
        ("tags/create", 45157, "dead", "tags/create: WeChat refused the tag name"),
        ("tags/create", 45158, "dead", "longer than WeChat's 30 characters (errcode 45158"),
        ("tags/create", 45056, "dead", "already has WeChat's 100 tags"),
        (TAGGING, 40003, "dead", "not a follower of this account"),
        (TAGGING, -1, "failed", "errcode -1: tag '{name}', " + TAGGING + ": system error"),
        (TAGGING, 45159, "failed", "errcode 45159: tag '{name}', " + TAGGING),
        (SENDALL, 45159, "failed", "was deleted before the send, and the retry makes it again"),
        (SENDALL, -1, "failed", "errcode -1: system error"),
    ],
)
def test_wechat_refusals_are_retried_or_dead_lettered_with_the_reason(
    make_worker: Callable[..., Worker],
    fake_wechat: FakeWeChatServer,
    wechat_client: AixiangWeChatClient,
    clock: FakeClock,
    endpoint: str,
    errcode: int,
    status: str,
    message: str,
) -> None:
    worker, services, broadcast_id, _ = tag_send(make_worker)
    name = f"aixiang-20260501-b{broadcast_id}"
    existing = tag_named(wechat_client, name)
    if existing is not None:  # left by an earlier test: start from no tag
        wechat_client.post("tags/delete", data={"tag": {"id": existing}})
    fake_wechat.add_fault(endpoint, errcode=errcode)

    worker.run_once()

    [row] = pushes(services, "mass")
    assert row.status == status
    assert message.format(name=name) in (row.last_error or ""), row.last_error
    assert sent_to(fake_wechat, SENDALL) == []
    if status == "failed":
        clock.set(row.next_attempt_at)
        worker.run_once()
        [row] = pushes(services, "mass")
        assert row.status == "sent"
        [call] = sent_to(fake_wechat, SENDALL)
        assert call["recipients"] == ["o-1", "o-en"]


def test_quota_and_dry_run_from_the_command(
    staff: CliRunner, services: Services, clock: FakeClock
) -> None:
    subscription = {"AIXIANG_WECHAT_ACCOUNT_TYPE": "subscription"}
    resident(services, "o-1")
    resident(services, "o-2", language="en")
    resident(services, "o-quiet", opted_out=True)
    made = real_event(services, "gardening")
    clock.set(utcnow())  # the command checks on the real clock
    signs_up(services, made, "o-1", "o-2", "o-quiet")
    audience = f"signed-up:{made}"
    mass = ("--audience", audience, "--mass")
    out = run(staff, "broadcast", "--text", "通知", *mass, "--dry-run", env=subscription)
    assert "mass: by WeChat tag, 2 residents (one message in both languages)" in out.stdout
    assert "excluded, opted out (退订): 1" in out.stdout
    sent = json.loads(
        run(staff, "broadcast", "--text", "通知", *mass, "--json", env=subscription).stdout
    )
    assert sent["mass_requests"] == [
        {"target": "wechat-tag", "method": "tag", "language": "both", "recipients": 2}
    ]
    assert sent["single_messages"] == 0 and sent["rows"] == 1
    line = fail(staff, "broadcast", "--text", "再次通知", *mass, env=subscription)
    assert line.startswith("error: --mass: a subscription account may mass-send 1 broadcast a day")


# The fake WeChat API's tag endpoints --------------------------------------------------------


def test_fake_tags_delete_untag_and_list_members(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    name = f"fake-{time.monotonic_ns() % 10**9}"
    tag_id = int(wechat_client.post("tags/create", data={"tag": {"name": name}})["tag"]["id"])
    wechat_client.post(TAGGING, data={"openid_list": ["o-b", "o-a", "o-c"], "tagid": tag_id})
    wechat_client.post(UNTAGGING, data={"openid_list": ["o-b"], "tagid": tag_id})
    page = wechat_client.post("user/tag/get", data={"tagid": tag_id, "next_openid": ""})
    after = wechat_client.post("user/tag/get", data={"tagid": tag_id, "next_openid": "o-c"})
    sent = wechat_client.post(
        SENDALL,
        data={
            "filter": {"is_to_all": False, "tag_id": tag_id},
            "msgtype": "text",
            "text": {"content": "x"},
            "clientmsgid": name,
        },
    )
    with pytest.raises(WeChatAPIError) as duplicate:
        wechat_client.post(
            SENDALL,
            data={"filter": {"is_to_all": True}, "msgtype": "text", "text": {"content": "y"}}
            | {"clientmsgid": name},
        )
    wechat_client.post("tags/delete", data={"tag": {"id": tag_id}})
    refusals = []
    for endpoint, body in (
        ("tags/delete", {"tag": {"id": tag_id}}),
        ("tags/delete", {"tag": {"id": 2}}),
        (UNTAGGING, {"openid_list": ["o-a"], "tagid": tag_id}),
        ("user/tag/get", {"tagid": tag_id}),
        (TAGGING, {"openid_list": [f"o-{n}" for n in range(51)], "tagid": tag_id}),
        (SENDALL, {"filter": {"is_to_all": False, "tag_id": tag_id}, "msgtype": "text"}),
    ):
        with pytest.raises(WeChatAPIError) as refused:
            wechat_client.post(endpoint, data=body)
        refusals.append(refused.value.errcode)

    assert page == {"count": 2, "data": {"openid": ["o-a", "o-c"]}, "next_openid": "o-c"}
    assert after == {"count": 0, "next_openid": ""}
    assert fake_wechat.calls(SENDALL)[0]["recipients"] == ["o-a", "o-c"]
    assert duplicate.value.errcode == 45065
    assert fake_wechat.calls(SENDALL)[1]["result"]["msg_id"] == sent["msg_id"]
    assert refusals == [45159, 45058, 45159, 45159, 40032, 45159]


def test_fake_allows_a_hundred_tags(
    fake_wechat: FakeWeChatServer, wechat_client: AixiangWeChatClient
) -> None:
    existing = len(wechat_client.get("tags/get")["tags"])
    made = []
    try:
        for n in range(MAX_TAGS - existing):
            created = wechat_client.post("tags/create", data={"tag": {"name": f"t-{n}"}})
            made.append(int(created["tag"]["id"]))
        with pytest.raises(WeChatAPIError) as full:
            wechat_client.post("tags/create", data={"tag": {"name": "one-more"}})
    finally:
        for tag_id in made:
            wechat_client.post("tags/delete", data={"tag": {"id": tag_id}})
    assert full.value.errcode == 45056


def test_tag_names_fit_wechat() -> None:
    name = mass_tag_name(123_456_789_012, NOW + timedelta(hours=22))
    assert name == "aixiang-20260502-b123456789012" and len(name) <= 30
    assert mass_tag_day(name) == date(2026, 5, 2)
    assert mass_tag_day("aixiang-2026-b1") is None and mass_tag_day("women") is None
