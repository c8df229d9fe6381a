"""A change that makes queued pushes stale marks them in its own transaction, and the
check before sending costs no query per row."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.services import Services
from models.events.signups import cancel_signup
from models.events.staff import cancel_event, update_event
from models.push.outbox import OutboxMessage
from models.push.policy import not_to_send
from models.push.stale import EVENT_MOVED, OPTED_OUT, SIGNUP_CANCELLED
from models.residents import Resident
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.pushes import queue
from tests.test_reminders import join, new_event, reminder_rows, sweep

TZ = ZoneInfo("Asia/Shanghai")


def _resident(db: Session, openid: str) -> Resident:
    return db.execute(select(Resident).where(Resident.openid == openid)).scalar_one()


def _reminder_status(db: Session) -> tuple[str, str | None]:
    row = db.execute(select(OutboxMessage).where(OutboxMessage.kind == "reminder")).scalar_one()
    db.refresh(row)
    return row.status, row.last_error


def test_cancelling_a_sign_up_skips_its_queued_reminder_in_the_same_transaction(
    services: Services, clock: FakeClock
) -> None:
    event_id = new_event(services, in_hours=30)
    join(services, event_id, "o-1")
    clock.advance(hours=7)
    assert sweep(services) == (1, 0)
    with services.session_factory() as db:
        with db.begin():
            cancel_signup(db, event_id, _resident(db, "o-1"), clock.now, TZ)
            assert _reminder_status(db) == ("skipped", SIGNUP_CANCELLED)
            db.rollback()
        # Undone with the cancellation: the marking is part of the same transaction.
        assert _reminder_status(db) == ("pending", None)
    with services.session_factory() as db, db.begin():
        cancel_signup(db, event_id, _resident(db, "o-1"), clock.now, TZ)
    [row] = reminder_rows(services)
    assert (row.status, row.last_error) == ("skipped", SIGNUP_CANCELLED)


def test_cancelling_an_event_skips_its_queued_reminders_only(
    services: Services, clock: FakeClock
) -> None:
    cancelled = new_event(services, in_hours=30)
    other = new_event(services, in_hours=30)
    join(services, cancelled, "o-1")
    join(services, other, "o-1")
    clock.advance(hours=7)
    assert sweep(services) == (2, 0)
    with services.session_factory() as db, db.begin():
        cancel_event(db, cancelled, "rain", clock.now, TZ)
    by_event = {row.payload["fields"]["event_id"]: row for row in reminder_rows(services)}
    assert (by_event[cancelled].status, by_event[cancelled].last_error) == (
        "skipped",
        "the event is cancelled",
    )
    assert by_event[other].status == "pending"


def test_moving_an_event_skips_the_reminders_of_its_old_time(
    services: Services, clock: FakeClock
) -> None:
    event_id = new_event(services, in_hours=30)
    join(services, event_id, "o-1")
    clock.advance(hours=7)
    assert sweep(services) == (1, 0)
    with services.session_factory() as db, db.begin():
        update_event(db, event_id, clock.now, TZ, title="改名不算移动")
    assert [row.status for row in reminder_rows(services)] == ["pending"]
    with services.session_factory() as db, db.begin():
        update_event(db, event_id, clock.now, TZ, starts_at=clock.now + timedelta(days=3))
    [row] = reminder_rows(services)
    assert (row.status, row.last_error) == ("skipped", EVENT_MOVED)


def test_opting_out_skips_queued_broadcasts_at_once(services: Services, chat: Chat) -> None:
    chat.say("帮助")
    broadcast = queue(services, chat.openid, "broadcast:1:1", kind="broadcast")
    update = queue(services, chat.openid, "need:1", kind="need_status")
    chat.say("退订")
    with services.session_factory() as db:
        rows = {row.id: row for row in db.execute(select(OutboxMessage)).scalars()}
    assert (rows[broadcast].status, rows[broadcast].last_error) == ("skipped", OPTED_OUT)
    assert rows[update].status == "pending"


def test_the_check_before_sending_asks_once_per_batch(services: Services, clock: FakeClock) -> None:
    event_id = new_event(services, in_hours=30)
    for number in range(6):
        join(services, event_id, f"o-{number}")
    clock.advance(hours=7)
    assert sweep(services) == (6, 0)
    with services.session_factory() as db:
        rows = db.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.kind,
                Resident.broadcast_opt_out,
            ).join(Resident, Resident.id == OutboxMessage.resident_id)
        ).all()
        statements: list[str] = []
        bind = db.get_bind()
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(bind, "before_cursor_execute", listener)
        try:
            assert not_to_send(db, rows) == {}
        finally:
            event.remove(bind, "before_cursor_execute", listener)
    assert len(statements) == 1
