"""Never drop what a resident gave, always say what happened (issue #13).

A draft set aside when the resident goes elsewhere mid-flow, and picked up again by the
command that starts it; a command word typed alone at a free-text step, asked about; a
photo or a place sent with no draft open, offered as a need. Handler-level transcripts,
with one test through the real webhook."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.services import Services
from bot.webhook_services import WebhookServices
from handlers.flows import Draft, Flow, Step
from handlers.message import Reply
from models import InboundMessage, Need, NeedPhoto
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.events import MakeEvent
from tests.helpers import count
from tests.transcript import Talk

CATEGORIES = (
    "请选择需求类别（回复数字或名称）：\n1. 教育\n2. 环境卫生\n3. 基础设施\n4. 就业技能\n"
    "5. 老人儿童\n6. 其他\n随时发送“退出”可放弃。"
)
CONSENT = (
    "提交需求前请知悉：我们会保存您填写的内容、照片和位置，仅用于处理您的需求和统计社区需求，"
    "您可随时发送“删除我的信息”删除。同意请回复“同意”，不同意请回复“不同意”。"
)
DESCRIBE = "类别：环境卫生。请用文字（或语音）描述您的需求，1000 字以内。回复“返回”重新选择类别。"
PHOTOS = "可以发送最多 3 张照片（可选）。发完回复“完成”，不需要照片回复“跳过”；回复“返回”修改描述。"
MORE_PHOTOS = (
    "草稿中已有 1 张照片，还可以继续发送（最多 3 张，可选）。发完回复“完成”；回复“返回”修改描述。"
)
PLACE = (
    "需求在哪里？可以发送位置（对话框“+”→位置），或输入村/小区/地址；不需要请回复“跳过”，"
    "回复“返回”回到上一步。"
)
KEPT = "您的需求草稿已保存（30 分钟内有效），发送“需求”可从刚才的地方继续填写。"
EXPIRED = "您的需求草稿超过 30 分钟没有回复，已过期，没有保存任何内容。发送“需求”重新开始。"
RESUMED = "接着刚才的地方继续："
NO_EVENTS = "近期暂无可报名的活动，敬请关注。"
NO_NEEDS = "您还没有提交过需求。发送“需求”提交一个。"


def summary(text: str, photos: int, place: str, category: str = "环境卫生") -> str:
    return (
        f"请确认您的需求：\n类别：{category}\n描述：{text}\n照片：{photos} 张\n地点：{place}\n"
        "回复“确认”提交，“返回”修改地点，“退出”放弃。"
    )


def command_or(word: str, answer: str) -> str:
    return (
        f"“{word}”也是一个命令。是要执行“{word}”（已填写的内容会保留），还是把“{word}”作为"
        f"{answer}？\n回复 1：执行“{word}”\n回复 2：作为{answer}"
    )


def offer(photos: int, place: str) -> str:
    return (
        f"收到。要用它提交一条社区需求吗？目前有照片 {photos} 张，地点：{place}。\n"
        "回复“是”开始填写（照片和位置会一并附上），回复“否”则不保留。"
    )


def up_to_photos(talk: Talk) -> None:
    talk.verify([("需求", CONSENT), ("同意", CATEGORIES), ("2", DESCRIBE), ("垃圾桶满了", PHOTOS)])


def photos_of_the_need(services: Services) -> list[tuple[str, str]]:
    with services.session_factory() as db:
        photos = db.execute(select(NeedPhoto).order_by(NeedPhoto.position)).scalars()
        return [(photo.media_id, photo.pic_url) for photo in photos]


# A menu tap mid-draft ----------------------------------------------------------------------


def test_a_menu_tap_keeps_the_need_draft_photos_and_all(talk: Talk, services: Services) -> None:
    up_to_photos(talk)
    assert talk.image("m-1", "http://pic/1") == (
        "已收到第 1 张照片（最多 3 张）。继续发送，或回复“完成”。"
    )
    assert talk.tap("EVENTS") == f"{NO_EVENTS}\n\n{KEPT}"
    assert talk.tap("MY_NEEDS") == NO_NEEDS, "the draft is said to be kept once, when set aside"
    talk.verify(
        [
            ("需求", f"{RESUMED}\n{MORE_PHOTOS}"),
            ("完成", PLACE),
            ("跳过", summary("垃圾桶满了", 1, "（无）")),
        ]
    )
    assert "N-000001" in talk.say("确认")
    assert photos_of_the_need(services) == [("m-1", "http://pic/1")]


def test_tapping_new_need_mid_draft_continues_it(talk: Talk) -> None:
    up_to_photos(talk)
    assert talk.tap("NEED_NEW") == f"{RESUMED}\n{PHOTOS}"
    assert talk.say("完成") == PLACE


def test_a_kept_draft_past_the_ttl_is_said_to_have_expired(
    talk: Talk, clock: FakeClock, services: Services
) -> None:
    up_to_photos(talk)
    assert talk.tap("HELP").endswith(f"\n\n{KEPT}")
    clock.advance(minutes=31)
    talk.verify([("需求", EXPIRED), ("需求", CATEGORIES)])
    assert count(services, Need) == 0


def test_a_tap_after_the_ttl_says_the_draft_expired(talk: Talk, clock: FakeClock) -> None:
    up_to_photos(talk)
    clock.advance(minutes=31)
    assert talk.tap("MY_NEEDS") == f"{NO_NEEDS}\n\n{EXPIRED}"
    assert talk.say("需求") == CATEGORIES


def test_redis_keeps_a_set_aside_draft_past_the_ttl_to_say_it_expired(
    talk: Talk, services: WebhookServices
) -> None:
    up_to_photos(talk)
    key = services.sessions.key(talk.openid)
    assert 0 < services.redis.ttl(key) <= 1800
    talk.tap("EVENTS")
    assert services.redis.ttl(key) > 1800


def test_the_kept_line_in_english(talk: Talk) -> None:
    for said in ("English", "need", "yes", "2"):
        talk.say(said)
    assert talk.tap("EVENTS").endswith(
        "\n\nYour need draft is kept for 30 minutes: send 'need' to pick up where you left off."
    )
    assert talk.say("need").startswith("Picking up where you left off:\nCategory: environment")


def test_erasing_my_data_drops_the_drafts_kept(talk: Talk) -> None:
    up_to_photos(talk)
    talk.tap("EVENTS")
    talk.say("删除我的信息")
    assert "删除" in talk.say("是")
    assert talk.say("需求") == CONSENT


def test_a_menu_tap_keeps_a_sign_up_and_signup_n_continues_it(
    talk: Talk, make_event: MakeEvent
) -> None:
    first = make_event(contact_required=True)
    second = make_event(title="第二个活动", contact_required=True)
    ask_name = "活动“社区花园共建”需要登记联系方式。请回复您的姓名（发送“退出”可放弃）。"
    ask_mobile = "请回复您的手机号（11 位）。"
    kept = (
        f"您对活动 {first} 的报名尚未完成，已为您保存（30 分钟内有效），发送“报名 {first}”可继续。"
    )
    talk.verify([(f"报名 {first}", ask_name), ("张三", ask_mobile)])
    assert talk.tap("HELP").endswith(f"\n\n{kept}")
    assert talk.say(f"报名 {second}").startswith("活动“第二个活动”需要登记联系方式")
    assert talk.tap("MY_EVENTS").endswith("发送“报名 2”可继续。")
    assert talk.say(f"报名 {first}") == f"{RESUMED}\n{ask_mobile}"
    assert "张三" in talk.say("13800138000")


# A command word typed mid-draft ------------------------------------------------------------


def test_a_command_word_where_a_choice_is_asked_runs_with_the_draft_kept(talk: Talk) -> None:
    talk.verify(
        [
            ("需求", CONSENT),
            ("同意", CATEGORIES),
            ("活动", f"{NO_EVENTS}\n\n{KEPT}"),
            ("需求", f"{RESUMED}\n{CATEGORIES}"),
            ("我的需求！", f"{NO_NEEDS}\n\n{KEPT}"),
            ("需求", f"{RESUMED}\n{CATEGORIES}"),
            ("需求", f"{RESUMED}\n{CATEGORIES}"),
            ("2", DESCRIBE),
        ]
    )


def test_a_command_word_at_the_party_size_keeps_the_sign_up(
    talk: Talk, make_event: MakeEvent
) -> None:
    event_id = make_event(max_party_size=4)
    ask_party = talk.say(f"报名 {event_id}")
    assert talk.say("我的活动") == (
        f"{talk.as_resident('o-other').say('我的活动')}\n\n"
        f"您对活动 {event_id} 的报名尚未完成，已为您保存（30 分钟内有效），"
        f"发送“报名 {event_id}”可继续。"
    )
    assert talk.say(f"报名 {event_id}") == f"{RESUMED}\n{ask_party}"


def test_a_command_word_as_the_place_is_asked_about_and_2_takes_it(talk: Talk) -> None:
    up_to_photos(talk)
    talk.verify(
        [
            ("完成", PLACE),
            ("活动", command_or("活动", "地点")),
            ("2", summary("垃圾桶满了", 0, "活动")),
        ]
    )


def test_a_command_word_as_the_description_and_1_runs_it_keeping_the_draft(talk: Talk) -> None:
    talk.verify(
        [
            ("需求", CONSENT),
            ("同意", CATEGORIES),
            ("2", DESCRIBE),
            ("我的活动", command_or("我的活动", "需求描述")),
            ("1", f"{talk.as_resident('o-other').say('我的活动')}\n\n{KEPT}"),
            ("需求", f"{RESUMED}\n{DESCRIBE}"),
            ("村口路灯坏了", PHOTOS),
        ]
    )


def test_anything_else_after_the_question_is_the_answer_as_usual(talk: Talk) -> None:
    up_to_photos(talk)
    talk.verify(
        [
            ("完成", PLACE),
            ("活动！", command_or("活动！", "地点")),
            ("我的活动", command_or("我的活动", "地点")),
            ("村口大树下", summary("垃圾桶满了", 0, "村口大树下")),
        ]
    )


def test_help_while_asked_asks_the_same_question_again(talk: Talk) -> None:
    up_to_photos(talk)
    talk.say("完成")
    talk.say("活动")
    assert talk.say("帮助").endswith(f"\n\n{command_or('活动', '地点')}")
    assert talk.say("1").endswith(f"\n\n{KEPT}")
    assert talk.say("需求") == f"{RESUMED}\n{PLACE}"


def test_a_spoken_command_word_at_a_free_text_step_is_asked_about(talk: Talk) -> None:
    up_to_photos(talk)
    talk.say("完成")
    assert talk.speak("活动。") == command_or("活动", "地点")
    assert talk.say("2") == summary("垃圾桶满了", 0, "活动")


def test_the_question_in_english(talk: Talk) -> None:
    for said in ("English", "need", "yes", "2"):
        talk.say(said)
    assert talk.say("events") == (
        "'events' is also a command. Run 'events' (what you filled in is kept), or take 'events' "
        "as the description?\nReply 1 to run 'events'\nReply 2 to take it as the description"
    )


def test_a_sign_up_name_that_is_a_command_word(talk: Talk, make_event: MakeEvent) -> None:
    event_id = make_event(contact_required=True)
    talk.say(f"报名 {event_id}")
    assert talk.say("活动") == command_or("活动", "姓名")
    assert talk.say("2") == "请回复您的手机号（11 位）。"


# A photo or a place with no draft open -----------------------------------------------------


def test_a_photo_on_its_own_is_offered_as_a_need_and_goes_with_it(
    talk: Talk, services: Services
) -> None:
    assert talk.image("m-1", "http://pic/1") == offer(1, "（无）")
    assert talk.image("m-2", "http://pic/2") == (
        f"已收到照片（草稿中共 2 张）。\n{offer(2, '（无）')}"
    )
    talk.verify(
        [
            ("是", CONSENT),
            ("同意", CATEGORIES),
            ("2", DESCRIBE),
            ("垃圾桶满了", MORE_PHOTOS.replace("1 张", "2 张")),
            ("完成", PLACE),
            ("跳过", summary("垃圾桶满了", 2, "（无）")),
        ]
    )
    assert "N-000001" in talk.say("确认")
    assert photos_of_the_need(services) == [("m-1", "http://pic/1"), ("m-2", "http://pic/2")]


def test_a_place_on_its_own_is_offered_and_becomes_the_need_s_place(talk: Talk) -> None:
    assert talk.location(30.27, 120.15, "下沙村村口") == offer(0, "下沙村村口")
    talk.verify(
        [
            ("是", CONSENT),
            ("同意", CATEGORIES),
            ("2", DESCRIBE),
            ("垃圾桶满了", PHOTOS),
            ("完成", summary("垃圾桶满了", 0, "下沙村村口")),
        ]
    )


def test_no_to_the_offer_keeps_nothing_and_says_so(talk: Talk, services: Services) -> None:
    talk.image("m-1", "http://pic/1")
    talk.verify([("想想", "请回复“是”用它开始提交需求，或回复“否”不保留。")])
    talk.verify([("否", "好的，您发送的照片和位置没有保留。")])
    assert talk.say("需求") == CONSENT, "nothing of the photo is left to pick up"
    assert count(services, Need) == 0 and count(services, NeedPhoto) == 0


def test_an_offer_left_unanswered_writes_nothing(
    talk: Talk, services: Services, clock: FakeClock
) -> None:
    talk.image("m-1", "http://pic/1")
    clock.advance(minutes=31)
    assert talk.say("是") == EXPIRED
    assert count(services, Need) == 0 and count(services, NeedPhoto) == 0


def test_a_photo_while_a_draft_is_kept_goes_into_that_draft(talk: Talk) -> None:
    up_to_photos(talk)
    talk.tap("EVENTS")
    assert talk.image("m-1", "http://pic/1") == f"已收到照片（草稿中共 1 张）。\n{MORE_PHOTOS}"
    # The draft is open again: the photo step takes a place as moving on to the summary.
    assert talk.location(30.27, 120.15, "村口") == summary("垃圾桶满了", 1, "村口")


def test_a_place_while_a_draft_is_kept_goes_into_that_draft(talk: Talk) -> None:
    up_to_photos(talk)
    talk.tap("EVENTS")
    assert talk.location(30.27, 120.15, "村口") == (
        f"已收到位置，作为需求地点。\n{summary('垃圾桶满了', 0, '村口')}"
    )


def test_a_photo_without_a_media_id_is_not_offered(talk: Talk) -> None:
    assert talk.image("", "") == "这里只能接收照片、文字、语音和位置，这类消息暂不支持。"
    assert talk.say("是") != CONSENT


# Through the webhook -----------------------------------------------------------------------


def test_through_the_webhook_a_tap_keeps_the_draft_and_a_photo_is_offered(
    chat: Chat, services: Services
) -> None:
    chat.say("需求")
    chat.say("同意")
    chat.say("2")
    assert chat.tap("EVENTS") == f"{NO_EVENTS}\n\n{KEPT}"
    assert chat.say("需求") == f"{RESUMED}\n{DESCRIBE}"
    chat.say("退出")
    assert chat.send(chat.payloads.image(chat.openid, "m-9", "http://pic/9")) == offer(1, "（无）")
    assert chat.say("否") == "好的，您发送的照片和位置没有保留。"
    assert count(services, Need) == 0
    assert count(services, InboundMessage) == 8


def test_a_flow_with_a_free_text_step_must_keep_its_draft() -> None:
    """Asking about a command word offers to run it with the draft kept: a flow that could
    not keep it would lose the draft by that very offer."""
    step = Step("toy.text", lambda message, ctx, draft: Reply(""), lambda ctx, draft: "?")
    free = replace(step, free_text=lambda ctx: "the text")
    Flow(Draft, (step,), expired=lambda ctx, draft: "expired")
    with pytest.raises(ValueError, match="must keep its draft"):
        Flow(Draft, (free,), expired=lambda ctx, draft: "expired")


def test_cancel_where_yes_or_no_is_asked_is_a_no_not_the_sign_up_command(talk: Talk) -> None:
    declined = talk.as_resident("o-other")
    declined.say("需求")
    refused = declined.say("不同意")
    talk.verify([("需求", CONSENT), ("cancel", refused)])
    talk.verify([("需求", CONSENT), ("取消", refused)])
