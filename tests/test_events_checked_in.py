"""Someone who has checked in is in the room: they can neither cancel nor sign up again.

Both would count people twice: a cancelled place goes to the waitlist while its party is
still inside, and a walk-in's sign-up holds a second place for one person.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.services import Services
from models.events.queries import get_event, occupancy
from models.events.tables import Attendance, SignupStatus
from tests.conftest import FakeClock
from tests.events import MakeEvent, fill
from tests.helpers import pushes, signups
from tests.transcript import Talk


def people_in_the_room(services: Services) -> int:
    with services.session_factory() as db:
        return sum(row.party_size for row in db.execute(select(Attendance)).scalars())


def test_checked_in_party_cannot_cancel(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=3, max_party_size=3)
    assert "报名成功" in talk.say(f"报名 {event_id} 3")
    fill(services, clock, event_id, 1)
    clock.advance(days=2, hours=-1)
    assert "签到成功（3 人）" in talk.event("SCAN", f"checkin:{event_id}")
    reply = talk.say(f"取消报名 {event_id}")
    assert "您已签到活动“社区花园共建”，不能再取消报名" in reply
    assert [s.status for s in signups(services, event_id)] == [
        SignupStatus.CONFIRMED,
        SignupStatus.WAITLISTED,
    ]
    assert pushes(services) == []
    with services.session_factory() as db:
        taken = occupancy(db, get_event(db, event_id))
    assert (taken.confirmed, taken.waitlisted, people_in_the_room(services)) == (3, 1, 3)
    talk.say("English")
    assert "checked in to '社区花园共建', so the sign-up can no longer" in talk.say(
        f"cancel {event_id}"
    )


def test_walk_in_cannot_cancel_either(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=2)
    clock.advance(days=2, hours=-1)
    assert "现场参加" in talk.event("SCAN", f"checkin:{event_id}")
    assert "您已签到活动" in talk.say(f"取消报名 {event_id}")
    assert people_in_the_room(services) == 1


def test_walk_in_cannot_sign_up_for_a_second_place(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=2)
    clock.advance(days=2, hours=-1)
    assert "现场参加" in talk.event("SCAN", f"checkin:{event_id}")
    assert "您已在现场签到“社区花园共建”，已计为参加，无需再报名" in talk.say(f"报名 {event_id}")
    assert signups(services, event_id) == []
    with services.session_factory() as db:
        assert occupancy(db, get_event(db, event_id)).places_left == 1
    detail = talk.say(f"活动 {event_id}")
    assert "您的报名：已签到" in detail and "发送“报名" not in detail
    talk.say("English")
    assert "counted as attending" in talk.say(f"signup {event_id}")


def test_walk_in_is_refused_before_the_contact_questions(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(contact_required=True, max_party_size=3)
    clock.advance(days=2, hours=-1)
    talk.event("SCAN", f"checkin:{event_id}")
    assert "已计为参加" in talk.say(f"报名 {event_id}")
    assert "已计为参加" in talk.say(f"报名 {event_id} 2")
    assert signups(services, event_id) == []
