"""我的活动 shows one line per event, and cancelled history never hides a live sign-up."""

from __future__ import annotations

from datetime import timedelta

from bot.services import Services
from models.events.queries import resident_signups
from models.residents import get_or_create_resident
from tests.conftest import FakeClock
from tests.events import MakeEvent, fill
from tests.transcript import Talk


def test_signing_up_again_and_again_keeps_every_event_listed(
    talk: Talk, make_event: MakeEvent, clock: FakeClock
) -> None:
    for day in range(5):
        event_id = make_event(
            title=f"活动{day}", starts_at=clock.now + timedelta(days=2 + day), ends_at=None
        )
        talk.say(f"报名 {event_id}")
        talk.say(f"取消报名 {event_id}")
        talk.say(f"报名 {event_id}")
    sixth = make_event(title="第六个活动", starts_at=clock.now + timedelta(days=9), ends_at=None)
    assert "报名成功" in talk.say(f"报名 {sixth}")
    mine = talk.say("我的活动").split("\n")
    titles = [line.split(". ", 1)[1] for line in mine[1::2]]
    assert titles == [f"活动{day}" for day in range(5)] + ["第六个活动"]
    assert "已取消报名" not in "\n".join(mine)


def test_cancelled_events_give_way_to_live_ones(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    """More than ten events: the ones only cancelled are left out, not the live ones."""
    for day in range(10):
        event_id = make_event(
            title=f"不去{day}", starts_at=clock.now + timedelta(days=2 + day), ends_at=None
        )
        talk.say(f"报名 {event_id}")
        talk.say(f"取消报名 {event_id}")
    full = make_event(
        title="候补的活动", capacity=1, starts_at=clock.now + timedelta(days=20), ends_at=None
    )
    fill(services, clock, full, 1)
    talk.say(f"报名 {full}")
    talk.say("是")
    going = make_event(title="要去的活动", starts_at=clock.now + timedelta(days=30), ends_at=None)
    talk.say(f"报名 {going}")
    mine = talk.say("我的活动")
    assert "候补的活动" in mine and "候补第 1 位" in mine
    assert "要去的活动" in mine and "已确认" in mine
    assert mine.count("已取消报名") == 8 and "不去0" in mine and "不去8" not in mine
    assert mine.index("不去7") < mine.index("候补的活动") < mine.index("要去的活动")


def test_one_row_per_event_with_the_live_sign_up(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    first = make_event()
    second = make_event(starts_at=clock.now + timedelta(days=3), ends_at=None)
    for _ in range(3):
        talk.say(f"报名 {first}")
        talk.say(f"取消报名 {first}")
    talk.say(f"报名 {first}")
    talk.say(f"报名 {second}")
    with services.session_factory() as db:
        me = get_or_create_resident(db, talk.openid, clock.now)
        rows = resident_signups(db, me.id, clock.now, limit=2)
    assert [(event.id, signup.status, attendance) for signup, event, attendance in rows] == [
        (first, "confirmed", None),
        (second, "confirmed", None),
    ]


def test_a_walk_in_is_listed_as_checked_in(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    """Checked in by QR without a sign-up: the event is the resident's too."""
    signed = make_event(title="报了名的活动", starts_at=clock.now + timedelta(days=5), ends_at=None)
    talk.say(f"报名 {signed}")
    walked = make_event(title="现场来的活动")
    clock.advance(days=2, hours=-1)
    assert "现场参加" in talk.event("SCAN", f"checkin:{walked}")
    mine = talk.say("我的活动")
    assert mine.split("\n")[1] == f"{walked}. 现场来的活动"
    assert "· 已签到" in mine.split("\n")[2]
    assert f"{signed}. 报了名的活动" in mine and "已确认" in mine
    talk.say("English")
    assert "· checked in" in talk.say("my events").split("\n")[2]
    with services.session_factory() as db:
        me = get_or_create_resident(db, talk.openid, clock.now)
        rows = resident_signups(db, me.id, clock.now - timedelta(days=1))
    seen = [(event.id, signup is None, came is not None) for signup, event, came in rows]
    assert seen == [(walked, True, True), (signed, False, False)]


def test_a_walk_in_is_kept_ahead_of_cancelled_history(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    """The walk-in counts as attendance: cancelled-only events give way to it in the limit."""
    soon = clock.now + timedelta(hours=1)
    walked = make_event(title="现场来的活动", starts_at=soon, ends_at=None)
    for day in range(10):
        event_id = make_event(
            title=f"不去{day}", starts_at=clock.now + timedelta(days=2 + day), ends_at=None
        )
        talk.say(f"报名 {event_id}")
        talk.say(f"取消报名 {event_id}")
    assert "现场参加" in talk.event("SCAN", f"checkin:{walked}")
    with services.session_factory() as db:
        me = get_or_create_resident(db, talk.openid, clock.now)
        rows = resident_signups(db, me.id, clock.now, limit=3)
    assert [(event.title, signup is None) for signup, event, _ in rows] == [
        ("现场来的活动", True),
        ("不去0", False),
        ("不去1", False),
    ]
    mine = talk.say("我的活动")
    assert "现场来的活动" in mine and "已签到" in mine
    assert mine.count("已取消报名") == 9 and "不去9" not in mine
