"""Events in the chat: browse, sign up, waitlist, cancel, check in, refusals.

Transcripts at the handler level; a sign-up and a check-in scan go through the real
webhook too, for the wiring."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import select

from bot.services import Services
from models.events.signups import save_contact
from models.events.staff import cancel_event
from models.events.tables import Attendance, Event, SignupStatus
from models.residents import get_or_create_resident
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.events import MakeEvent, fill
from tests.helpers import pushes, resident, signups
from tests.transcript import Talk

_scan_times = itertools.count(1_790_000_000)


def scan(chat: Chat, key: str, event: str = "SCAN") -> str:
    """A scan WeChat reports at a new moment (same-second repeats are one delivery)."""
    return chat.send(chat.payloads.event(chat.openid, event, key, create_time=next(_scan_times)))


# Browsing ----------------------------------------------------------------------------


def test_empty_list(talk: Talk) -> None:
    assert "暂无" in talk.say("活动")


def test_list_pages_five_at_a_time(talk: Talk, make_event: MakeEvent, clock: FakeClock) -> None:
    ids = [
        make_event(title=f"活动{i}", starts_at=clock.now + timedelta(days=i + 1), ends_at=None)
        for i in range(7)
    ]
    make_event(title="草稿活动", publish=False)
    first = talk.say("活动")
    assert "第 1 页" in first and "下一页" in first
    for index in range(5):
        assert f"{ids[index]}. 活动{index}" in first
    assert "活动5" not in first and "草稿活动" not in first
    assert "2026-05-02 10:00" in first and "社区花园" in first and "剩余 10 个名额" in first
    second = talk.say("下一页")
    assert "第 2 页" in second and "活动5" in second and "活动6" in second
    assert "活动0" not in second and "下一页" not in second
    assert talk.say("下一页") == "这已是最后一页。发送“上一页”返回，“活动 N”查看详情。"


def test_menu_tap_and_english_paging(talk: Talk, make_event: MakeEvent, clock: FakeClock) -> None:
    for i in range(6):
        make_event(title=f"Event {i}", starts_at=clock.now + timedelta(days=i + 1), ends_at=None)
    assert talk.tap("EVENTS") == talk.say("活动")
    talk.say("English")
    first = talk.say("events")
    assert "page 1" in first and "'more'" in first and "10 places left" in first
    assert "Event 5" in talk.say("more")


def test_other_words_leave_the_list(talk: Talk, make_event: MakeEvent, clock: FakeClock) -> None:
    for i in range(6):
        make_event(title=f"活动{i}", starts_at=clock.now + timedelta(days=i + 1), ends_at=None)
    talk.say("活动")
    assert "我的需求" in talk.say("帮助")
    assert talk.say("下一页") == "现在没有显示列表。发送“活动”查看活动。"


def test_list_shows_waitlist_and_closed(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    full = make_event(title="满员活动", capacity=2)
    fill(services, clock, full, 2)
    make_event(title="截止活动", signup_deadline=clock.now + timedelta(hours=1))
    clock.advance(hours=2)
    listing = talk.say("活动")
    assert "满员活动" in listing and "已满，可排候补" in listing
    assert "截止活动" in listing and "报名已截止" in listing


def test_past_events_are_not_listed(talk: Talk, make_event: MakeEvent, clock: FakeClock) -> None:
    make_event(title="很快开始", starts_at=clock.now + timedelta(hours=1), ends_at=None)
    clock.advance(hours=2)
    assert "暂无" in talk.say("活动")


def test_event_detail(talk: Talk, make_event: MakeEvent, clock: FakeClock) -> None:
    event_id = make_event(
        title="儿童生态营",
        description="认识昆虫",
        tags=["children", "volunteers"],
        max_party_size=3,
        contact_required=True,
        signup_deadline=clock.now + timedelta(days=1),
    )
    detail = talk.say(f"活动 {event_id}")
    assert detail.startswith(f"{event_id}. 儿童生态营")
    assert "2026-05-03 10:00–12:00" in detail and "社区花园" in detail and "认识昆虫" in detail
    assert "儿童、志愿者" in detail and "最多 3 人" in detail and "手机号" in detail
    assert "报名截止：2026-05-02 10:00" in detail and f"报名 {event_id}" in detail
    assert talk.say(f"活动{event_id}") == detail
    talk.say("English")
    english = talk.say(f"events {event_id}")
    assert "children, volunteers" not in english and "For: children、volunteers" in english


def test_detail_of_unknown_draft_and_bad_number(talk: Talk, make_event: MakeEvent) -> None:
    draft = make_event(publish=False)
    assert "没有编号为 999 的" in talk.say("活动 999")
    assert f"没有编号为 {draft} 的" in talk.say(f"活动 {draft}")
    assert "请发送活动编号" in talk.say("活动 abc")


# Signing up ----------------------------------------------------------------------------


def test_sign_up_confirms_with_code(chat: Chat, services: Services, make_event: MakeEvent) -> None:
    event_id = make_event()
    reply = chat.say(f"报名 {event_id}")
    [signup] = signups(services, event_id)
    assert signup.status == SignupStatus.CONFIRMED and signup.party_size == 1
    assert len(signup.checkin_code) == 6 and signup.checkin_code.isdigit()
    assert "报名成功" in reply and signup.checkin_code in reply
    assert "2026-05-03 10:00–12:00" in reply and "社区花园" in reply
    assert f"取消报名 {event_id}" in reply
    assert "剩余 9 个名额" in chat.say("活动")


def test_sign_up_in_english(talk: Talk, services: Services, make_event: MakeEvent) -> None:
    event_id = make_event(place="")
    talk.say("English")
    reply = talk.say(f"signup {event_id}")
    assert "You're signed up" in reply and "place to be announced" in reply
    assert signups(services, event_id)[0].status == SignupStatus.CONFIRMED


def test_contact_details_asked_once_with_consent(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    first = make_event(contact_required=True)
    second = make_event(title="第二个活动", contact_required=True)
    assert "姓名" in talk.say(f"报名 {first}")
    assert "手机号" in talk.say("  张 三  ")
    assert "不是有效的手机号" in talk.say("12345")
    assert "不是有效的手机号" in talk.say("23812345678")
    consent = talk.say("+86 138-1234-5678")
    assert "张 三" in consent and "13812345678" in consent and "同意" in consent
    assert "请回复“同意”或“不同意”" in talk.say("也许")
    assert signups(services, first) == []
    assert "报名成功" in talk.say("同意")
    person = resident(services, talk.openid)
    assert (person.name, person.mobile) == ("张 三", "13812345678")
    assert person.contact_consent_at is not None
    # Reused: the next event needing contact details asks nothing.
    assert "报名成功" in talk.say(f"报名 {second}")


def test_contact_consent_is_not_the_needs_notice(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    """Agreeing to keep a name and mobile for events does not skip the needs notice."""
    talk.say(f"报名 {make_event(contact_required=True)}")
    talk.say("张三")
    talk.say("13812345678")
    talk.say("同意")
    talk.say("1")
    assert resident(services, talk.openid).privacy_consent_at is None
    notice = talk.say("需求")
    assert "删除我的信息" in notice and "同意" in notice


def test_declined_consent_keeps_nothing(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event(contact_required=True)
    talk.say(f"报名 {event_id}")
    talk.say("李四")
    talk.say("13912345678")
    assert "没有保存" in talk.say("不同意")
    person = resident(services, talk.openid)
    assert person.name is None and person.mobile is None
    assert signups(services, event_id) == []


def test_contact_questions_can_be_left(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event(contact_required=True)
    talk.say(f"报名 {event_id}")
    talk.say("王五")
    assert "已退出" in talk.say("退出")
    assert resident(services, talk.openid).name is None
    assert signups(services, event_id) == []


def test_help_and_language_mid_sign_up_never_become_answers(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    """帮助 and English typed at the name question are answered, and the question is asked
    again (in the new language); the sign-up goes on from where it was."""
    event_id = make_event(contact_required=True, max_party_size=3)
    talk.say(f"报名 {event_id}")
    helped = talk.say("帮助")
    assert "我的需求" in helped and helped.endswith("请回复您的姓名（发送“退出”可放弃）。")
    talk.verify(
        [
            (
                "English",
                "Switched to English.\n\n'社区花园共建' needs your contact details."
                " What is your name? (send 'exit' to stop)",
            ),
            ("张三", "Please reply with your mobile number (11 digits)."),
        ]
    )
    assert talk.say("help").endswith("Please reply with your mobile number (11 digits).")
    talk.say("13812345678")
    switched_back = talk.say("中文")
    assert switched_back.startswith("已切换为中文。\n\n我们会保存您的姓名（张三）")
    assert talk.say("同意") == "共几人参加（含您自己，1-3）？请回复数字。"
    assert talk.say("?").endswith("共几人参加（含您自己，1-3）？请回复数字。")
    assert "报名成功" in talk.say("1")
    person = resident(services, talk.openid)
    assert (person.name, person.mobile, person.language) == ("张三", "13812345678", "zh")


def test_a_sign_up_can_be_answered_by_voice(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    """WeChat's recognition of each answer, full stop and all, is taken as typed."""
    event_id = make_event(contact_required=True, max_party_size=3)

    assert "姓名" in talk.speak(f"报名{event_id}。")
    assert "手机号" in talk.speak("张三。")
    assert "同意" in talk.speak("13812345678。")
    assert "几人" in talk.speak("同意。")
    assert "报名成功" in talk.speak("2。")
    assert resident(services, talk.openid).mobile == "13812345678"
    assert [s.party_size for s in signups(services, event_id)] == [2]


def test_party_size_is_asked_and_checked(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event(max_party_size=4)
    assert "1-4" in talk.say(f"报名 {event_id}")
    assert "请回复 1 到 4" in talk.say("很多")
    too_many = talk.say("5")
    assert "最多 4 人" in too_many and "请回复 1 到 4" in too_many
    assert "人数至少为 1" in talk.say("0")
    reply = talk.say("３")
    assert "报名成功" in reply and "人数：3" in reply
    assert signups(services, event_id)[0].party_size == 3
    assert "剩余 7 个名额" in talk.say("活动")


def test_party_size_given_with_the_command(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event(max_party_size=4)
    assert "最多 4 人" in talk.say(f"报名 {event_id} 9")
    assert signups(services, event_id) == []
    assert "人数：2" in talk.say(f"报名 {event_id} 2")


def test_party_over_one_refused_when_max_is_one(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event()
    assert "最多 1 人" in talk.say(f"报名 {event_id} 2")
    assert signups(services, event_id) == []


def test_full_event_offers_the_waitlist(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=2)
    fill(services, clock, event_id, 2)
    offer = talk.say(f"报名 {event_id}")
    assert "名额已满" in offer and "候补" in offer
    assert signups(services, event_id)[-1].resident_id != resident(services, talk.openid).id
    assert "请回复“是”" in talk.say("嗯")
    reply = talk.say("是")
    assert "候补" in reply and "第 1 位" in reply
    other = talk.as_resident("o-second")
    other.say(f"报名 {event_id}")
    assert "第 2 位" in other.say("yes")
    waiting = [s for s in signups(services, event_id) if s.status == SignupStatus.WAITLISTED]
    assert [s.waitlist_position for s in waiting] == [1, 2]
    assert "候补第 1 位" in talk.say("我的活动")


def test_waitlist_declined(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=1)
    fill(services, clock, event_id, 1)
    talk.say(f"报名 {event_id}")
    assert "没有为您报名" in talk.say("否")
    assert len(signups(services, event_id)) == 1


def test_place_freed_while_offered_is_taken(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=1)
    fill(services, clock, event_id, 1)
    talk.say(f"报名 {event_id}")
    filler = talk.as_resident(f"o-filler-{event_id}-0")
    filler.say(f"取消报名 {event_id}")
    assert "报名成功" in talk.say("是")


def test_already_signed_up_shows_the_sign_up(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event()
    talk.say(f"报名 {event_id}")
    code = signups(services, event_id)[0].checkin_code
    again = talk.say(f"报名 {event_id}")
    assert "已报名" in again and code in again
    assert len(signups(services, event_id)) == 1


def test_refusals(talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock) -> None:
    draft = make_event(publish=False)
    closed = make_event(signup_deadline=clock.now + timedelta(hours=1))
    called_off = make_event(title="取消的活动")
    with services.session_factory() as db, db.begin():
        cancel_event(db, called_off, "下雨", clock.now, services.handler_settings.timezone)
    clock.advance(hours=2)
    assert "没有编号为 999 的" in talk.say("报名 999")
    assert f"没有编号为 {draft} 的" in talk.say(f"报名 {draft}")
    assert "已于 2026-05-01 11:00 截止" in talk.say(f"报名 {closed}")
    assert "已取消" in talk.say(f"报名 {called_off}")
    assert "请发送活动编号" in talk.say("报名 x")
    assert "请发送活动编号" in talk.say("报名")
    detail = talk.say(f"活动 {called_off}")
    assert "已取消：下雨" in detail and "报名 " not in detail
    assert signups(services, draft) == signups(services, closed) == []


def test_event_cancelled_during_the_questions(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(max_party_size=3)
    talk.say(f"报名 {event_id}")
    with services.session_factory() as db, db.begin():
        cancel_event(db, event_id, "场地维修", clock.now, services.handler_settings.timezone)
    assert "已取消" in talk.say("2")
    assert signups(services, event_id) == []


# Cancelling and promotion ----------------------------------------------------------------


def test_cancel_promotes_the_first_in_line(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=2, max_party_size=2)
    talk.say(f"报名 {event_id} 1")
    fill(services, clock, event_id, 1)
    small = talk.as_resident("o-small")
    small.say(f"报名 {event_id} 1")
    assert "第 1 位" in small.say("是")
    big = talk.as_resident("o-big")
    big.say(f"报名 {event_id} 2")
    assert "第 2 位" in big.say("是")

    assert "已取消您对活动" in talk.say(f"取消报名 {event_id}")
    by_resident = {s.resident_id: s for s in signups(services, event_id)}
    assert by_resident[resident(services, talk.openid).id].status == SignupStatus.CANCELLED
    promoted = by_resident[resident(services, "o-small").id]
    waiting = by_resident[resident(services, "o-big").id]
    assert promoted.status == SignupStatus.CONFIRMED and promoted.waitlist_position is None
    assert waiting.status == SignupStatus.WAITLISTED and waiting.waitlist_position == 1
    [push] = pushes(services)
    assert push.kind == "promotion" and push.idempotency_key == f"promotion:{promoted.id}"
    assert push.recipient_openid == "o-small"
    assert promoted.checkin_code in push.payload["text"]["zh"]
    assert "2026-05-03 10:00" in push.payload["text"]["en"]
    assert push.expires_at == clock.now + timedelta(days=2)
    assert "已确认" in small.say("我的活动")


def test_cancel_from_the_waitlist_renumbers(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=1)
    fill(services, clock, event_id, 4)
    first_waiting = talk.as_resident(f"o-filler-{event_id}-1")
    first_waiting.say(f"cancel {event_id}")
    positions = [
        s.waitlist_position
        for s in signups(services, event_id)
        if s.status == SignupStatus.WAITLISTED
    ]
    assert positions == [1, 2]
    assert pushes(services) == []


def test_sign_up_again_after_cancelling(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    event_id = make_event()
    talk.say(f"报名 {event_id}")
    talk.say(f"取消报名 {event_id}")
    assert "报名成功" in talk.say(f"报名 {event_id}")
    assert [s.status for s in signups(services, event_id)] == [
        SignupStatus.CANCELLED,
        SignupStatus.CONFIRMED,
    ]
    assert "已确认" in talk.say("我的活动")


def test_cancel_refusals(talk: Talk, make_event: MakeEvent, clock: FakeClock) -> None:
    event_id = make_event(starts_at=clock.now + timedelta(hours=3), ends_at=None)
    assert "没有报名活动" in talk.say(f"取消报名 {event_id}")
    assert "没有编号为 999 的" in talk.say("取消报名 999")
    assert "请发送活动编号" in talk.say("取消报名 abc")
    talk.say(f"报名 {event_id}")
    clock.advance(hours=4)
    assert "已开始" in talk.say(f"取消报名 {event_id}")


# My events ---------------------------------------------------------------------------------


def test_my_events(talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock) -> None:
    assert "还没有报名" in talk.say("我的活动")
    going = make_event(title="去的活动")
    full = make_event(title="满的活动", capacity=1)
    dropped = make_event(title="不去的活动")
    fill(services, clock, full, 1)
    talk.say(f"报名 {going}")
    talk.say(f"报名 {full}")
    talk.say("是")
    talk.say(f"报名 {dropped}")
    talk.say(f"取消报名 {dropped}")
    mine = talk.say("我的活动")
    code = signups(services, going)[0].checkin_code
    assert f"去的活动\n   2026-05-03 10:00–12:00 · 已确认，1 人，签到码 {code}" in mine
    assert "满的活动" in mine and "候补第 1 位" in mine
    assert "不去的活动" in mine and "已取消报名" in mine
    assert talk.tap("MY_EVENTS") == mine
    talk.say("English")
    assert "waitlist position 1" in talk.say("my events")


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
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=2)
    fill(services, clock, event_id, 1)
    clock.advance(days=2, minutes=-30)
    assert "现场参加" in talk.event("SCAN", f"checkin:{event_id}")
    late = talk.as_resident("o-late")
    assert "名额已满" in late.event("SCAN", f"checkin:{event_id}")
    with services.session_factory() as db:
        rows = db.execute(select(Attendance)).scalars().all()
    assert [(row.walk_in, row.signup_id) for row in rows] == [(True, None)]
    # A walk-in holds a place, so the sign-up that would need it waits.
    newcomer = talk.as_resident("o-new")
    assert "名额已满" in newcomer.say(f"报名 {event_id}")


def test_new_follower_scanning_is_welcomed_and_checked_in(
    talk: Talk, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event()
    clock.advance(days=2)
    reply = talk.event("subscribe", f"qrscene_checkin:{event_id}")
    assert "现场参加" in reply and "欢迎关注" in reply


def test_scan_refusals(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event()
    draft = make_event(publish=False)
    assert "签到将于 2026-05-03 08:00 开始" in talk.event("SCAN", f"checkin:{event_id}")
    assert "二维码无效" in talk.event("SCAN", "checkin:abc")
    assert "二维码无效" in talk.event("SCAN", "checkin:999")
    assert "二维码无效" in talk.event("SCAN", f"checkin:{draft}")
    clock.advance(days=2, hours=5)
    assert "签到已结束" in talk.event("SCAN", f"checkin:{event_id}")
    with services.session_factory() as db, db.begin():
        cancel_event(
            db,
            make_event(starts_at=clock.now + timedelta(hours=1)),
            "停电",
            clock.now,
            services.handler_settings.timezone,
        )
        cancelled = db.execute(select(Event.id).where(Event.status == "cancelled")).scalar_one()
    assert "已取消" in talk.event("SCAN", f"checkin:{cancelled}")
    with services.session_factory() as db:
        assert db.execute(select(Attendance)).scalars().all() == []


def test_contact_saved_before_is_reused_directly(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(contact_required=True)
    with services.session_factory() as db, db.begin():
        person = get_or_create_resident(db, talk.openid, clock.now)
        save_contact(person, "赵六", "13700000000", clock.now)
    assert "报名成功" in talk.say(f"报名 {event_id}")


def test_turning_pages_back_and_past_the_ends(
    talk: Talk, make_event: MakeEvent, clock: FakeClock
) -> None:
    for i in range(6):
        make_event(title=f"活动{i}", starts_at=clock.now + timedelta(days=i + 1), ends_at=None)
    first = talk.say("活动")
    assert "第 2 页" in talk.say("下一页")
    assert talk.say("下一页") == "这已是最后一页。发送“上一页”返回，“活动 N”查看详情。"
    assert talk.say("上一页") == first
    assert talk.say("返回") == "这已是第一页。发送“下一页”查看更多。"
    talk.say("English")
    talk.say("events")
    assert "page 2" in talk.say("more")
    assert "page 1" in talk.say("back")
    assert "我的需求" not in talk.say("我的活动")
    assert talk.say("下一页") == "No list is open now. Send 'events' to see the events."


def test_an_unknown_qr_code_is_answered(chat: Chat) -> None:
    assert scan(chat, "poster:spring") == (
        "这个二维码不是爱乡的签到码，或已经失效。发送“活动”查看近期活动，“帮助”查看全部功能。"
    )


def test_scanning_early_without_signing_up_is_told_how_to_sign_up(
    talk: Talk, make_event: MakeEvent
) -> None:
    event_id = make_event()
    assert talk.event("SCAN", f"checkin:{event_id}") == (
        "活动“社区花园共建”的签到将于 2026-05-03 08:00 开始。\n"
        f"您还没有报名：发送“报名 {event_id}”报名。"
    )
    talk.say(f"报名 {event_id}")
    assert talk.event("SCAN", f"checkin:{event_id}") == (
        "活动“社区花园共建”的签到将于 2026-05-03 08:00 开始。"
    )


def test_a_party_larger_than_the_places_left_is_offered_them_or_the_waitlist(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=3, max_party_size=3)
    fill(services, clock, event_id, 1)
    offer = (
        "活动“社区花园共建”只剩 2 个名额，坐不下您的 3 人。"
        "回复“1”：以 2 人报名；回复“2”：3 人一起排候补；回复“否”：不报名。"
    )
    talk.verify([(f"报名 {event_id} 3", offer), ("3", "请回复“1”“2”或“否”。")])
    assert "人数：2" in talk.say("1")
    assert [s.party_size for s in signups(services, event_id)] == [1, 2]

    talk.say(f"取消报名 {event_id}")
    waiting = talk.as_resident("o-party")
    assert waiting.say(f"报名 {event_id} 3") == offer
    assert "排第 1 位" in waiting.say("2")
    # The two places left wait for the party: a single who comes later queues behind it.
    assert "已满，可排候补" in talk.say("活动")
    talk.say(f"报名 {event_id} 1")
    assert "排第 2 位" in talk.say("是")
    filler = talk.as_resident(f"o-filler-{event_id}-0")
    filler.say(f"取消报名 {event_id}")
    by_resident = {s.resident_id: s for s in signups(services, event_id)}
    assert by_resident[resident(services, "o-party").id].status == SignupStatus.CONFIRMED
    assert by_resident[resident(services, talk.openid).id].waitlist_position == 1


def test_a_party_offered_the_places_left_in_english(
    talk: Talk, services: Services, make_event: MakeEvent, clock: FakeClock
) -> None:
    event_id = make_event(capacity=2, max_party_size=2)
    fill(services, clock, event_id, 1)
    talk.say("English")
    assert talk.say(f"signup {event_id} 2") == (
        "Only 1 place is left for '社区花园共建', not enough for your 2 people. Reply '1' to"
        " come as 1, '2' to wait together for 2 places, 'no' to stop."
    )
    assert "waitlist at position 1" in talk.say("waitlist")
