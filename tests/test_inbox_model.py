"""The inbox's rules (models/inbox/), on both databases: a resident's messages open,
join and reopen one conversation; staff assign, answer (a staff_answer push) and close,
each change audited; refused requests change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.services import Services
from models.accounts.operations import actor_for
from models.accounts.tables import Account
from models.audit import Actor, AuditAction, AuditEntry
from models.inbound import NewInbound, enrol, look_up
from models.inbox.errors import InboxError
from models.inbox.operations import answer, assign, close, leave_message, unassign
from models.inbox.queries import (
    AssignmentNote,
    InboxTab,
    assignable_accounts,
    inbox,
    thread,
)
from models.inbox.tables import MAX_TEXT, Conversation, ConversationMessage, ConversationStatus
from models.push.channels import ChannelPause, Means, outlook
from models.push.registry import PushKind
from models.push.vocabulary import Channel, OutboxStatus
from models.residents import Resident, get_or_create_resident
from models.villages.operations import add_village
from tests.conftest import FakeClock
from tests.console import MakeAccount
from tests.helpers import count, pushes


@pytest.fixture
def staff(make_account: MakeAccount) -> int:
    return make_account("wang", "staff")


def _resident(db: Session, clock: FakeClock, openid: str = "o-inbox") -> Resident:
    return get_or_create_resident(db, openid, clock.now)


def test_messages_join_one_conversation_and_a_closed_one_reopens(
    services: Services, clock: FakeClock, staff: int
) -> None:
    with services.session_factory() as db, db.begin():
        first = leave_message(db, _resident(db, clock), "  路灯坏了  ", clock.now)
    clock.advance(minutes=5)
    with services.session_factory() as db, db.begin():
        second = leave_message(db, _resident(db, clock), "在3号楼", clock.now)
        assert second.id == first.id
        assert second.last_message_at == clock.now
        close(db, actor_for(db.get_one(Account, staff)), second, clock.now)
    assert count(services, Conversation, Conversation.status == ConversationStatus.CLOSED) == 1
    clock.advance(days=1)
    with services.session_factory() as db, db.begin():
        again = leave_message(db, _resident(db, clock), "又坏了", clock.now)
        assert again.id == first.id
        assert again.status == ConversationStatus.OPEN
        assert again.closed_at is None and again.closed_by is None
        texts = [entry.message.text for entry in thread(db, again).entries]
    assert texts == ["路灯坏了", "在3号楼", "又坏了"]


def test_a_resident_has_one_open_conversation_at_most(services: Services, clock: FakeClock) -> None:
    with services.session_factory() as db, db.begin():
        resident = _resident(db, clock)
        leave_message(db, resident, "你好", clock.now)
    with pytest.raises(IntegrityError), services.session_factory() as db, db.begin():
        db.add(
            Conversation(
                resident_id=resident.id,
                status=ConversationStatus.OPEN,
                opened_at=clock.now,
                last_message_at=clock.now,
            )
        )
    assert count(services, Conversation) == 1


@pytest.mark.parametrize(
    ("text", "refusal"),
    [("   ", "the message is empty"), ("长" * (MAX_TEXT + 1), "at most 1000 characters")],
)
def test_an_empty_or_long_message_is_refused_and_nothing_is_written(
    services: Services, clock: FakeClock, text: str, refusal: str
) -> None:
    with pytest.raises(InboxError, match=refusal), services.session_factory() as db, db.begin():
        leave_message(db, _resident(db, clock), text, clock.now)
    assert count(services, Conversation) == 0
    assert count(services, ConversationMessage) == 0


def test_staff_assign_answer_and_close_each_audited(
    services: Services, clock: FakeClock, staff: int, make_account: MakeAccount
) -> None:
    other = make_account("li", "staff")
    with services.session_factory() as db, db.begin():
        conversation = leave_message(db, _resident(db, clock), "路灯坏了", clock.now)
        wang = db.get_one(Account, staff)
        assert [row.conversation.id for row in inbox(db, InboxTab.UNASSIGNED, staff)] == [
            conversation.id
        ]
        assign(db, actor_for(wang), conversation, wang, clock.now)
        assert [row.assignee for row in inbox(db, InboxTab.MINE, staff)] == ["wang"]
        assert inbox(db, InboxTab.MINE, other) == []
        assert inbox(db, InboxTab.UNASSIGNED, staff) == []
        message = answer(db, actor_for(wang), conversation, " 明天去修 ", clock.now)
        close(db, actor_for(wang), conversation, clock.now)
        assert inbox(db, InboxTab.MINE, staff) == []
        assert [row.last_text for row in inbox(db, InboxTab.ALL, staff)] == ["明天去修"]
        entries = db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    assert [(entry.action, entry.actor_name, entry.object_id) for entry in entries[-3:]] == [
        (AuditAction.CONVERSATION_ASSIGN, "wang", conversation.id),
        (AuditAction.CONVERSATION_ANSWER, "wang", conversation.id),
        (AuditAction.CONVERSATION_CLOSE, "wang", conversation.id),
    ]
    assert entries[-3].before == {"assigned": None} and entries[-3].after == {"assigned": "wang"}
    [push] = pushes(services, PushKind.STAFF_ANSWER)
    assert push.id == message.outbox_id
    assert push.status == OutboxStatus.PENDING
    assert push.recipient_openid == "o-inbox"
    assert push.payload["text"] == {
        "zh": "工作人员回复：明天去修",
        "en": "A reply from our staff: 明天去修",
    }
    assert push.payload["fields"]["answer"] == "明天去修"
    with services.session_factory() as db:
        closed = db.get_one(Conversation, conversation.id)
        assert closed.closed_by == "wang" and closed.closed_at == clock.now
        [_, staff_entry] = thread(db, closed).entries
    assert staff_entry.author_login == "wang"
    assert staff_entry.delivery is not None and staff_entry.delivery.status == OutboxStatus.PENDING


def test_a_hand_over_follows_mine_and_shows_in_the_thread_in_order(
    services: Services, clock: FakeClock, staff: int, make_account: MakeAccount
) -> None:
    other = make_account("li", "staff")
    make_account("kan", "viewer")
    with services.session_factory() as db, db.begin():
        conversation = leave_message(db, _resident(db, clock), "路灯坏了", clock.now)
        wang, li = db.get_one(Account, staff), db.get_one(Account, other)
        assert [account.login for account in assignable_accounts(db)] == ["li", "wang"]
        clock.advance(minutes=1)
        assign(db, actor_for(wang), conversation, li, clock.now)
        assert [row.assignee for row in inbox(db, InboxTab.MINE, other)] == ["li"]
        assert inbox(db, InboxTab.MINE, staff) == []
        clock.advance(minutes=1)
        leave_message(db, _resident(db, clock), "在3号楼", clock.now)
        clock.advance(minutes=1)
        unassign(db, actor_for(li), conversation, clock.now)
        assert inbox(db, InboxTab.MINE, other) == []
        with pytest.raises(InboxError, match="not assigned to anyone"):
            unassign(db, actor_for(li), conversation, clock.now)
        timeline = thread(db, conversation).timeline
    assert [
        item.assigned if isinstance(item, AssignmentNote) else item.message.text
        for item in timeline
    ] == ["路灯坏了", "li", "在3号楼", None]


def test_answering_an_unassigned_conversation_takes_it(
    services: Services, clock: FakeClock, staff: int
) -> None:
    with services.session_factory() as db, db.begin():
        conversation = leave_message(db, _resident(db, clock), "你好", clock.now)
        answer(db, actor_for(db.get_one(Account, staff)), conversation, "您好", clock.now)
        assert conversation.assigned_account_id == staff


def test_refusals_change_nothing(services: Services, clock: FakeClock, staff: int) -> None:
    with services.session_factory() as db, db.begin():
        conversation = leave_message(db, _resident(db, clock), "你好", clock.now)
        wang = db.get_one(Account, staff)
        assign(db, actor_for(wang), conversation, wang, clock.now)
        close(db, actor_for(wang), conversation, clock.now)
    audited = count(services, AuditEntry)
    with services.session_factory() as db:
        conversation = db.get_one(Conversation, conversation.id)
        wang = db.get_one(Account, staff)
        with pytest.raises(InboxError, match="closed and cannot be answered"):
            answer(db, actor_for(wang), conversation, "您好", clock.now)
        with pytest.raises(InboxError, match="closed already"):
            close(db, actor_for(wang), conversation, clock.now)
        with pytest.raises(InboxError, match="closed already"):
            assign(db, actor_for(wang), conversation, wang, clock.now)
        conversation.status = ConversationStatus.OPEN
        with pytest.raises(InboxError, match="assigned to wang already"):
            assign(db, actor_for(wang), conversation, wang, clock.now)
        db.rollback()
    assert count(services, AuditEntry) == audited
    assert pushes(services, PushKind.STAFF_ANSWER) == []
    assert count(services, ConversationMessage) == 1


def test_an_open_conversation_comes_with_the_arrival(
    services: Services, clock: FakeClock, staff: int
) -> None:
    """The chat's question, whether words it cannot place go to staff, is answered by
    the arrival's look-up and by the first-contact upsert alike (models/inbound.py)."""

    def arrival() -> tuple[bool, bool]:
        new = NewInbound("o-inbox", None, "k-inbox", None, "text", None, None, "你好", clock.now)
        with services.engine.connect() as connection:
            found = look_up(connection, "o-inbox", "k-inbox").contact
            upserted = enrol(connection, new)
        assert found is not None
        return found.has_open_conversation, upserted.has_open_conversation

    with services.session_factory() as db, db.begin():
        resident = _resident(db, clock)
    assert arrival() == (False, False)
    with services.session_factory() as db, db.begin():
        conversation = leave_message(db, db.merge(resident), "你好", clock.now)
    assert arrival() == (True, True)
    with services.session_factory() as db, db.begin():
        close(db, actor_for(db.get_one(Account, staff)), db.merge(conversation), clock.now)
    assert arrival() == (False, False)


def test_the_channel_outlook_follows_wechat_s_rules(clock: FakeClock) -> None:
    now = clock.now
    bare = Means(template=False, subscription=False)
    wrote = now - timedelta(hours=47)
    assert outlook(wrote, "message", now, means=bare, consent=False).channel == Channel.CUSTOM
    # The same window with its five messages spent: nothing now.
    spent = outlook(wrote, "message", now, means=bare, consent=False, allowance_left=False)
    assert spent.channel is None and spent.paused is None
    tapped = now - timedelta(minutes=2)
    shut = outlook(tapped, "tap", now, means=bare, consent=False)
    assert shut.channel is None and shut.window_closes_at == tapped + timedelta(minutes=1)
    old = now - timedelta(hours=48)
    both = Means(template=True, subscription=True)
    assert outlook(old, "message", now, means=both, consent=True).channel == Channel.TEMPLATE
    notice = Means(template=False, subscription=True)
    assert outlook(old, "message", now, means=notice, consent=True).channel == Channel.SUBSCRIBE
    never = outlook(None, None, now, means=bare, consent=False)
    assert never.channel is None and never.window_closes_at is None
    # A paused template: a resident it would carry waits for the pause, not for a message.
    pause = ChannelPause(now + timedelta(minutes=20), now + timedelta(hours=14))
    paused = Means(template=True, subscription=False, paused={Channel.TEMPLATE: pause})
    waiting = outlook(old, "message", now, means=paused, consent=False)
    assert waiting.channel is None and waiting.paused == pause
    assert outlook(wrote, "message", now, means=paused, consent=False).channel == Channel.CUSTOM


def test_a_tab_narrows_to_one_village_and_its_groups(
    services: Services, clock: FakeClock, staff: int
) -> None:
    actor = Actor.os_user("test")
    with services.session_factory() as db, db.begin():
        east = add_village(db, actor, "东村", clock.now)
        group = add_village(db, actor, "一组", clock.now, within=east)
        west = add_village(db, actor, "西村", clock.now)
        for openid, village in (("o-east", group), ("o-west", west), ("o-nowhere", None)):
            resident = _resident(db, clock, openid)
            resident.village_id = village.id if village is not None else None
            leave_message(db, resident, f"来自 {openid}", clock.now)
        shown = {
            village.id: [row.resident.openid for row in inbox(db, InboxTab.ALL, staff, village.id)]
            for village in (east, group, west)
        }
        everyone = inbox(db, InboxTab.ALL, staff)
    assert shown == {east.id: ["o-east"], group.id: ["o-east"], west.id: ["o-west"]}
    assert len(everyone) == 3
