"""退订 between fan-out and delivery: the resident gets none of the broadcast rows still
queued, whatever would carry them (the reply, the worker, a mass openid list, a tag or a
send to every follower)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update

from bot.services import Services
from bot.wechat.fake_api.server import FakeWeChatServer
from models import OutboxMessage
from models.broadcasts.sending import NOBODY_LEFT
from models.push.stale import OPTED_OUT
from models.residents import Resident
from scheduler.worker import Worker
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.helpers import pushes
from tests.pushes import queue, sent_to
from tests.test_broadcasts import SUBSCRIPTION, broadcast_now, resident
from tests.transcript import Talk

TEXT = "周六社区大扫除，欢迎参加"
SENDALL = "message/mass/sendall"
MASS_SEND = "message/mass/send"


def opts_out(services: Services, *openids: str) -> None:
    """退订 as the chat records it, for residents the test does not chat as."""
    with services.session_factory() as db, db.begin():
        db.execute(
            update(Resident).where(Resident.openid.in_(openids)).values(broadcast_opt_out=True)
        )


def statuses(services: Services, kind: str) -> list[tuple[str, str | None]]:
    return [(row.status, row.last_error) for row in pushes(services, kind)]


def test_a_held_broadcast_does_not_ride_on_the_reply_to_tuiding(
    make_worker: Callable[..., Worker], chat: Chat, clock: FakeClock
) -> None:
    worker = make_worker()
    services = worker._services
    resident(services, "o-resident-1")  # never wrote: no window, no template, so held
    broadcast_now(services, "all")
    worker.run_once()
    assert [status for status, _ in statuses(services, "broadcast")] == ["held"]
    clock.advance(hours=1)

    answer = chat.say("退订")

    assert "已退订" in answer and TEXT not in answer
    assert statuses(services, "broadcast") == [("skipped", OPTED_OUT)]
    assert TEXT not in chat.say("帮助")


def test_a_pending_broadcast_is_skipped_by_the_worker_after_tuiding(
    make_worker: Callable[..., Worker],
    talk: Talk,
    clock: FakeClock,
    fake_wechat: FakeWeChatServer,
) -> None:
    worker = make_worker()
    services = worker._services
    resident(services, "o-resident-1", last_seen=clock())  # inside the 48-hour window
    resident(services, "o-other", last_seen=clock())
    broadcast_now(services, "all")
    clock.advance(minutes=1)
    talk.say("退订")
    fake_wechat.clear()

    worker.run_once()

    reached = [c["body"]["touser"] for c in sent_to(fake_wechat, "message/custom/send")]
    assert reached == ["o-other"]
    by_openid = {row.recipient_openid: (row.status, row.last_error) for row in pushes(services)}
    assert by_openid == {"o-resident-1": ("skipped", OPTED_OUT), "o-other": ("sent", None)}


def test_other_pushes_still_ride_on_the_reply_after_tuiding(
    make_worker: Callable[..., Worker], chat: Chat, clock: FakeClock
) -> None:
    """Only broadcasts are opted out of: a held need update still comes with the reply."""
    worker = make_worker()
    services = worker._services
    resident(services, "o-resident-1")
    broadcast_now(services, "all")
    queue(services, "o-resident-1", "k-need", zh="您的需求已受理")
    worker.run_once()
    clock.advance(hours=1)

    answer = chat.say("退订")

    assert "您的需求已受理" in answer and TEXT not in answer


def test_an_openid_list_leaves_out_who_opted_out_since_fan_out(
    make_worker: Callable[..., Worker], fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker()
    services = worker._services
    for openid in ("o-1", "o-2", "o-3"):
        resident(services, openid)
    resident(services, "o-quiet", opted_out=True)  # so not one sendall, but a list
    broadcast_now(services, "all", mass=True)
    [row] = pushes(services, "mass")
    assert row.payload["target"] == {"to": "openids", "openids": ["o-1", "o-2", "o-3"]}
    opts_out(services, "o-2")

    worker.run_once()

    [call] = sent_to(fake_wechat, MASS_SEND)
    assert call["body"]["touser"] == ["o-1", "o-3"]
    assert statuses(services, "mass") == [("sent", None)]


def test_one_left_of_an_openid_list_gets_a_normal_broadcast(
    make_worker: Callable[..., Worker], fake_wechat: FakeWeChatServer, clock: FakeClock
) -> None:
    worker = make_worker()
    services = worker._services
    resident(services, "o-1", last_seen=clock())
    resident(services, "o-2")
    resident(services, "o-quiet", opted_out=True)
    broadcast_id = broadcast_now(services, "all", mass=True)
    opts_out(services, "o-2")

    worker.run_once()

    assert fake_wechat.calls(MASS_SEND) == []
    [(status, error)] = statuses(services, "mass")
    assert status == "skipped" and "one recipient left" in (error or "")
    [single] = pushes(services, "broadcast")
    assert single.recipient_openid == "o-1" and single.status == "sent"
    assert single.idempotency_key.startswith(f"broadcast:{broadcast_id}:")
    [call] = sent_to(fake_wechat, "message/custom/send")
    assert call["body"]["text"]["content"].startswith(TEXT)


def test_a_tag_send_leaves_out_who_opted_out_since_fan_out(
    make_worker: Callable[..., Worker], fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker()
    services = worker._services
    for openid in ("o-1", "o-2", "o-3"):
        resident(services, openid)
    resident(services, "o-quiet", opted_out=True)  # a tag send: someone opted out before
    broadcast_now(services, "all", mass=True, settings=SUBSCRIPTION)
    [row] = pushes(services, "mass")
    assert row.payload["target"]["openids"] == ["o-1", "o-2", "o-3"]
    opts_out(services, "o-3")

    worker.run_once()

    [call] = sent_to(fake_wechat, SENDALL)
    assert call["recipients"] == ["o-1", "o-2"]


def test_a_send_to_every_follower_becomes_a_tag_send_without_who_opted_out(
    make_worker: Callable[..., Worker], fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker()
    services = worker._services
    for openid in ("o-1", "o-2", "o-3"):
        resident(services, openid)
    broadcast_now(services, "all", mass=True, settings=SUBSCRIPTION)
    [row] = pushes(services, "mass")
    assert row.payload["target"] == {"to": "all"}
    opts_out(services, "o-1")

    worker.run_once()

    [call] = sent_to(fake_wechat, SENDALL)
    assert call["body"]["filter"]["is_to_all"] is False
    assert call["recipients"] == ["o-2", "o-3"]
    assert statuses(services, "mass") == [("sent", None)]


def test_a_mass_send_everyone_opted_out_of_is_skipped(
    make_worker: Callable[..., Worker], fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker()
    services = worker._services
    resident(services, "o-1")
    resident(services, "o-2", subscribed=True)
    broadcast_now(services, "all", mass=True)
    opts_out(services, "o-1")
    with services.session_factory() as db, db.begin():
        db.execute(update(Resident).where(Resident.openid == "o-2").values(subscribed=False))

    worker.run_once()

    assert fake_wechat.calls(MASS_SEND) == [] and fake_wechat.calls(SENDALL) == []
    assert statuses(services, "mass") == [("skipped", NOBODY_LEFT)]
    with services.session_factory() as db:
        assert db.execute(select(OutboxMessage.kind)).scalars().all() == ["mass"]
