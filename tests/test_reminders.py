"""Reminders: found from SQL, queued once, never sent for what changed, delivered end to end."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.services import Services
from models.events.signups import cancel_signup, sign_up
from models.events.staff import cancel_event, create_event, update_event
from models.push.outbox import OutboxMessage
from models.push.policy import HELD_PER_REPLY, take_held_for_reply
from models.reminders import Reminder, queue_due_reminders
from models.residents import Resident
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.helpers import pushes
from tests.pushes import queue, seen_resident

TZ = ZoneInfo("Asia/Shanghai")
OFFSETS = (24.0, 2.0)


def new_event(services: Services, *, in_hours: float, capacity: int = 10) -> int:
    now = services.clock()
    with services.session_factory() as db, db.begin():
        event = create_event(
            db,
            title="儿童生态营",
            starts_at=now + timedelta(hours=in_hours),
            capacity=capacity,
            now=now,
            place="村委会",
            publish=True,
        )
        return event.id


def join(services: Services, event_id: int, openid: str) -> None:
    with services.session_factory() as db, db.begin():
        resident = seen_resident(db, openid, services.clock(), "message")
        sign_up(db, event_id, resident, 1, services.clock())


def sweep(services: Services) -> tuple[int, int]:
    with services.session_factory() as db, db.begin():
        result = queue_due_reminders(db, services.clock(), OFFSETS, TZ)
    return result.queued, result.skipped


def reminder_rows(services: Services) -> list[OutboxMessage]:
    with services.session_factory() as db:
        return list(
            db.execute(select(OutboxMessage).where(OutboxMessage.kind == "reminder")).scalars()
        )


def test_each_offset_once_at_its_time(services: Services, clock: FakeClock) -> None:
    event_id = new_event(services, in_hours=48)
    join(services, event_id, "o-1")
    assert sweep(services) == (0, 0)
    clock.advance(hours=24)
    assert sweep(services) == (1, 0)
    assert sweep(services) == (0, 0)  # idempotent
    clock.advance(hours=22)
    assert sweep(services) == (1, 0)
    rows = reminder_rows(services)
    assert len(rows) == 2
    assert all(row.expires_at == rows[0].expires_at for row in rows)
    assert "签到码" in rows[0].payload["text"]["zh"]
    assert "Check-in code" in rows[0].payload["text"]["en"]


def test_late_sign_up_gets_only_the_reminder_still_ahead(
    services: Services, clock: FakeClock
) -> None:
    event_id = new_event(services, in_hours=10)
    join(services, event_id, "o-late")
    assert sweep(services) == (0, 1)  # the 24 h one was due before the sign-up
    clock.advance(hours=8)
    assert sweep(services) == (1, 0)


def test_missed_while_down_sends_one_late_if_not_started(
    services: Services, clock: FakeClock
) -> None:
    event_id = new_event(services, in_hours=48)
    join(services, event_id, "o-down")
    clock.advance(hours=47)  # the scheduler slept through both due times
    assert sweep(services) == (1, 1)
    [row] = reminder_rows(services)
    assert row.idempotency_key.startswith("reminder:1:120m:")


def test_missed_after_the_start_is_recorded_as_skipped(
    services: Services, clock: FakeClock
) -> None:
    event_id = new_event(services, in_hours=30)
    join(services, event_id, "o-gone")
    clock.advance(hours=31)
    assert sweep(services) == (0, 2)
    assert reminder_rows(services) == []


def test_nothing_for_cancelled_sign_up_or_event(services: Services, clock: FakeClock) -> None:
    first = new_event(services, in_hours=20)
    second = new_event(services, in_hours=20)
    join(services, first, "o-a")
    join(services, second, "o-b")
    with services.session_factory() as db, db.begin():
        resident = db.execute(select(Resident).where(Resident.openid == "o-a")).scalar_one()
        cancel_signup(db, first, resident, clock.now, TZ)
        cancel_event(db, second, "rain", clock.now, TZ)
    assert sweep(services) == (0, 0)


def test_moved_event_gets_fresh_reminders(
    make_worker, services: Services, clock: FakeClock, fake_wechat
) -> None:
    event_id = new_event(services, in_hours=30)
    join(services, event_id, "o-m")
    clock.advance(hours=7)
    assert sweep(services) == (1, 0)
    with services.session_factory() as db, db.begin():
        update_event(db, event_id, clock.now, TZ, starts_at=clock.now + timedelta(hours=25))
    assert sweep(services) == (0, 0)
    clock.advance(hours=1)
    assert sweep(services) == (1, 0)
    make_worker().run_once()
    old, new = sorted(reminder_rows(services), key=lambda row: row.id)
    assert old.status == "skipped" and "moved" in old.last_error
    assert new.status == "sent"
    # The resident hears of the new time, then gets the one reminder for it.
    [notice] = pushes(services, "event_moved")
    assert notice.status == "sent"
    assert len(fake_wechat.calls("message/custom/send")) == 2


def test_concurrent_sweeps_queue_each_reminder_once(services: Services, clock: FakeClock) -> None:
    event_id = new_event(services, in_hours=30, capacity=30)
    for i in range(20):
        join(services, event_id, f"o-c{i}")
    clock.advance(hours=7)

    def run() -> None:
        """A sweep that loses the race fails whole and rolls back; the winner's stands."""
        with contextlib.suppress(IntegrityError):
            sweep(services)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sweep(services)
    assert len(reminder_rows(services)) == 20
    with services.session_factory() as db:
        assert db.execute(select(func.count()).select_from(Reminder)).scalar_one() == 20


def test_from_signup_to_reminder_at_the_fake_api(
    make_worker, chat: Chat, clock: FakeClock, fake_wechat
) -> None:
    worker = make_worker()
    services = worker._services
    event_id = new_event(services, in_hours=30)
    reply = chat.say(f"报名 {event_id}")
    assert "签到码" in reply or "check-in" in reply.lower()
    clock.advance(hours=6, minutes=1)
    sweep(services)
    worker.run_once()
    [call] = fake_wechat.calls("message/custom/send")
    assert call["body"]["touser"] == chat.openid
    assert "活动提醒" in call["body"]["text"]["content"]


def test_reminder_for_a_sign_up_cancelled_after_queueing_is_skipped(
    make_worker, chat: Chat, clock: FakeClock, fake_wechat
) -> None:
    worker = make_worker()
    services = worker._services
    event_id = new_event(services, in_hours=30)
    chat.say(f"报名 {event_id}")
    clock.advance(hours=7)
    sweep(services)
    chat.say(f"取消报名 {event_id}")
    worker.run_once()
    [row] = reminder_rows(services)
    assert row.status == "skipped" and "cancelled" in row.last_error
    assert fake_wechat.calls("message/custom/send") == []


def _held_reminder(make_worker, chat: Chat, clock: FakeClock) -> tuple[Services, int]:
    """A reminder held for the resident's next message: their 48-hour window shut, and no
    template configured to carry it instead."""
    worker = make_worker()
    services = worker._services
    event_id = new_event(services, in_hours=50)
    chat.say(f"报名 {event_id}")
    clock.advance(hours=49)
    sweep(services)
    worker.run_once()
    [row] = reminder_rows(services)
    assert row.status == "held"
    return services, event_id


def test_a_held_reminder_rides_the_next_reply(make_worker, chat: Chat, clock: FakeClock) -> None:
    services, _ = _held_reminder(make_worker, chat, clock)
    assert "活动提醒" in chat.say("帮助")
    [row] = reminder_rows(services)
    assert row.status == "sent" and row.channel == "reply"


def test_a_held_reminder_of_a_cancelled_event_is_skipped_not_replied(
    make_worker, chat: Chat, clock: FakeClock
) -> None:
    services, event_id = _held_reminder(make_worker, chat, clock)
    with services.session_factory() as db, db.begin():
        cancel_event(db, event_id, "rain", clock.now, TZ)
    assert "活动提醒" not in chat.say("帮助")
    [row] = reminder_rows(services)
    assert row.status == "skipped" and "cancelled" in row.last_error


def test_a_held_reminder_of_a_cancelled_sign_up_is_skipped_not_replied(
    make_worker, chat: Chat, clock: FakeClock
) -> None:
    services, event_id = _held_reminder(make_worker, chat, clock)
    assert "活动提醒" not in chat.say(f"取消报名 {event_id}")
    assert "活动提醒" not in chat.say("帮助")
    [row] = reminder_rows(services)
    assert row.status == "skipped" and "sign-up was cancelled" in row.last_error


def test_a_skipped_held_reminder_leaves_its_place_to_the_next_push(
    make_worker, chat: Chat, clock: FakeClock
) -> None:
    services, event_id = _held_reminder(make_worker, chat, clock)
    with services.session_factory() as db, db.begin():
        cancel_event(db, event_id, "rain", clock.now, TZ)
    for number in range(HELD_PER_REPLY):
        queue(services, chat.openid, f"update-{number}")
    make_worker(services).run_once()
    with services.session_factory() as db, db.begin():
        resident = db.execute(select(Resident).where(Resident.openid == chat.openid)).scalar_one()
        taken = take_held_for_reply(db, resident.id, clock.now)
    assert len(taken) == HELD_PER_REPLY
    assert all("活动提醒" not in payload["text"]["zh"] for payload in taken)
