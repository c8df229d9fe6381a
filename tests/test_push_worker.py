"""Outbox delivery under WeChat's real rules, against the project's fake WeChat API."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import select, update

from bot.redis_conn import connect_redis
from bot.services import Services
from models.push.claims import claim_due
from models.push.outbox import OutboxMessage
from models.residents import Resident
from scheduler.ratelimit import SendRateLimit
from scheduler.windows import ServiceWindow
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.pushes import add_resident, outbox_row, queue, sent_to

TEMPLATE = {"template_id": "TPL-need", "fields": {"first": "{text}", "keyword1": "{ref}"}}


def test_custom_message_inside_48_hours(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker()
    services = worker._services
    add_resident(services, "o-a", last_seen=clock.now - timedelta(hours=47, minutes=59))
    row = queue(services, "o-a", "k1")
    assert worker.run_once() == 1
    assert outbox_row(services, row).status == "sent"
    assert outbox_row(services, row).channel == "custom"
    [call] = sent_to(fake_wechat, "message/custom/send")
    assert call["body"]["touser"] == "o-a"
    assert call["body"]["text"]["content"] == "您的需求已受理"


def test_language_of_the_resident_is_used(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker()
    add_resident(worker._services, "o-en", last_seen=clock.now, language="en")
    queue(worker._services, "o-en", "k-en")
    worker.run_once()
    [call] = sent_to(fake_wechat, "message/custom/send")
    assert call["body"]["text"]["content"] == "Your need was acknowledged"


def test_after_48_hours_without_template_the_push_rides_the_next_reply(
    make_worker, clock: FakeClock, fake_wechat, chat: Chat
) -> None:
    worker = make_worker()
    services = worker._services
    add_resident(services, chat.openid, last_seen=clock.now - timedelta(hours=48, minutes=1))
    row = queue(services, chat.openid, "k2")
    worker.run_once()
    assert outbox_row(services, row).status == "held"
    assert fake_wechat.calls("message/custom/send") == []
    reply = chat.say("帮助")
    assert "您有 1 条新通知" in reply and "您的需求已受理" in reply
    assert outbox_row(services, row).status == "sent"
    assert outbox_row(services, row).channel == "reply"
    assert "新通知" not in chat.say("帮助")


def test_after_48_hours_a_service_account_uses_the_template(
    make_worker, clock: FakeClock, fake_wechat
) -> None:
    worker = make_worker(push={"templates": {"need_status": TEMPLATE}})
    add_resident(worker._services, "o-t", last_seen=clock.now - timedelta(hours=48, minutes=1))
    row = queue(worker._services, "o-t", "k3", fields={"ref": "N-000001"})
    worker.run_once()
    assert outbox_row(worker._services, row).channel == "template"
    [call] = sent_to(fake_wechat, "message/template/send")
    assert call["body"]["template_id"] == "TPL-need"
    assert call["body"]["data"]["keyword1"] == {"value": "N-000001"}
    assert call["body"]["data"]["first"] == {"value": "您的需求已受理"}


def test_subscription_account_never_uses_templates(make_worker, clock: FakeClock) -> None:
    worker = make_worker(
        wechat={"account_type": "subscription"}, push={"templates": {"need_status": TEMPLATE}}
    )
    add_resident(worker._services, "o-s", last_seen=clock.now - timedelta(days=3))
    row = queue(worker._services, "o-s", "k4")
    worker.run_once()
    assert outbox_row(worker._services, row).status == "held"


def test_subscription_notice_after_the_resident_accepted_one(
    make_worker, clock: FakeClock, fake_wechat, chat: Chat
) -> None:
    worker = make_worker(
        wechat={"account_type": "subscription"},
        push={
            "subscribe_templates": {
                "need_status": {"template_id": "SUB-1", "fields": {"thing1": "{text}"}}
            }
        },
    )
    popup = chat.payloads.raw(chat.openid, "event", {"Event": "subscribe_msg_popup_event"})
    popup = popup.replace(
        "</xml>",
        "<SubscribeMsgPopupEvent><List><TemplateId>SUB-1</TemplateId>"
        "<SubscribeStatusString>accept</SubscribeStatusString><PopupScene>2</PopupScene>"
        "</List><List><TemplateId>SUB-2</TemplateId><SubscribeStatusString>reject"
        "</SubscribeStatusString></List></SubscribeMsgPopupEvent></xml>",
    )
    chat.send(popup)
    clock.advance(days=3)
    first = queue(worker._services, chat.openid, "k5a")
    second = queue(worker._services, chat.openid, "k5b")
    worker.run_once()
    assert outbox_row(worker._services, first).channel == "subscribe"
    assert outbox_row(worker._services, second).status == "held"  # one notice per consent
    [call] = sent_to(fake_wechat, "message/subscribe/bizsend")
    assert call["body"]["template_id"] == "SUB-1"


def test_tap_window_allows_three_in_a_minute(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker()
    add_resident(worker._services, "o-tap", last_seen=clock.now, kind="tap")
    rows = [queue(worker._services, "o-tap", f"tap{i}") for i in range(4)]
    worker.run_once()
    assert [outbox_row(worker._services, r).status for r in rows].count("sent") == 3
    assert len(sent_to(fake_wechat, "message/custom/send")) == 3


def test_five_messages_per_48_hours(make_worker, clock: FakeClock) -> None:
    worker = make_worker()
    add_resident(worker._services, "o-five", last_seen=clock.now)
    rows = [queue(worker._services, "o-five", f"five{i}") for i in range(6)]
    worker.run_once()
    statuses = [outbox_row(worker._services, r).status for r in rows]
    assert statuses.count("sent") == 5 and statuses.count("held") == 1


def test_45015_falls_back_to_the_template(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker(push={"templates": {"need_status": TEMPLATE}})
    add_resident(worker._services, "o-f", last_seen=clock.now)
    fake_wechat.add_fault("message/custom/send", errcode=45015)
    row = queue(worker._services, "o-f", "k6", fields={"ref": "N-1"})
    worker.run_once()
    assert outbox_row(worker._services, row).channel == "template"


def test_45047_without_template_holds_the_push(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker()
    add_resident(worker._services, "o-g", last_seen=clock.now)
    fake_wechat.add_fault("message/custom/send", errcode=45047)
    row = queue(worker._services, "o-g", "k7")
    worker.run_once()
    assert outbox_row(worker._services, row).status == "held"
    assert len(fake_wechat.calls("message/custom/send")) == 1  # the window is known spent


def test_43004_unsubscribes_and_dead_letters(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker()
    resident_id = add_resident(worker._services, "o-gone", last_seen=clock.now)
    fake_wechat.add_fault("message/custom/send", errcode=43004)
    row = queue(worker._services, "o-gone", "k8")
    worker.run_once()
    assert outbox_row(worker._services, row).status == "dead"
    with worker._services.session_factory() as db:
        assert db.get(Resident, resident_id).subscribed is False  # type: ignore[union-attr]


def test_transient_errors_back_off_then_dead(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker(push={"max_attempts": 3})
    add_resident(worker._services, "o-r", last_seen=clock.now)
    fake_wechat.add_fault("message/custom/send", errcode=-1, times=None)
    row = queue(worker._services, "o-r", "k10")
    worker.run_once()
    failed = outbox_row(worker._services, row)
    assert failed.status == "failed" and failed.attempts == 1 and "-1" in failed.last_error
    assert failed.next_attempt_at > clock.now
    for _ in range(2):
        clock.set(outbox_row(worker._services, row).next_attempt_at)
        worker.run_once()
    dead = outbox_row(worker._services, row)
    assert dead.status == "dead" and dead.attempts == 3
    assert "gave up after 3 attempts" in dead.last_error


def test_http_error_and_timeout_are_retried(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker(wechat={"http_timeout_s": 0.3})
    add_resident(worker._services, "o-h", last_seen=clock.now)
    fake_wechat.add_fault("message/custom/send", http_status=502)
    first = queue(worker._services, "o-h", "k11a")
    worker.run_once()
    assert outbox_row(worker._services, first).status == "failed"
    fake_wechat.add_fault("message/custom/send", delay_s=1.0)
    clock.advance(hours=1)
    worker.run_once()
    row = outbox_row(worker._services, first)
    assert row.status == "failed" and "no answer" in row.last_error


def test_a_page_that_is_not_json_is_retried_not_counted_as_sent(
    make_worker, clock: FakeClock, fake_wechat
) -> None:
    worker = make_worker()
    add_resident(worker._services, "o-page", last_seen=clock.now)
    fake_wechat.add_fault("message/custom/send", not_json="<html>502 upstream busy</html>")
    row = queue(worker._services, "o-page", "k-page")
    worker.run_once()
    failed = outbox_row(worker._services, row)
    assert failed.status == "failed" and "not JSON" in failed.last_error
    clock.set(failed.next_attempt_at)
    worker.run_once()
    assert outbox_row(worker._services, row).status == "sent"
    assert len(sent_to(fake_wechat, "message/custom/send")) == 1


def test_an_unexpected_error_in_one_send_fails_that_row_only(
    make_worker, clock: FakeClock, fake_wechat, monkeypatch, caplog
) -> None:
    worker = make_worker()
    services = worker._services
    openids = ["o-ok1", "o-bug", "o-ok2"]
    for openid in openids:
        add_resident(services, openid, last_seen=clock.now)
    rows = {openid: queue(services, openid, f"bug:{openid}") for openid in openids}
    send = worker._sender.send

    def buggy_send(plan: Any, now: datetime) -> Any:
        if plan.row.recipient_openid == "o-bug":
            raise KeyError("touser")  # a bug, not a transport failure
        return send(plan, now)

    monkeypatch.setattr(worker._sender, "send", buggy_send)
    assert worker.run_once() == 3
    for openid in ("o-ok1", "o-ok2"):
        assert outbox_row(services, rows[openid]).status == "sent"
    recipients = sorted(c["body"]["touser"] for c in sent_to(fake_wechat, "message/custom/send"))
    assert recipients == ["o-ok1", "o-ok2"]
    bad = outbox_row(services, rows["o-bug"])
    assert bad.status == "failed" and bad.attempts == 1
    assert "KeyError" in bad.last_error and "touser" in bad.last_error
    assert bad.next_attempt_at > clock.now
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is KeyError]
    assert len(logged) == 1  # with its traceback, once
    monkeypatch.setattr(worker._sender, "send", send)  # the bug is fixed: the row goes out
    clock.set(bad.next_attempt_at)
    assert worker.run_once() == 1
    assert outbox_row(services, rows["o-bug"]).status == "sent"


def test_rejected_token_is_refreshed_once(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker()
    add_resident(worker._services, "o-tok", last_seen=clock.now)
    queue(worker._services, "o-tok", "k12")
    fake_wechat.add_fault("message/custom/send", errcode=40001)
    worker.run_once()
    assert len(sent_to(fake_wechat, "message/custom/send")) == 1


def test_expired_push_is_not_sent(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker()
    add_resident(worker._services, "o-x", last_seen=clock.now)
    row = queue(worker._services, "o-x", "k13", expires_in=timedelta(minutes=5))
    clock.advance(minutes=6)
    worker.run_once()
    assert outbox_row(worker._services, row).status == "expired"
    assert fake_wechat.calls("message/custom/send") == []


def test_unsubscribed_resident_gets_nothing(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker()
    add_resident(worker._services, "o-u", last_seen=clock.now, subscribed=False)
    row = queue(worker._services, "o-u", "k14")
    worker.run_once()
    assert outbox_row(worker._services, row).status == "dead"
    assert fake_wechat.calls("message/custom/send") == []


def test_a_killed_worker_loses_nothing(make_worker, clock: FakeClock, fake_wechat) -> None:
    worker = make_worker()
    services = worker._services
    add_resident(services, "o-k", last_seen=clock.now)
    rows = [queue(services, "o-k", f"kill{i}") for i in range(3)]
    with services.session_factory() as db, db.begin():  # a worker claims, then dies
        assert len(claim_due(db, clock.now, timedelta(seconds=120), 10)) == 3
    assert worker.run_once() == 0  # leased to the dead worker
    clock.advance(seconds=121)
    assert worker.run_once() == 3
    assert {outbox_row(services, r).status for r in rows} == {"sent"}


def test_two_workers_never_send_a_row_twice(make_worker, clock: FakeClock, fake_wechat) -> None:
    first = make_worker(push={"batch_size": 7})
    second = make_worker(push={"batch_size": 7})
    services = first._services
    openids = [f"o-w{i}" for i in range(60)]
    for openid in openids:
        add_resident(services, openid, last_seen=clock.now)
        queue(services, openid, f"two:{openid}")
    threads = [threading.Thread(target=w.run_once) for w in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recipients = [c["body"]["touser"] for c in sent_to(fake_wechat, "message/custom/send")]
    assert sorted(recipients) == sorted(openids)
    with services.session_factory() as db:
        statuses = set(db.execute(select(OutboxMessage.status)).scalars())
    assert statuses == {"sent"}


def test_shared_rate_limit(services: Services) -> None:
    limit = SendRateLimit(services.redis, rate=5, burst=5)
    other_worker = SendRateLimit(services.redis, rate=5, burst=5)
    assert limit.take(4) == 4
    assert other_worker.take(4) == 1
    assert limit.take(1) == 0


def test_without_redis_the_rate_limit_grants_a_second_at_a_time() -> None:
    unreachable = connect_redis("redis://127.0.0.1:1/0")
    waits: list[float] = []
    slow = SendRateLimit(unreachable, rate=0.5, sleep=waits.append)
    fast = SendRateLimit(unreachable, rate=20, sleep=waits.append)
    assert (slow.take(100), fast.take(100), fast.take(3)) == (1, 20, 3)
    # Less the moment each refused connection took, which counts as waiting.
    assert waits == pytest.approx([2.0, 1.0, 0.15], abs=0.05)
    unreachable.close()


def test_a_hanging_redis_counts_its_timeout_as_the_rate_limits_wait() -> None:
    """A Redis that accepts connections but never answers costs each take its socket
    timeout; the pacing sleep is shortened by that much, so the rate holds."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host, port = silent.getsockname()
        hanging = redis.Redis(host=host, port=port, socket_timeout=0.4, socket_connect_timeout=0.4)
        waits: list[float] = []
        limit = SendRateLimit(hanging, rate=1, sleep=waits.append)
        started = time.monotonic()
        assert limit.take(5) == 1
        spent_on_redis = time.monotonic() - started  # the sleep itself is only recorded
        hanging.close()
    assert 0.4 <= spent_on_redis < 1.0
    assert waits == [pytest.approx(1.0 - spent_on_redis, abs=0.02)]


def test_rows_for_a_paused_kind_stay_pending_when_due_later(
    make_worker, clock: FakeClock, fake_wechat
) -> None:
    worker = make_worker()
    add_resident(worker._services, "o-later", last_seen=clock.now)
    row = queue(worker._services, "o-later", "later")
    with worker._services.session_factory() as db, db.begin():
        db.execute(update(OutboxMessage).values(next_attempt_at=clock.now + timedelta(hours=1)))
    assert worker.run_once() == 0
    assert outbox_row(worker._services, row).status == "pending"


def test_a_batch_spends_each_residents_allowance_in_turn(
    services: Services, clock: FakeClock
) -> None:
    window = ServiceWindow(services.redis)
    seen = clock.now - timedelta(hours=1)
    uses = [("o-b1", seen, "message")] * 6 + [
        ("o-b2", None, None),
        ("o-b3", clock.now - timedelta(hours=49), "message"),
        ("o-b4", clock.now, "tap"),
    ]
    assert window.try_use_many(uses, clock.now) == [True] * 5 + [False, False, False, True]
    assert window.try_use_many([("o-b1", seen, "message")], clock.now) == [False]
    # Each count is kept a minute past its window (48 h after a message, 1 min after a tap).
    ttls = {
        key.split(":")[2]: services.redis.ttl(key)
        for key in services.redis.scan_iter(match="aixiang:cs:o-b*")
    }
    assert ttls.keys() == {"o-b1", "o-b4"}
    assert 48 * 3600 < ttls["o-b1"] <= 48 * 3600 + 60
    assert 60 < ttls["o-b4"] <= 120


def test_without_redis_open_windows_are_tried_and_shut_ones_are_not(clock: FakeClock) -> None:
    unreachable = connect_redis("redis://127.0.0.1:1/0")
    window = ServiceWindow(unreachable)
    uses = [("o-n1", clock.now, "message"), ("o-n2", None, None), ("o-n1", clock.now, "message")]
    assert window.try_use_many(uses, clock.now) == [True, False, True]
    unreachable.close()


class StopAfterWaits(threading.Event):
    """A stop signal that sets itself after ``waits`` idle waits, so a loop can be run a
    known number of times without sleeping."""

    def __init__(self, waits: int) -> None:
        super().__init__()
        self.waits = waits

    def wait(self, timeout: float | None = None) -> bool:
        self.waits -= 1
        if self.waits <= 0:
            self.set()
        return self.is_set()


def test_worker_outlives_a_database_outage(make_worker, database_url: str, caplog) -> None:
    unreachable = (
        "postgresql://postgres@127.0.0.1:1/postgres"
        if database_url.startswith("postgresql")
        else "sqlite:////nonexistent-directory/aixiang.db"
    )
    worker = make_worker(database={"url": unreachable})
    stop = StopAfterWaits(3)
    worker.run_forever(stop, idle_s=0)  # returns only when stopped: it did not die
    assert stop.waits == 0
    failures = [r for r in caplog.records if "a batch failed" in r.getMessage()]
    assert len(failures) == 1  # logged once, not once a try


def test_without_redis_a_spent_window_is_remembered_not_retried(
    make_worker, clock: FakeClock, fake_wechat
) -> None:
    worker = make_worker(redis={"url": "redis://127.0.0.1:1/0"})  # nothing listens there
    add_resident(worker._services, "o-spent", last_seen=clock.now - timedelta(hours=1))
    fake_wechat.add_fault("message/custom/send", errcode=45047, times=None)
    row = queue(worker._services, "o-spent", "k-spent")
    for _ in range(3):
        worker.process_batch()
    assert outbox_row(worker._services, row).status == "held"
    assert len(fake_wechat.calls("message/custom/send")) == 1


def test_a_row_re_planned_by_two_workers_without_redis_is_held_not_resent(
    make_worker, clock: FakeClock, fake_wechat
) -> None:
    """Two workers without Redis each learn of the spent window only from WeChat; each
    remembers it, so the row is tried once per worker and then held, not dead-lettered
    though it met 45047 on its last allowed attempt."""
    first = make_worker(redis={"url": "redis://127.0.0.1:1/0"}, push={"max_attempts": 2})
    second = make_worker(first._services)
    add_resident(first._services, "o-last", last_seen=clock.now - timedelta(hours=1))
    fake_wechat.add_fault("message/custom/send", errcode=45047, times=None)
    row = queue(first._services, "o-last", "k-last")
    first.process_batch()
    second.process_batch()
    assert outbox_row(first._services, row).status == "pending"
    assert second.process_batch() == 1
    assert outbox_row(first._services, row).status == "held"
    assert first.process_batch() == second.process_batch() == 0
    assert len(fake_wechat.calls("message/custom/send")) == 2


def test_45047_on_the_last_allowed_attempt_holds_the_push(
    make_worker, clock: FakeClock, fake_wechat
) -> None:
    """The window is recorded spent, so the next plan holds the push for the resident's
    next message: the refusal does not count towards a dead letter."""
    worker = make_worker(push={"max_attempts": 2})
    add_resident(worker._services, "o-r", last_seen=clock.now)
    fake_wechat.add_fault("message/custom/send", errcode=-1)  # a transient failure first
    row = queue(worker._services, "o-r", "k-replan")
    worker.process_batch()
    assert outbox_row(worker._services, row).status == "failed"
    clock.advance(seconds=3600)
    fake_wechat.add_fault("message/custom/send", errcode=45047)
    worker.run_once()
    after = outbox_row(worker._services, row)
    assert after.status == "held", after.last_error
    assert len(fake_wechat.calls("message/custom/send")) == 2


def test_without_redis_the_allowance_is_counted_in_memory(clock: FakeClock) -> None:
    unreachable = connect_redis("redis://127.0.0.1:1/0")
    window = ServiceWindow(unreachable)
    seen = clock.now - timedelta(hours=1)
    uses = [("o-m1", seen, "message")] * 6
    assert window.try_use_many(uses, clock.now) == [True] * 5 + [False]
    window.exhaust("o-m2", clock.now, "tap", clock.now)
    assert window.try_use_many([("o-m2", clock.now, "tap")], clock.now) == [False]
    unreachable.close()


def test_a_tap_keeps_the_48_hour_window_a_message_opened(
    make_worker, clock: FakeClock, fake_wechat, chat: Chat
) -> None:
    worker = make_worker()
    chat.say("你好")
    clock.advance(hours=1)
    chat.tap("HELP")
    clock.advance(minutes=5)  # the tap's minute is over; the message's 48 hours are not
    row = queue(worker._services, chat.openid, "k-tap-kept")
    worker.run_once()
    sent = outbox_row(worker._services, row)
    assert (sent.status, sent.channel) == ("sent", "custom")


def test_a_tap_after_the_message_window_shut_opens_its_own(
    make_worker, clock: FakeClock, fake_wechat, chat: Chat
) -> None:
    worker = make_worker()
    chat.say("你好")
    clock.advance(hours=49)
    chat.tap("HELP")
    rows = [queue(worker._services, chat.openid, f"k-tap-{n}") for n in range(4)]
    worker.run_once()
    channels = [outbox_row(worker._services, row).channel for row in rows]
    assert channels.count("custom") == 3  # the tap's 3 in a minute, not the message's 5
