"""A change that makes queued pushes stale marks them in its own transaction, and the
check before sending costs no query per row."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.services import Services
from models.events.signups import cancel_signup, sign_up
from models.events.staff import cancel_event, create_event, update_event
from models.push import stale
from models.push.outbox import OutboxMessage
from models.push.policy import not_to_send
from models.push.stale import EVENT_MOVED, OPTED_OUT, SIGNUP_CANCELLED
from models.residents import Resident, get_or_create_resident
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.helpers import pushes, resident
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


def test_moving_an_event_tells_everyone_signed_up_and_a_second_move_replaces_the_first(
    services: Services, clock: FakeClock
) -> None:
    """Confirmed and waitlisted residents hear of a new time or place; a title change
    tells nobody; a later change drops the earlier notice not yet sent."""
    with services.session_factory() as db, db.begin():
        created = create_event(
            db,
            title="清洁日",
            starts_at=clock.now + timedelta(days=2),
            capacity=2,
            now=clock.now,
            place="村委会",
            max_party_size=2,
            publish=True,
        )
        for openid, party in (("o-a", 2), ("o-b", 1)):
            resident = get_or_create_resident(db, openid, clock.now)
            sign_up(db, created.id, resident, party, clock.now)
        event_id = created.id
    with services.session_factory() as db, db.begin():
        assert update_event(db, event_id, clock.now, TZ, title="新名字").told == []
    with services.session_factory() as db, db.begin():
        first = update_event(db, event_id, clock.now, TZ, starts_at=clock.now + timedelta(days=3))
        assert (len(first.told), first.people_told) == (2, 3)
    clock.advance(minutes=5)
    with services.session_factory() as db, db.begin():
        update_event(db, event_id, clock.now, TZ, place="小学礼堂")
    notices = {(row.recipient_openid, row.status): row for row in pushes(services, "event_moved")}
    assert set(notices) == {
        ("o-a", "skipped"),
        ("o-b", "skipped"),
        ("o-a", "pending"),
        ("o-b", "pending"),
    }
    latest = notices[("o-b", "pending")]
    assert latest.payload["text"]["zh"] == (
        "您报名的活动“新名字”有变动：\n地点改为 小学礼堂（原为 村委会）\n"
        f"如不能参加，请回复“取消报名 {event_id}”。"
    )
    assert latest.payload["fields"]["old_place"] == "村委会"
    assert notices[("o-a", "skipped")].last_error == stale.SUPERSEDED


def test_a_cancelled_signup_or_event_drops_its_change_notice(
    services: Services, clock: FakeClock
) -> None:
    with services.session_factory() as db, db.begin():
        created = create_event(
            db,
            title="清洁日",
            starts_at=clock.now + timedelta(days=2),
            capacity=5,
            now=clock.now,
            publish=True,
        )
        for openid in ("o-a", "o-b"):
            sign_up(db, created.id, get_or_create_resident(db, openid, clock.now), 1, clock.now)
        event_id = created.id
        update_event(db, event_id, clock.now, TZ, starts_at=clock.now + timedelta(days=3))
    with services.session_factory() as db, db.begin():
        cancel_signup(db, event_id, resident(services, "o-a"), clock.now, TZ)
    with services.session_factory() as db, db.begin():
        cancel_event(db, event_id, "下雨", clock.now, TZ)
    reasons = {row.recipient_openid: row.last_error for row in pushes(services, "event_moved")}
    assert reasons == {"o-a": stale.SIGNUP_CANCELLED, "o-b": stale.EVENT_OFF}
