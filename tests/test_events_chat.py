"""Events through the real webhook: browse, sign up, waitlist, cancel, check in, refusals."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.services import Services
from models.events import (
    CONFIRMED,
    SIGNUP_CANCELLED,
    WAITLISTED,
    Attendance,
    Event,
    cancel_event,
    create_event,
    save_contact,
    sign_up,
)
from models.residents import get_or_create_resident
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.helpers import pushes, resident, signups

MakeEvent = Callable[..., int]


@pytest.fixture
def make_event(services: Services, clock: FakeClock) -> MakeEvent:
    """Creates a published event two days ahead (10:00 in Shanghai); returns its id."""

    def make(**fields: Any) -> int:
        values: dict[str, Any] = {
            "title": "社区花园共建",
            "starts_at": clock.now + timedelta(days=2),
            "ends_at": clock.now + timedelta(days=2, hours=2),
            "capacity": 10,
            "place": "社区花园",
            "publish": True,
        }
        values.update(fields)
        with services.session_factory() as db, db.begin():
            return create_event(db, now=clock.now, **values).id

    return make


_scan_times = itertools.count(1_790_000_000)


def scan(chat: Chat, key: str, event: str = "SCAN") -> str:
    """A scan WeChat reports at a new moment (same-second repeats are one delivery)."""
    return chat.send(chat.payloads.event(chat.openid, event, key, create_time=next(_scan_times)))


def fill(services: Services, clock: FakeClock, event_id: int, count: int) -> None:
    """``count`` other residents take a place each (waitlisted once it is full)."""
    with services.session_factory() as db, db.begin():
        for index in range(count):
            other = get_or_create_resident(db, f"o-filler-{event_id}-{index}", clock.now)
            sign_up(db, event_id, other, 1, clock.now)


# Browsing ----------------------------------------------------------------------------


def test_empty_list(chat: Chat) -> None:
    assert "暂无" in chat.say("活动")


def test_list_pages_five_at_a_time(chat: Chat, make_event: MakeEvent, clock: FakeClock) -> None:
    ids = [
        make_event(title=f"活动{i}", starts_at=clock.now + timedelta(days=i + 1), ends_at=None)
        for i in range(7)
    ]
    make_event(title="草稿活动", publish=False)
    first = chat.say("活动")
    assert "第 1 页" in first and "下一页" in first
    for index in range(5):
        assert f"{ids[index]}. 活动{index}" in first
    assert "活动5" not in first and "草稿活动" not in first
    assert "2026-05-02 10:00" in first and "社区花园" in first and "剩余 10 个名额" in first
    second = chat.say("下一页")
    assert "第 2 页" in second and "活动5" in second and "活动6" in second
    assert "活动0" not in second and "下一页" not in second
    # The list is over, so 下一页 is no longer a list command.
    assert chat.say("下一页") == chat.say("帮助")


def test_menu_tap_and_english_paging(chat: Chat, make_event: MakeEvent, clock: FakeClock) -> None:
    for i in range(6):
        make_event(title=f"Event {i}", starts_at=clock.now + timedelta(days=i + 1), ends_at=None)
    assert chat.tap("EVENTS") == chat.say("活动")
    chat.say("English")
    first = chat.say("events")
    assert "page 1" in first and "'more'" in first and "10 places left" in first
    assert "Event 5" in chat.say("more")


def test_other_words_leave_the_list(chat: Chat, make_event: MakeEvent, clock: FakeClock) -> None:
    for i in range(6):
        make_event(title=f"活动{i}", starts_at=clock.now + timedelta(days=i + 1), ends_at=None)
    chat.say("活动")
    assert "我的需求" in chat.say("帮助")
    assert chat.say("下一页") == chat.say("帮助")


def test_list_shows_waitlist_and_closed(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    full = make_event(title="满员活动", capacity=2)
    fill(services, clock, full, 2)
    make_event(title="截止活动", signup_deadline=clock.now + timedelta(hours=1))
    clock.advance(hours=2)
    listing = chat.say("活动")
    assert "满员活动" in listing and "已满，可排候补" in listing
    assert "截止活动" in listing and "报名已截止" in listing


def test_past_events_are_not_listed(chat: Chat, make_event: MakeEvent, clock: FakeClock) -> None:
    make_event(title="很快开始", starts_at=clock.now + timedelta(hours=1), ends_at=None)
    clock.advance(hours=2)
    assert "暂无" in chat.say("活动")


def test_event_detail(chat: Chat, make_event: MakeEvent, clock: FakeClock) -> None:
    event_id = make_event(
        title="儿童生态营",
        description="认识昆虫",
        tags=["children", "volunteers"],
        max_party_size=3,
        contact_required=True,
        signup_deadline=clock.now + timedelta(days=1),
    )
    detail = chat.say(f"活动 {event_id}")
    assert detail.startswith(f"{event_id}. 儿童生态营")
    assert "2026-05-03 10:00–12:00" in detail and "社区花园" in detail and "认识昆虫" in detail
    assert "儿童、志愿者" in detail and "最多 3 人" in detail and "手机号" in detail
    assert "报名截止：2026-05-02 10:00" in detail and f"报名 {event_id}" in detail
    assert chat.say(f"活动{event_id}") == detail
    chat.say("English")
    english = chat.say(f"events {event_id}")
    assert "children, volunteers" not in english and "For: children、volunteers" in english


def test_detail_of_unknown_draft_and_bad_number(chat: Chat, make_event: MakeEvent) -> None:
    draft = make_event(publish=False)
    assert "没有编号为 999 的" in chat.say("活动 999")
    assert f"没有编号为 {draft} 的" in chat.say(f"活动 {draft}")
    assert "请发送活动编号" in chat.say("活动 abc")


# Signing up ----------------------------------------------------------------------------


def test_sign_up_confirms_with_code(chat: Chat, services: Services, make_event: MakeEvent) -> None:
    event_id = make_event()
    reply = chat.say(f"报名 {event_id}")
    [signup] = signups(services, event_id)
    assert signup.status == CONFIRMED and signup.party_size == 1
    assert len(signup.checkin_code) == 6 and signup.checkin_code.isdigit()
    assert "报名成功" in reply and signup.checkin_code in reply
    assert "2026-05-03 10:00–12:00" in reply and "社区花园" in reply
    assert f"取消报名 {event_id}" in reply
    assert "剩余 9 个名额" in chat.say("活动")


def test_sign_up_in_english(chat: Chat, services: Services, make_event: MakeEvent) -> None:
    event_id = make_event(place="")
    chat.say("English")
    reply = chat.say(f"signup {event_id}")
    assert "You're signed up" in reply and "place to be announced" in reply
    assert signups(services, event_id)[0].status == CONFIRMED


def test_contact_details_asked_once_with_consent(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    first = make_event(contact_required=True)
    second = make_event(title="第二个活动", contact_required=True)
    assert "姓名" in chat.say(f"报名 {first}")
    assert "手机号" in chat.say("  张 三  ")
    assert "不是有效的手机号" in chat.say("12345")
    assert "不是有效的手机号" in chat.say("23812345678")
    consent = chat.say("+86 138-1234-5678")
    assert "张 三" in consent and "13812345678" in consent and "同意" in consent
    assert "请回复“同意”或“不同意”" in chat.say("也许")
    assert signups(services, first) == []
    assert "报名成功" in chat.say("同意")
    person = resident(services, chat.openid)
    assert (person.name, person.mobile) == ("张 三", "13812345678")
    assert person.contact_consent_at is not None
    # Reused: the next event needing contact details asks nothing.
    assert "报名成功" in chat.say(f"报名 {second}")


def test_contact_consent_is_not_the_needs_notice(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    """Agreeing to keep a name and mobile for events does not skip the needs notice."""
    chat.say(f"报名 {make_event(contact_required=True)}")
    chat.say("张三")
    chat.say("13812345678")
    chat.say("同意")
    chat.say("1")
    assert resident(services, chat.openid).privacy_consent_at is None
    notice = chat.say("需求")
    assert "删除我的信息" in notice and "同意" in notice


def test_declined_consent_keeps_nothing(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event(contact_required=True)
    chat.say(f"报名 {event_id}")
    chat.say("李四")
    chat.say("13912345678")
    assert "没有保存" in chat.say("不同意")
    person = resident(services, chat.openid)
    assert person.name is None and person.mobile is None
    assert signups(services, event_id) == []


def test_contact_questions_can_be_left(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event(contact_required=True)
    chat.say(f"报名 {event_id}")
    chat.say("王五")
    assert "已退出" in chat.say("退出")
    assert resident(services, chat.openid).name is None
    assert signups(services, event_id) == []


def test_help_and_language_mid_sign_up_never_become_answers(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    """帮助 and English typed at the name question are answered, and the question is asked
    again (in the new language); the sign-up goes on from where it was."""
    event_id = make_event(contact_required=True, max_party_size=3)
    chat.say(f"报名 {event_id}")
    helped = chat.say("帮助")
    assert "我的需求" in helped and helped.endswith("请回复您的姓名（发送“退出”可放弃）。")
    assert chat.say("English") == (
        "Switched to English.\n\n"
        "'社区花园共建' needs your contact details. What is your name? (send 'exit' to stop)"
    )
    assert chat.say("张三") == "Please reply with your mobile number (11 digits)."
    assert chat.say("help").endswith("Please reply with your mobile number (11 digits).")
    chat.say("13812345678")
    switched_back = chat.say("中文")
    assert switched_back.startswith("已切换为中文。\n\n我们会保存您的姓名（张三）")
    assert chat.say("同意") == "共几人参加（含您自己，1-3）？请回复数字。"
    assert chat.say("?").endswith("共几人参加（含您自己，1-3）？请回复数字。")
    assert "报名成功" in chat.say("1")
    person = resident(services, chat.openid)
    assert (person.name, person.mobile, person.language) == ("张三", "13812345678", "zh")


def test_a_sign_up_can_be_answered_by_voice(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    """WeChat's recognition of each answer, full stop and all, is taken as typed."""
    event_id = make_event(contact_required=True, max_party_size=3)

    def speak(words: str) -> str:
        return chat.send(chat.payloads.voice(chat.openid, words))

    assert "姓名" in speak(f"报名{event_id}。")
    assert "手机号" in speak("张三。")
    assert "同意" in speak("13812345678。")
    assert "几人" in speak("同意。")
    assert "报名成功" in speak("2。")
    assert resident(services, chat.openid).mobile == "13812345678"
    assert [s.party_size for s in signups(services, event_id)] == [2]


def test_party_size_is_asked_and_checked(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event(max_party_size=4)
    assert "1-4" in chat.say(f"报名 {event_id}")
    assert "请回复 1 到 4" in chat.say("很多")
    too_many = chat.say("5")
    assert "最多 4 人" in too_many and "请回复 1 到 4" in too_many
    assert "人数至少为 1" in chat.say("0")
    reply = chat.say("３")
    assert "报名成功" in reply and "人数：3" in reply
    assert signups(services, event_id)[0].party_size == 3
    assert "剩余 7 个名额" in chat.say("活动")


def test_party_size_given_with_the_command(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event(max_party_size=4)
    assert "最多 4 人" in chat.say(f"报名 {event_id} 9")
    assert signups(services, event_id) == []
    assert "人数：2" in chat.say(f"报名 {event_id} 2")


def test_party_over_one_refused_when_max_is_one(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event()
    assert "最多 1 人" in chat.say(f"报名 {event_id} 2")
    assert signups(services, event_id) == []


def test_full_event_offers_the_waitlist(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=2)
    fill(services, clock, event_id, 2)
    offer = chat.say(f"报名 {event_id}")
    assert "名额已满" in offer and "候补" in offer
    assert signups(services, event_id)[-1].resident_id != resident(services, chat.openid).id
    assert "请回复“是”" in chat.say("嗯")
    reply = chat.say("是")
    assert "候补" in reply and "第 1 位" in reply
    other = chat.as_resident("o-second")
    other.say(f"报名 {event_id}")
    assert "第 2 位" in other.say("yes")
    waiting = [s for s in signups(services, event_id) if s.status == WAITLISTED]
    assert [s.waitlist_position for s in waiting] == [1, 2]
    assert "候补第 1 位" in chat.say("我的活动")


def test_waitlist_declined(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=1)
    fill(services, clock, event_id, 1)
    chat.say(f"报名 {event_id}")
    assert "没有为您报名" in chat.say("否")
    assert len(signups(services, event_id)) == 1


def test_place_freed_while_offered_is_taken(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=1)
    fill(services, clock, event_id, 1)
    chat.say(f"报名 {event_id}")
    filler = chat.as_resident(f"o-filler-{event_id}-0")
    filler.say(f"取消报名 {event_id}")
    assert "报名成功" in chat.say("是")


def test_already_signed_up_shows_the_sign_up(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event()
    chat.say(f"报名 {event_id}")
    code = signups(services, event_id)[0].checkin_code
    again = chat.say(f"报名 {event_id}")
    assert "已报名" in again and code in again
    assert len(signups(services, event_id)) == 1


def test_refusals(chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock) -> None:
    draft = make_event(publish=False)
    closed = make_event(signup_deadline=clock.now + timedelta(hours=1))
    called_off = make_event(title="取消的活动")
    with services.session_factory() as db, db.begin():
        cancel_event(db, called_off, "下雨", clock.now, services.handler_settings.timezone)
    clock.advance(hours=2)
    assert "没有编号为 999 的" in chat.say("报名 999")
    assert f"没有编号为 {draft} 的" in chat.say(f"报名 {draft}")
    assert "已于 2026-05-01 11:00 截止" in chat.say(f"报名 {closed}")
    assert "已取消" in chat.say(f"报名 {called_off}")
    assert "请发送活动编号" in chat.say("报名 x")
    assert "请发送活动编号" in chat.say("报名")
    detail = chat.say(f"活动 {called_off}")
    assert "已取消：下雨" in detail and "报名 " not in detail
    assert signups(services, draft) == signups(services, closed) == []


def test_event_cancelled_during_the_questions(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(max_party_size=3)
    chat.say(f"报名 {event_id}")
    with services.session_factory() as db, db.begin():
        cancel_event(db, event_id, "场地维修", clock.now, services.handler_settings.timezone)
    assert "已取消" in chat.say("2")
    assert signups(services, event_id) == []


# Cancelling and promotion ----------------------------------------------------------------


def test_cancel_promotes_the_first_who_fits(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=2, max_party_size=2)
    chat.say(f"报名 {event_id} 1")
    fill(services, clock, event_id, 1)
    big = chat.as_resident("o-big")
    big.say(f"报名 {event_id} 2")
    assert "第 1 位" in big.say("是")
    small = chat.as_resident("o-small")
    small.say(f"报名 {event_id} 1")
    assert "第 2 位" in small.say("是")

    assert "已取消您对活动" in chat.say(f"取消报名 {event_id}")
    by_resident = {s.resident_id: s for s in signups(services, event_id)}
    assert by_resident[resident(services, chat.openid).id].status == SIGNUP_CANCELLED
    promoted = by_resident[resident(services, "o-small").id]
    waiting = by_resident[resident(services, "o-big").id]
    assert promoted.status == CONFIRMED and promoted.waitlist_position is None
    assert waiting.status == WAITLISTED and waiting.waitlist_position == 1
    [push] = pushes(services)
    assert push.kind == "promotion" and push.idempotency_key == f"promotion:{promoted.id}"
    assert push.recipient_openid == "o-small"
    assert promoted.checkin_code in push.payload["text"]["zh"]
    assert "2026-05-03 10:00" in push.payload["text"]["en"]
    assert push.expires_at == clock.now + timedelta(days=2)
    assert "已确认" in small.say("我的活动")


def test_cancel_from_the_waitlist_renumbers(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=1)
    fill(services, clock, event_id, 4)
    first_waiting = chat.as_resident(f"o-filler-{event_id}-1")
    first_waiting.say(f"cancel {event_id}")
    positions = [s.waitlist_position for s in signups(services, event_id) if s.status == WAITLISTED]
    assert positions == [1, 2]
    assert pushes(services) == []


def test_sign_up_again_after_cancelling(
    chat: Chat, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event()
    chat.say(f"报名 {event_id}")
    chat.say(f"取消报名 {event_id}")
    assert "报名成功" in chat.say(f"报名 {event_id}")
    assert [s.status for s in signups(services, event_id)] == [SIGNUP_CANCELLED, CONFIRMED]
    assert "已确认" in chat.say("我的活动")


def test_cancel_refusals(chat: Chat, make_event: MakeEvent, clock: FakeClock) -> None:
    event_id = make_event(starts_at=clock.now + timedelta(hours=3), ends_at=None)
    assert "没有报名活动" in chat.say(f"取消报名 {event_id}")
    assert "没有编号为 999 的" in chat.say("取消报名 999")
    assert "请发送活动编号" in chat.say("取消报名 abc")
    chat.say(f"报名 {event_id}")
    clock.advance(hours=4)
    assert "已开始" in chat.say(f"取消报名 {event_id}")


# My events ---------------------------------------------------------------------------------


def test_my_events(chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock) -> None:
    assert "还没有报名" in chat.say("我的活动")
    going = make_event(title="去的活动")
    full = make_event(title="满的活动", capacity=1)
    dropped = make_event(title="不去的活动")
    fill(services, clock, full, 1)
    chat.say(f"报名 {going}")
    chat.say(f"报名 {full}")
    chat.say("是")
    chat.say(f"报名 {dropped}")
    chat.say(f"取消报名 {dropped}")
    mine = chat.say("我的活动")
    code = signups(services, going)[0].checkin_code
    assert f"去的活动\n   2026-05-03 10:00–12:00 · 已确认，1 人，签到码 {code}" in mine
    assert "满的活动" in mine and "候补第 1 位" in mine
    assert "不去的活动" in mine and "已取消报名" in mine
    assert chat.tap("MY_EVENTS") == mine
    chat.say("English")
    assert "waitlist position 1" in chat.say("my events")


# Check-in ------------------------------------------------------------------------------------


def test_scan_checks_in_once(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(max_party_size=3)
    chat.say(f"报名 {event_id} 2")
    clock.advance(days=2)
    welcome = scan(chat, f"checkin:{event_id}")
    assert "欢迎参加" in welcome and "签到成功（2 人）" in welcome
    again = scan(chat, f"checkin:{event_id}")
    assert "无需重复签到" in again and "10:00" in again
    with services.session_factory() as db:
        [attendance] = db.execute(select(Attendance)).scalars().all()
    assert attendance.method == "qr" and not attendance.walk_in and attendance.party_size == 2
    assert "已签到" in chat.say("我的活动")


def test_walk_in_and_full(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=2)
    fill(services, clock, event_id, 1)
    clock.advance(days=2, minutes=-30)
    assert "现场参加" in scan(chat, f"checkin:{event_id}")
    late = chat.as_resident("o-late")
    assert "名额已满" in scan(late, f"checkin:{event_id}")
    with services.session_factory() as db:
        rows = db.execute(select(Attendance)).scalars().all()
    assert [(row.walk_in, row.signup_id) for row in rows] == [(True, None)]
    # A walk-in holds a place, so the sign-up that would need it waits.
    newcomer = chat.as_resident("o-new")
    assert "名额已满" in newcomer.say(f"报名 {event_id}")


def test_new_follower_scanning_is_welcomed_and_checked_in(
    chat: Chat, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event()
    clock.advance(days=2)
    reply = scan(chat, f"qrscene_checkin:{event_id}", "subscribe")
    assert "现场参加" in reply and "欢迎关注" in reply


def test_scan_refusals(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event()
    draft = make_event(publish=False)
    assert "签到将于 2026-05-03 08:00 开始" in scan(chat, f"checkin:{event_id}")
    assert "二维码无效" in scan(chat, "checkin:abc")
    assert "二维码无效" in scan(chat, "checkin:999")
    assert "二维码无效" in scan(chat, f"checkin:{draft}")
    clock.advance(days=2, hours=5)
    assert "签到已结束" in scan(chat, f"checkin:{event_id}")
    with services.session_factory() as db, db.begin():
        cancel_event(
            db,
            make_event(starts_at=clock.now + timedelta(hours=1)),
            "停电",
            clock.now,
            services.handler_settings.timezone,
        )
        cancelled = db.execute(select(Event.id).where(Event.status == "cancelled")).scalar_one()
    assert "已取消" in scan(chat, f"checkin:{cancelled}")
    with services.session_factory() as db:
        assert db.execute(select(Attendance)).scalars().all() == []


def test_contact_saved_before_is_reused_directly(
    chat: Chat, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(contact_required=True)
    with services.session_factory() as db, db.begin():
        person = get_or_create_resident(db, chat.openid, clock.now)
        save_contact(person, "赵六", "13700000000", clock.now)
    assert "报名成功" in chat.say(f"报名 {event_id}")
