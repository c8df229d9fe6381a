"""Residents submit and follow needs by chat, as handler-level transcripts.

Through the real signed webhook: one whole need with photos and a place (the wiring of
each message type), and erasure, which also blanks the stored messages."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.services import Services
from bot.wechat.protocol import to_message
from handlers.message import Location
from models import InboundMessage, Need, NeedHistory, NeedPhoto, OutboxMessage, Resident
from models.audit import Actor
from models.needs.queries import get_need
from models.needs.tables import PhotoStatus
from models.needs.transitions import change_status
from models.partners import add_partner
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.helpers import count, pushes, resident
from tests.transcript import Says, Talk


def only_need(services: Services) -> Need:
    with services.session_factory() as db:
        return db.execute(select(Need)).scalar_one()


def start(chat: Says) -> str:
    """Open the flow and agree to the privacy notice; returns the category prompt."""
    assert "同意" in chat.say("需求")
    return chat.say("同意")


def submit(chat: Says, category: str = "2", text: str = "村口垃圾桶满了没人清") -> str:
    """A whole need without photos or place, as quickly as a resident can."""
    first = chat.say("需求")
    if "同意" in first and "类别" not in first:
        chat.say("同意")
    chat.say(category)
    chat.say(text)
    chat.say("跳过")
    chat.say("跳过")
    return chat.say("确认")


def test_whole_flow_with_photos_and_location(chat: Chat, services: Services) -> None:
    consent = chat.say("需求")
    assert "删除我的信息" in consent and "同意" in consent
    assert count(services, Need) == 0
    prompt = chat.say("同意")
    assert "1. 教育" in prompt and "6. 其他" in prompt
    assert "环境卫生" in chat.say("2")
    assert "照片" in chat.say("村口垃圾桶满了，三天没人清理")
    assert "第 1 张" in chat.send(chat.payloads.image(chat.openid, "media-1", "http://pic/1"))
    assert "第 2 张" in chat.send(chat.payloads.image(chat.openid, "media-2", "http://pic/2"))
    assert "位置" in chat.say("完成")
    summary = chat.send(chat.payloads.location(chat.openid, 30.27, 120.15, "下沙村村口"))
    assert "环境卫生" in summary and "三天没人清理" in summary
    assert "照片：2 张" in summary and "地点：下沙村村口\n" in summary
    assert "30.27" not in summary, "a labelled place shows its label, not coordinates"
    assert count(services, Need) == 0
    done = chat.say("确认")
    assert "N-000001" in done

    need = only_need(services)
    assert need.category == "environment"
    assert need.description == "村口垃圾桶满了，三天没人清理"
    assert need.status == "submitted"
    assert (need.place, need.latitude, need.longitude) == ("下沙村村口", 30.27, 120.15)
    with services.session_factory() as db:
        photos = db.execute(select(NeedPhoto).order_by(NeedPhoto.position)).scalars().all()
        history = db.execute(select(NeedHistory)).scalars().all()
    assert [(p.media_id, p.pic_url, p.status) for p in photos] == [
        ("media-1", "http://pic/1", "pending"),
        ("media-2", "http://pic/2", "pending"),
    ]
    assert [(h.from_status, h.to_status, h.by) for h in history] == [
        (None, "submitted", "resident")
    ]
    assert resident(services, chat.openid).privacy_consent_at is not None
    assert count(services, OutboxMessage) == 0
    assert "没有进行中的对话" in chat.say("退出")


def test_menu_starts_the_flow_and_consent_is_asked_once(talk: Talk, services: Services) -> None:
    assert "同意" in talk.tap("NEED_NEW")
    talk.say("好")
    talk.say("退出")
    assert "请选择需求类别" in talk.tap("NEED_NEW")
    talk.say("退出")
    assert "请选择需求类别" in talk.say("need")


def test_declining_consent_keeps_nothing(talk: Talk, services: Services) -> None:
    talk.say("需求")
    assert "没有保存任何内容" in talk.say("不同意")
    assert count(services, Need) == 0
    assert resident(services, talk.openid).privacy_consent_at is None
    assert "同意" in talk.say("需求")
    assert "请回复“同意”或“不同意”" in talk.say("什么意思")


def test_category_by_name_in_both_languages(talk: Talk) -> None:
    start(talk)
    assert "类别：老人儿童" in talk.say("老人儿童")
    assert "请选择需求类别" in talk.say("返回")
    assert "类别：就业技能" in talk.say("Jobs and Skills")
    talk.say("返回")
    assert "类别：教育" in talk.say("education")


def test_unknown_category_is_refused_and_the_step_repeats(talk: Talk) -> None:
    start(talk)
    assert "没有这个类别" in talk.say("7")
    assert "1–6" in talk.say("天气")
    assert "没有这个类别" in talk.image("m", "http://p")
    assert "基础设施" in talk.say("3")


def test_empty_and_overlong_text(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("1")
    assert "不能为空" in talk.say("跳过")
    assert "没能听清" in talk.speak("")
    refused = talk.say("很" * 1001)
    assert "1001" in refused and "1000 字以内" in refused
    assert "照片" in talk.say("好" * 1000)
    talk.say("跳过")
    talk.say("跳过")
    talk.say("确认")
    assert len(only_need(services).description or "") == 1000


def test_voice_recognition_is_the_description(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("3")
    assert "照片" in talk.speak("路灯坏了。")
    talk.say("跳过")
    talk.say("老街 12 号")
    talk.say("确认")
    need = only_need(services)
    assert (need.description, need.place, need.latitude) == ("路灯坏了。", "老街 12 号", None)


def test_a_need_can_be_given_by_voice_from_start_to_end(talk: Talk, services: Services) -> None:
    assert "同意" in talk.speak("需求。")
    assert "类别" in talk.speak("同意。")
    assert "描述" in talk.speak("基础设施。")
    assert "照片" in talk.speak("路灯坏了。")
    assert "位置" in talk.speak("跳过。")
    assert "确认" in talk.speak("老街十二号。")
    assert "N-" in talk.speak("确认。")
    need = only_need(services)
    assert (need.category, need.description, need.place) == (
        "infrastructure",
        "路灯坏了。",
        "老街十二号",
    )
    assert "确认删除" in talk.speak("删除我的信息。")
    assert "没有删除" in talk.speak("不。")


def test_unsupported_media_at_each_step(talk: Talk, services: Services) -> None:
    video = talk.message("video", media_id="v1")
    start(talk)
    talk.say("1")
    assert "文字描述" in talk.image("m", "http://p")
    assert "文字描述" in talk.send(video)
    talk.say("学校缺图书")
    video2 = talk.message("video", media_id="v2")
    assert "暂不支持" in talk.send(video2)
    talk.say("完成")
    video3 = talk.message("shortvideo", media_id="v3")
    assert "暂不支持" in talk.send(video3)
    assert "照片步骤已经过了" in talk.image("late", "http://p")
    talk.say("跳过")
    assert "回复“确认”提交" in talk.image("m9", "http://p")
    talk.say("确认")
    assert count(services, NeedPhoto) == 0


def test_photo_beyond_the_limit(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("1")
    talk.say("教室漏雨")
    for number in (1, 2):
        talk.image(f"m{number}", f"http://p/{number}")
    third = talk.image("m3", "http://p/3")
    assert "已达上限" in third and "位置" in third
    assert "最多只能添加 3 张照片" in talk.image("m4", "http://p")
    talk.say("跳过")
    talk.say("确认")
    with services.session_factory() as db:
        media = db.execute(select(NeedPhoto.media_id).order_by(NeedPhoto.position)).scalars()
        assert list(media) == ["m1", "m2", "m3"]


def test_overlong_place_and_going_back(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("1")
    talk.say("第一次描述")
    assert "请用文字" in talk.say("返回")
    assert "请选择需求类别" in talk.say("返回")
    talk.say("1")
    talk.say("第二次描述")
    talk.say("完成")
    assert "200 字以内" in talk.say("村" * 201)
    talk.say("东村")
    assert "回复“确认”提交" in talk.say("嗯")
    assert "需求在哪里" in talk.say("返回")
    summary = talk.say("西村")
    assert "西村" in summary and "第二次描述" in summary
    talk.say("确认")
    need = only_need(services)
    assert (need.description, need.place) == ("第二次描述", "西村")


def test_help_and_language_mid_draft_keep_the_draft(talk: Talk, services: Services) -> None:
    """Every step answers 帮助 and English without taking them as its answer, then asks
    its own question again; the draft carries on."""
    start(talk)
    assert talk.say("帮助").endswith("6. 其他\n随时发送“退出”可放弃。")
    talk.say("1")
    assert talk.say("help").endswith("回复“返回”重新选择类别。")
    english = talk.say("English")
    assert english.startswith("Switched to English.\n\nCategory: ")
    assert english.endswith("Reply 'back' to choose another category.")
    talk.say("学校没有美术老师")
    chinese = talk.say("中文")
    assert chinese.startswith("已切换为中文。\n\n可以发送最多")
    assert chinese.endswith("回复“返回”修改描述。")
    talk.say("完成")
    assert talk.say("帮助").endswith("回复“返回”回到上一步。")
    # "Done" typed again at the place question means no place, not a place called so.
    assert "地点：（无）" in talk.say("完成")
    assert talk.say("help").endswith("回复“确认”提交，“返回”修改地点，“退出”放弃。")
    talk.say("确认")
    need = only_need(services)
    assert (need.description, need.place) == ("学校没有美术老师", None)
    assert resident(services, talk.openid).language == "zh"


def test_consent_and_erase_questions_are_asked_again_after_help(talk: Talk) -> None:
    consent = talk.say("需求")
    assert talk.say("帮助").endswith(f"\n\n{consent}")
    talk.say("不同意")
    erase = talk.say("删除我的信息")
    assert talk.say("help").endswith(f"\n\n{erase}")
    assert "没有删除" in talk.say("否")


def test_exit_mid_flow_drops_the_draft(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("1")
    talk.say("学校缺图书")
    talk.image("m1", "http://p/1")
    assert "已退出" in talk.say("退出")
    assert count(services, Need) == 0 and count(services, NeedPhoto) == 0
    assert talk.say("确认").startswith("抱歉，没有看懂")


def test_no_at_confirmation_drops_the_draft(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("1")
    talk.say("学校缺图书")
    talk.say("跳过")
    talk.say("跳过")
    assert "已放弃" in talk.say("不")
    assert count(services, Need) == 0


def test_a_menu_tap_leaves_the_draft(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("1")
    assert "还没有提交过需求" in talk.tap("MY_NEEDS")
    assert talk.say("学校缺图书").startswith("抱歉，没有看懂")
    assert count(services, Need) == 0


def test_a_draft_left_for_the_flow_ttl_expires(
    talk: Talk, services: Services, clock: FakeClock
) -> None:
    start(talk)
    talk.say("1")
    talk.say("学校缺图书")
    clock.advance(seconds=services.config.bot.flow_ttl_s - 1)
    assert "位置" in talk.say("跳过")
    clock.advance(seconds=services.config.bot.flow_ttl_s + 1)
    expired = talk.say("跳过")
    assert "已过期" in expired and "30 分钟" in expired
    assert talk.say("确认").startswith("抱歉，没有看懂")
    assert count(services, Need) == 0


def test_help_after_the_draft_expired_says_it_expired(
    talk: Talk, services: Services, clock: FakeClock
) -> None:
    start(talk)
    talk.say("1")
    clock.advance(seconds=services.config.bot.flow_ttl_s + 1)
    helped = talk.say("帮助")
    assert "我的需求" in helped and "已过期" in helped
    assert talk.say("学校缺图书").startswith("抱歉，没有看懂")
    assert count(services, Need) == 0


def test_a_draft_gone_from_redis_creates_nothing(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("1")
    talk.say("学校缺图书")
    services.redis.delete(f"aixiang:flow:{talk.openid}")
    assert talk.say("跳过").startswith("抱歉，没有看懂")
    assert count(services, Need) == 0


def test_english_flow(talk: Talk, services: Services) -> None:
    talk.verify(
        [
            ("English", "Switched to English."),
            (
                "need",
                "Before you submit: we keep what you write, your photos and the place, only"
                " to handle your need and count community needs; send 'delete my data' any"
                " time to erase them. Reply 'yes' to agree or 'no' to decline.",
            ),
            (
                "yes",
                "Which kind of need is it? Reply with a number or a name:\n1. education\n"
                "2. environment and waste\n3. infrastructure\n4. jobs and skills\n"
                "5. elderly and children\n6. other\nSend 'exit' any time to stop.",
            ),
            (
                "environment and waste",
                "Category: environment and waste. Please describe the need in words (or a"
                " voice message), up to 1000 characters. Reply 'back' to choose another"
                " category.",
            ),
            (
                "Rubbish by the gate",
                "You may send up to 3 photos (optional). Reply 'done' when finished or"
                " 'skip' for none; 'back' to change the description.",
            ),
            (
                "skip",
                "Where is it? Send a location (the '+' button, then Location) or type a"
                " village or address; reply 'skip' for none or 'back' to go back a step.",
            ),
            (
                "skip",
                "Please check your need:\nCategory: environment and waste\n"
                "Description: Rubbish by the gate\nPhotos: 0\nPlace: (none)\n"
                "Reply 'yes' to submit, 'back' to change the place, 'exit' to drop it.",
            ),
            (
                "ok",
                "Submitted! Your need is N-000001. You will hear from us when it is"
                " acknowledged; send 'my needs' to follow it.",
            ),
        ]
    )
    listing = talk.say("my needs")
    assert "N-000001 environment and waste · submitted" in listing


def test_my_needs_newest_first_with_status(
    talk: Talk, services: Services, clock: FakeClock
) -> None:
    assert "还没有提交过需求" in talk.say("我的需求")
    submit(talk, "1", "学校缺图书")
    clock.advance(hours=1)
    submit(talk, "3", "路灯坏了")
    clock.advance(hours=1)
    with services.session_factory() as db, db.begin():
        change_status(db, get_need(db, "N-000001"), "acknowledged", "王", None, False, clock.now)
    listing = talk.tap("MY_NEEDS")
    assert listing.index("N-000002") < listing.index("N-000001")
    assert "N-000001 教育 · 已受理 · 更新于 2026-05-01 12:00" in listing
    assert "N-000002 基础设施 · 已提交 · 更新于 2026-05-01 11:00" in listing
    assert "共 2 条" in listing and "路灯坏了" in listing


def test_show_one_need_with_its_public_history(
    talk: Talk, services: Services, clock: FakeClock
) -> None:
    submit(talk, "3", "路灯坏了")
    clock.advance(hours=2)
    with services.session_factory() as db, db.begin():
        need = get_need(db, "N-000001")
        change_status(db, need, "acknowledged", "王", "下周一派人看", True, clock.now)
        change_status(db, need, "acknowledged", "王", "电工老李负责", False, clock.now)
    detail = talk.say("需求 N-000001")
    assert "N-000001 · 基础设施 · 已受理" in detail
    assert "路灯坏了" in detail
    assert "2026-05-01 10:00 已提交" in detail
    assert "2026-05-01 12:00 已受理 · 下周一派人看" in detail
    assert "电工老李" not in detail
    assert talk.say("需求 1") == detail
    assert talk.say("need n-000001") == detail


def test_show_refuses_unknown_refs_and_other_peoples_needs(talk: Talk) -> None:
    submit(talk)
    assert "没有找到您的需求 N-000001" in talk.as_resident("o-other").say("需求 N-000001")
    assert "没有找到您的需求 N-000042" in talk.say("需求 N-000042")
    assert "需求 N-000123" in talk.say("需求 路灯坏了")


def test_merged_need_shows_the_original(talk: Talk, services: Services, clock: FakeClock) -> None:
    submit(talk.as_resident("o-first"), "3", "路灯坏了")
    submit(talk, "3", "老街路灯不亮")
    with services.session_factory() as db, db.begin():
        original = get_need(db, "N-000001")
        change_status(db, original, "acknowledged", "王", None, False, clock.now)
        change_status(
            db,
            get_need(db, "N-000002"),
            "duplicate",
            "王",
            "同一盏灯",
            False,
            clock.now,
            duplicate_of=original,
        )
    assert "已并入 N-000001（已受理）" in talk.say("我的需求")
    assert "共有 2 位居民反映了这个需求" in talk.as_resident("o-first").say("需求 N-000001")


def test_delete_my_data(chat: Chat, services: Services) -> None:
    start(chat)
    chat.say("2")
    chat.say("河边有人倒垃圾")
    chat.send(chat.payloads.image(chat.openid, "m1", "http://p/1"))
    chat.say("完成")
    chat.send(chat.payloads.location(chat.openid, 30.1, 120.1, "河边"))
    chat.say("确认")
    with services.session_factory() as db, db.begin():
        person = db.execute(select(Resident).where(Resident.openid == chat.openid)).scalar_one()
        person.name, person.mobile = "张三", "13800000000"
        person.contact_consent_at = services.clock()
        db.execute(select(NeedPhoto)).scalar_one().local_path = "need-1/1.jpg"

    assert "确认删除" in chat.say("删除我的信息")
    assert "没有删除任何内容" in chat.say("否")
    assert only_need(services).description == "河边有人倒垃圾"
    chat.say("删除我的信息")
    assert "请回复“确认”删除" in chat.say("嗯?")
    done = chat.say("确认")
    assert "1 条需求的内容，1 张照片，1 个地点，您的姓名和手机号，" in done

    need = only_need(services)
    assert need.description is None and need.place is None and need.latitude is None
    assert need.resident_id is None and need.erased_at is not None
    assert (need.category, need.status) == ("environment", "submitted")
    with services.session_factory() as db:
        photo = db.execute(select(NeedPhoto)).scalar_one()
    assert (photo.status, photo.media_id, photo.pic_url) == (PhotoStatus.ERASING, None, None)
    person = resident(services, chat.openid)
    assert (person.name, person.mobile) == (None, None)
    assert (person.contact_consent_at, person.privacy_consent_at) == (None, None)
    assert count(services, InboundMessage, InboundMessage.content.is_not(None)) == 0
    assert "还没有提交过需求" in chat.say("我的需求")
    assert "同意" in chat.say("需求")


def test_delete_with_nothing_stored(talk: Talk, services: Services) -> None:
    talk.say("删除我的信息")
    done = talk.say("确认")
    assert "0 条需求的内容，0 张照片，0 个地点，" in done and "姓名" not in done


def test_photo_never_fetched_is_erased_at_once(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("1")
    talk.say("教室漏雨")
    talk.image("m1", "http://p/1")
    talk.say("完成")
    talk.say("跳过")
    talk.say("确认")
    talk.say("删除我的信息")
    talk.say("确认")
    with services.session_factory() as db:
        assert db.execute(select(NeedPhoto.status)).scalar_one() == PhotoStatus.ERASED


def test_a_location_at_the_photo_step_is_the_place(talk: Talk, services: Services) -> None:
    """Photos are optional: a resident who sends the place instead has moved on to it."""
    start(talk)
    talk.say("2")
    talk.say("河边有人倒垃圾")
    talk.image("m1", "http://p/1")
    summary = talk.location(30.1, 120.1, "河边")
    assert summary.startswith("请确认您的需求：")
    assert "照片：1 张" in summary and "地点：河边\n" in summary
    assert "N-000001" in talk.say("确认")
    need = only_need(services)
    assert (need.place, need.latitude, need.longitude) == ("河边", 30.1, 120.1)
    assert count(services, NeedPhoto) == 1


def test_wechat_location_label_reaches_the_plain_message() -> None:
    """The address WeChat puts in ``Label`` is what residents read as the place."""
    message = to_message(
        {
            "FromUserName": "o-1",
            "MsgType": "location",
            "CreateTime": "1790000000",
            "Location_X": "30.5269",
            "Location_Y": "119.6095",
            "Label": "浙江省杭州市临安区太湖源镇",
        }
    )
    assert message.location == Location(30.5269, 119.6095, "浙江省杭州市临安区太湖源镇")


def test_a_location_before_any_photo_in_english(talk: Talk, services: Services) -> None:
    talk.say("English")
    assert "yes" in talk.say("need")
    talk.say("yes")
    talk.say("2")
    talk.say("Rubbish dumped by the river")
    summary = talk.location(30.1, 120.1, "")
    assert "Photos: 0\nPlace: 30.10000, 120.10000\n" in summary
    talk.say("yes")
    assert (only_need(services).latitude, only_need(services).place) == (30.1, None)


def test_a_location_at_the_description_step_is_kept_as_the_place(
    talk: Talk, services: Services
) -> None:
    """The place came before the description: it is kept, the description asked again,
    and the place step is not asked a second time."""
    start(talk)
    talk.say("2")
    kept = talk.location(30.1, 120.1, "河边")
    assert kept.startswith("已保存您发送的位置作为需求地点，之后不用再发。\n类别：环境卫生。")
    assert "这一步需要文字描述" not in kept
    assert "照片" in talk.say("河边有人倒垃圾")
    summary = talk.say("完成")
    assert summary.startswith("请确认您的需求：")
    assert "描述：河边有人倒垃圾" in summary and "地点：河边\n" in summary
    assert "N-000001" in talk.say("确认")
    need = only_need(services)
    assert (need.place, need.latitude, need.longitude) == ("河边", 30.1, 120.1)
    assert need.description == "河边有人倒垃圾"


def test_a_location_at_the_description_step_in_english(talk: Talk, services: Services) -> None:
    talk.say("English")
    talk.say("need")
    talk.say("yes")
    talk.say("2")
    kept = talk.location(30.1, 120.1, "By the river")
    assert kept.startswith(
        "The location you sent is kept as the need's place; no need to send it again.\nCategory: "
    )
    assert "describe the need in words" in kept
    talk.say("Rubbish dumped by the river")
    assert "Place: By the river\n" in talk.say("skip")
    talk.say("yes")
    assert only_need(services).place == "By the river"


def test_a_photo_at_the_summary_is_said_not_kept(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("1")
    talk.say("教室漏雨")
    talk.say("完成")
    talk.say("跳过")
    late = talk.image("late", "http://p")
    assert late == (
        "照片步骤已经过了，这张没有保存；回复两次“返回”可回去添加照片。\n"
        "回复“确认”提交，“返回”修改地点，“退出”放弃。"
    )
    assert "需求在哪里" in talk.say("返回")
    assert "可以发送最多 3 张照片" in talk.say("返回")
    talk.image("m1", "http://p/1")
    talk.say("完成")
    talk.say("跳过")
    talk.say("English")
    late = talk.image("late-2", "http://p")
    assert late.startswith("The photo step is over and this one was not kept;")
    assert late.endswith("Reply 'yes' to submit, 'back' to change the place, 'exit' to drop it.")
    talk.say("yes")
    with services.session_factory() as db:
        assert list(db.execute(select(NeedPhoto.media_id)).scalars()) == ["m1"]


def test_a_photo_at_the_summary_beyond_the_limit(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("1")
    talk.say("教室漏雨")
    for number in (1, 2, 3):
        talk.image(f"m{number}", f"http://p/{number}")
    talk.say("跳过")
    late = talk.image("m4", "http://p/4")
    assert late.startswith("最多只能添加 3 张照片，这张没有保存。\n回复“确认”提交")
    talk.say("确认")
    assert count(services, NeedPhoto) == 3


def test_a_location_at_the_summary_replaces_the_place(talk: Talk, services: Services) -> None:
    start(talk)
    talk.say("3")
    talk.say("路灯坏了")
    talk.say("跳过")
    assert "地点：老街" in talk.say("老街")
    summary = talk.location(30.2, 120.2, "老街十二号")
    assert summary.startswith("已改用您刚发送的位置。\n请确认您的需求：")
    assert "地点：老街十二号\n" in summary
    talk.say("English")
    again = talk.location(30.3, 120.3, "Old Street")
    assert again.startswith("The place is now the location you just sent.\nPlease check")
    talk.say("yes")
    need = only_need(services)
    assert (need.place, need.latitude, need.longitude) == ("Old Street", 30.3, 120.3)


def test_demand_shown_to_a_resident_counts_residents(
    talk: Talk, services: Services, clock: FakeClock
) -> None:
    submit(talk, "3", "路灯坏了")
    submit(talk, "3", "路灯还是坏的")
    with services.session_factory() as db, db.begin():
        original = get_need(db, "N-000001")
        change_status(
            db,
            get_need(db, "N-000002"),
            "duplicate",
            "王",
            "同一盏灯",
            False,
            clock.now,
            duplicate_of=original,
        )
    assert "位居民" not in talk.say("需求 N-000001")
    submit(talk.as_resident("o-neighbour"), "3", "老街路灯不亮")
    with services.session_factory() as db, db.begin():
        change_status(
            db,
            get_need(db, "N-000003"),
            "duplicate",
            "王",
            "同一盏灯",
            False,
            clock.now,
            duplicate_of=get_need(db, "N-000001"),
        )
    assert "共有 2 位居民反映了这个需求。" in talk.say("需求 N-000001")
    talk.say("English")
    assert "2 residents raised this need." in talk.say("need N-000001")


def test_delete_my_data_takes_the_words_out_of_partner_pushes(
    talk: Talk, services: Services, clock: FakeClock
) -> None:
    """A partner's contact was pushed the need's words and place; erasure rewrites those
    rows without them, whether the push went out already or is still to go."""
    submit(talk.as_resident("o-neighbour"), "2", "垃圾桶坏了")
    start(talk)
    talk.say("2")
    talk.say("我家门口垃圾没人收，电话13900001111")
    talk.say("跳过")
    talk.say("幸福小区3栋")
    talk.say("确认")
    talk.say("需求")
    talk.say("2")
    talk.say("河边有人倒垃圾")
    talk.location(30.1, 120.1, "河边")
    talk.say("确认")
    with services.session_factory() as db, db.begin():
        partner = add_partner(
            db,
            Actor.os_user("test"),
            name="环卫所",
            kind="government",
            now=clock.now,
            contact_openid="o-partner",
        )
        for ref in ("N-000001", "N-000002", "N-000003"):
            change_status(
                db,
                get_need(db, ref),
                "acknowledged",
                "王",
                "请本周处理",
                False,
                clock.now,
                partner=partner,
            )
    with services.session_factory() as db, db.begin():
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key.like("need_assigned:2:%"))
            .values(status="sent", sent_at=clock.now)
        )
    neighbours_before = pushes(services, "need_assigned")[0].payload

    talk.say("删除我的信息")
    assert "已删除：2 条需求的内容" in talk.say("确认")
    neighbours, sent, pending = pushes(services, "need_assigned")
    assert neighbours.payload == neighbours_before
    assert "垃圾桶坏了" in neighbours.payload["text"]["zh"]
    assert (sent.status, pending.status) == ("sent", "pending")
    for row, ref in ((sent, "N-000002"), (pending, "N-000003")):
        stored = str(row.payload)
        for personal in ("13900001111", "垃圾没人收", "幸福小区", "河边", "30.1"):
            assert personal not in stored, stored
        assert row.payload["text"] == {
            "zh": f"环卫所：爱乡共建俱乐部将需求 {ref}（environment）交给您跟进。\n"
            "内容和地点已应居民要求删除。\n工作人员备注：请本周处理",
            "en": f"环卫所: the club has handed need {ref} (environment) to you.\n"
            "What was asked and where were erased at the resident's request.\n"
            "Staff note: 请本周处理",
        }
        assert row.payload["fields"]["ref"] == ref and row.payload["fields"]["place"] == ""


def test_a_need_reference_on_its_own_shows_the_need(talk: Talk) -> None:
    submit(talk)
    assert talk.say("N-000001") == talk.say("需求 N-000001")
    assert talk.say("n000001").startswith("N-000001 · 环境卫生")
    assert "没有找到您的需求 N-000001" in talk.as_resident("o-other").say("N-000001")
