"""The inbox from the chat (handlers/inbox.py), as transcripts: 人工 and its English
words ask for the message, what follows goes to staff, later free text joins the open
conversation while commands still work, a closed conversation reopens, and two misses in
a row bring the offer. One test goes through the real webhook."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from bot.services import Services
from models.audit import Actor
from models.inbox.operations import answer, close
from models.inbox.tables import Conversation, ConversationMessage, ConversationStatus
from models.push.registry import PushKind
from models.push.vocabulary import Channel, OutboxStatus
from scheduler.worker import Worker
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.helpers import count, pushes
from tests.transcript import Talk

ASK = "请写下您想对工作人员说的话，我们会转给他们，他们会在这里回复您。发送“退出”取消。"
LEFT = (
    "已转给工作人员，他们会在这里回复您。在他们处理完之前，您发来的其他话也会转给他们；"
    "活动、需求等命令照常可用。"
)
ADDED = "已转给工作人员。"
OFFER = "需要找工作人员吗？发送“人工”给他们留言。"


def thread_texts(services: Services) -> list[str | None]:
    with services.session_factory() as db:
        query = select(ConversationMessage.text).order_by(ConversationMessage.id)
        return list(db.execute(query).scalars())


def test_a_resident_leaves_a_message_and_goes_on_talking_to_staff(
    talk: Talk, services: Services
) -> None:
    talk.verify([("人工", ASK), ("路灯坏了，谁能来看看？", LEFT), ("在3号楼门口", ADDED)])
    assert talk.say("帮助").startswith("爱乡共建俱乐部")
    assert talk.say("我的需求").startswith("您还没有提交过需求")
    assert thread_texts(services) == ["路灯坏了，谁能来看看？", "在3号楼门口"]
    assert count(services, Conversation, Conversation.status == ConversationStatus.OPEN) == 1
    talk.verify(
        [
            ("留言", "工作人员已收到您的留言。请写下您要补充的话；发送“退出”取消。"),
            ("还有2号楼", LEFT),
        ]
    )
    assert count(services, Conversation) == 1


def test_english_words_and_leaving_without_a_message(talk: Talk, services: Services) -> None:
    talk.say("English")
    assert talk.say("Talk to a person!") == (
        "Write what you would like to tell our staff and we will pass it on; they will answer"
        " here. Send 'exit' to cancel."
    )
    assert talk.image("media-1", "http://pic") == (
        "Please write your message in words, or send 'exit' to cancel."
    )
    assert talk.say("exit").startswith("You left the conversation")
    assert count(services, Conversation) == 0


def test_a_message_left_after_staff_closed_the_conversation_reopens_it(
    talk: Talk, services: Services, clock: FakeClock
) -> None:
    talk.verify([("人工", ASK), ("路灯坏了", LEFT)])
    with services.session_factory() as db, db.begin():
        conversation = db.execute(select(Conversation)).scalar_one()
        close(db, Actor.os_user("wang"), conversation, clock.now)
    assert talk.say("还是不亮").startswith("抱歉，没有看懂")
    clock.advance(hours=1)
    talk.verify([("人工", ASK), ("还是不亮", LEFT)])
    with services.session_factory() as db:
        reopened = db.execute(select(Conversation)).scalar_one()
    assert reopened.status == ConversationStatus.OPEN
    assert thread_texts(services) == ["路灯坏了", "还是不亮"]


def test_two_misses_in_a_row_bring_the_offer_and_a_command_between_resets(talk: Talk) -> None:
    first = talk.say("你好")
    assert first.startswith("抱歉，没有看懂“你好”") and OFFER not in first
    assert talk.say("帮助").startswith("爱乡共建俱乐部")
    assert OFFER not in talk.say("在吗")
    assert talk.say("有人吗").endswith(f"\n\n{OFFER}")
    assert OFFER not in talk.say("喂")
    assert talk.say("人工") == ASK


def test_leaving_a_message_through_the_webhook(chat: Chat, services: Services) -> None:
    assert chat.say("人工") == ASK
    assert chat.say("垃圾没人收") == LEFT
    assert thread_texts(services) == ["垃圾没人收"]


def test_erasing_one_s_data_takes_the_words_left_for_staff(
    talk: Talk, services: Services, clock: FakeClock
) -> None:
    talk.verify([("人工", ASK), ("我家住在5号楼302", LEFT)])
    with services.session_factory() as db, db.begin():
        conversation = db.execute(select(Conversation)).scalar_one()
        answer(db, Actor.os_user("wang"), conversation, "好的，明天去看", clock.now)
    talk.say("删除我的信息")
    assert talk.say("确认").startswith("已删除")
    assert thread_texts(services) == [None, "好的，明天去看"]


def test_an_answer_after_the_window_shut_rides_on_the_reply_to_the_next_message(
    chat: Chat, services: Services, clock: FakeClock, make_worker: Callable[..., Worker]
) -> None:
    """No channel can carry it (48 hours passed, no template): the worker holds it, and
    the resident's next message, whatever it is, brings it along."""
    chat.say("人工")
    chat.say("路灯坏了")
    clock.advance(hours=49)
    with services.session_factory() as db, db.begin():
        conversation = db.execute(select(Conversation)).scalar_one()
        answer(db, Actor.os_user("wang"), conversation, "已经修好了", clock.now)
    make_worker().run_once()
    [push] = pushes(services, PushKind.STAFF_ANSWER)
    assert push.status == OutboxStatus.HELD
    reply = chat.say("帮助")
    assert reply.endswith("您有 1 条新通知：\n1. 工作人员回复：已经修好了")
    [push] = pushes(services, PushKind.STAFF_ANSWER)
    assert (push.status, push.channel) == (OutboxStatus.SENT, Channel.REPLY)


def test_a_message_not_written_within_the_flow_ttl_is_dropped(
    talk: Talk, services: Services, clock: FakeClock
) -> None:
    assert talk.say("人工") == ASK
    clock.advance(minutes=31)
    assert talk.say("路灯坏了") == "留言超过 30 分钟没有写完，已取消。需要时请再发送“人工”。"
    assert count(services, Conversation) == 0


def test_a_message_too_long_is_refused_and_the_step_waits(talk: Talk, services: Services) -> None:
    talk.say("人工")
    assert talk.say("长" * 1001) == "留言最多 1000 个字"
    assert count(services, Conversation) == 0
    assert talk.say("路灯坏了") == LEFT


def test_a_command_word_where_the_message_is_asked_for_is_asked_about(
    talk: Talk, services: Services
) -> None:
    """As at every free-text step: 1 runs the command and the message waits for 人工,
    2 sends the word to staff."""
    talk.say("人工")
    asked = talk.say("活动")
    assert asked.startswith("“活动”也是一个命令。") and "作为给工作人员的留言" in asked
    ran = talk.say("1")
    assert ran.endswith("留言还没写（30 分钟内有效），发送“人工”可继续。")
    assert talk.say("人工").endswith(ASK)
    talk.say("活动")
    assert talk.say("2") == LEFT
    assert thread_texts(services) == ["活动"]
