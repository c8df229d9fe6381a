"""The inbox in the console (bot/console/inbox.py): staff take, answer and close a
conversation, each change audited; the page says how an answer can go out now; refused
requests change nothing; viewers read only; partners and the foundation see no inbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.services import Services
from bot.wechat.errors import Refusal
from models.accounts.operations import disable_account
from models.accounts.tables import Account
from models.audit import Actor, AuditEntry
from models.inbox.operations import leave_message
from models.inbox.tables import Conversation
from models.partners import add_partner
from models.push.registry import PushKind
from models.residents import InteractionKind, Resident, get_or_create_resident
from models.villages.operations import add_village
from scheduler.pauses import Pauses
from scheduler.windows import ServiceWindow
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount, alert
from tests.helpers import count, pushes


def open_conversation_for(
    services: Services, clock: FakeClock, wrote_at: datetime | None, openid: str = "o-inbox"
) -> int:
    """A resident's conversation with one message; ``wrote_at`` is the resident's last
    message as WeChat's window counts it (None: never wrote)."""
    with services.session_factory() as db, db.begin():
        resident = get_or_create_resident(db, openid, clock.now)
        resident.last_interaction_at = wrote_at
        resident.last_interaction_kind = InteractionKind.MESSAGE if wrote_at else None
        return leave_message(db, resident, "路灯坏了，谁能来看看？", clock.now).id


def signed_in(browser: Callable[[], Console], login: str) -> Console:
    person = browser()
    person.sign_in(login)
    return person


def test_staff_take_answer_and_close_a_conversation(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
) -> None:
    make_account("wang", "staff")
    number = open_conversation_for(services, clock, clock.now - timedelta(hours=1))
    staff = signed_in(browser, "wang")
    listing = staff.get("/console/inbox/").get_data(as_text=True)
    assert 'id="nav-inbox"' in listing and f'id="conversation-{number}"' in listing
    assert "路灯坏了，谁能来看看？" in listing
    assert f'id="conversation-{number}"' not in staff.get("/console/inbox/?tab=mine").get_data(
        as_text=True
    )

    page = staff.get(f"/console/inbox/{number}").get_data(as_text=True)
    assert "现在回复会作为客服消息立即送出（居民的 48 小时窗口到 2026-05-03 09:00 关闭）。" in page
    assert staff.post(f"/console/inbox/{number}/assign").status_code == 302
    mine = staff.get("/console/inbox/?tab=mine").get_data(as_text=True)
    assert f'id="conversation-{number}"' in mine
    assert f'id="conversation-{number}"' not in staff.get("/console/inbox/").get_data(as_text=True)

    assert staff.post(f"/console/inbox/{number}/answer", {"answer": "明天去修"}).status_code == 302
    page = staff.get(f"/console/inbox/{number}").get_data(as_text=True)
    assert "回复已排队发送。" in page and "工作人员 wang" in page and "明天去修" in page
    assert "等待发送" in page
    [push] = pushes(services, PushKind.STAFF_ANSWER)
    assert push.recipient_openid == "o-inbox"

    assert staff.post(f"/console/inbox/{number}/close").status_code == 302
    page = staff.get(f"/console/inbox/{number}").get_data(as_text=True)
    assert "wang 于 2026-05-01 10:00 关闭" in page and 'id="send-answer"' not in page
    with services.session_factory() as db:
        actions = db.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions[-3:] == ["conversation.assign", "conversation.answer", "conversation.close"]


@pytest.mark.parametrize(
    ("wrote", "says"),
    [
        (
            timedelta(days=3),
            "现在没有渠道能送达：居民的 48 小时窗口已于 2026-04-30 10:00 关闭，且没有可用的模板。"
            "回复会在居民下次发消息时随回复送出。",
        ),
        (
            None,
            "现在没有渠道能送达：居民还没有发过消息，且没有可用的模板。"
            "回复会在居民下次发消息时随回复送出。",
        ),
    ],
)
def test_the_page_says_when_no_channel_can_carry_an_answer_now(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    wrote: timedelta | None,
    says: str,
) -> None:
    make_account("wang", "staff")
    number = open_conversation_for(services, clock, clock.now - wrote if wrote else None)
    page = signed_in(browser, "wang").get(f"/console/inbox/{number}").get_data(as_text=True)
    assert says in page


def test_staff_hand_a_conversation_to_a_colleague_and_back_to_nobody(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
) -> None:
    make_account("wang", "staff")
    li = make_account("li", "admin")
    number = open_conversation_for(services, clock, clock.now)
    wang = signed_in(browser, "wang")
    page = wang.get(f"/console/inbox/{number}").get_data(as_text=True)
    assert f'<option value="{li}"' in page, "the picker offers active staff and admins"
    handed = wang.post(f"/console/inbox/{number}/assign", {"account": str(li)})
    assert handed.status_code == 302
    page = wang.get(f"/console/inbox/{number}").get_data(as_text=True)
    assert "已分配给 li。" in page and '<span id="assignee">li</span>' in page
    assert "wang 把对话分配给 li" in page, "the hand-over shows in the thread"
    li_console = signed_in(browser, "li")
    assert f'id="conversation-{number}"' in li_console.get("/console/inbox/?tab=mine").get_data(
        as_text=True
    ), "mine follows the assignee"
    assert f'id="conversation-{number}"' not in wang.get("/console/inbox/?tab=mine").get_data(
        as_text=True
    )

    assert wang.post(f"/console/inbox/{number}/unassign").status_code == 302
    page = wang.get(f"/console/inbox/{number}").get_data(as_text=True)
    assert "wang 取消了对话的分配" in page and 'id="unassign"' not in page
    assert f'id="conversation-{number}"' in wang.get("/console/inbox/").get_data(as_text=True)
    again = wang.post(f"/console/inbox/{number}/unassign")
    assert again.status_code == 409 and alert(again) == "这个对话还没有分配给任何人"
    with services.session_factory() as db:
        entries = db.execute(
            select(AuditEntry)
            .where(AuditEntry.object_type == "conversation", AuditEntry.object_id == number)
            .order_by(AuditEntry.id)
        ).scalars()
        assert [(e.actor_name, e.action, e.before, e.after) for e in entries] == [
            ("wang", "conversation.assign", {"assigned": None}, {"assigned": "li"}),
            ("wang", "conversation.unassign", {"assigned": "li"}, {"assigned": None}),
        ]


def test_a_conversation_goes_only_to_an_active_account_that_answers_the_inbox(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
) -> None:
    make_account("wang", "staff")
    viewer = make_account("kan", "viewer")
    gone = make_account("zhao", "staff")
    with services.session_factory() as db, db.begin():
        disable_account(db, Actor.os_user("test"), db.get_one(Account, gone), clock.now)
    number = open_conversation_for(services, clock, clock.now)
    wang = signed_in(browser, "wang")
    page = wang.get(f"/console/inbox/{number}").get_data(as_text=True)
    assert f'<option value="{viewer}"' not in page and f'<option value="{gone}"' not in page
    audited = count(services, AuditEntry)
    for picked, says in [
        (str(viewer), "kan 不能接手对话：请选择一个在用的工作人员或管理员账号"),
        (str(gone), "zhao 不能接手对话：请选择一个在用的工作人员或管理员账号"),
        ("999", "请选择由谁接手这个对话。"),
        ("x", "请选择由谁接手这个对话。"),
    ]:
        refused = wang.post(f"/console/inbox/{number}/assign", {"account": picked})
        assert refused.status_code in (400, 409)
        assert 'id="assignee-error"' in refused.get_data(as_text=True), "next to the picker"
        assert alert(refused) == says
    assert count(services, AuditEntry) == audited
    with services.session_factory() as db:
        assert db.get_one(Conversation, number).assigned_account_id is None


def test_refused_answers_change_nothing(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
) -> None:
    make_account("wang", "staff")
    number = open_conversation_for(services, clock, clock.now)
    staff = signed_in(browser, "wang")
    audited = count(services, AuditEntry)
    empty = staff.post(f"/console/inbox/{number}/answer", {"answer": "   "})
    assert empty.status_code == 409 and alert(empty) == "留言是空的"
    long = staff.post(f"/console/inbox/{number}/answer", {"answer": "长" * 1001})
    assert alert(long) == "留言最多 1000 个字"
    assert "长" * 1001 in long.get_data(as_text=True), "the form keeps what was typed"
    staff.post(f"/console/inbox/{number}/close")
    closed = staff.post(f"/console/inbox/{number}/answer", {"answer": "您好"})
    assert closed.status_code == 409
    assert alert(closed) == "这个对话已关闭，不能再回复；居民再次留言时会重新打开"
    assert staff.post(f"/console/inbox/{number}/close").status_code == 409
    assert staff.get("/console/inbox/999").status_code == 404
    assert staff.post("/console/inbox/999/answer", {"answer": "x"}).status_code == 404
    assert count(services, AuditEntry) == audited + 1, "only the close"
    assert pushes(services, PushKind.STAFF_ANSWER) == []


def test_a_viewer_reads_the_inbox_and_changes_nothing(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
) -> None:
    make_account("kan", "viewer")
    number = open_conversation_for(services, clock, clock.now)
    viewer = signed_in(browser, "kan")
    page = viewer.get(f"/console/inbox/{number}").get_data(as_text=True)
    assert "路灯坏了，谁能来看看？" in page
    assert 'id="send-answer"' not in page and 'id="assign-me"' not in page
    for action in ("assign", "unassign", "answer", "close"):
        assert viewer.post(f"/console/inbox/{number}/{action}", {"answer": "x"}).status_code == 403
    with services.session_factory() as db:
        conversation = db.get_one(Conversation, number)
        assert conversation.assigned_account_id is None and conversation.status == "open"


@pytest.mark.parametrize("role", ["partner", "foundation"])
def test_partners_and_the_foundation_see_no_inbox(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    role: str,
) -> None:
    with services.session_factory() as db, db.begin():
        add_partner(db, Actor.os_user("test"), name="街道办", kind="government", now=clock.now)
    make_account("other", role, partner="街道办" if role == "partner" else None)
    number = open_conversation_for(services, clock, clock.now)
    person = signed_in(browser, "other")
    assert 'id="nav-inbox"' not in person.get("/console/").get_data(as_text=True)
    assert person.get("/console/inbox/").status_code == 403
    assert person.get(f"/console/inbox/{number}").status_code == 403
    assert person.post(f"/console/inbox/{number}/assign").status_code == 403


def test_the_inbox_narrows_to_a_village(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
) -> None:
    make_account("wang", "staff")
    with services.session_factory() as db, db.begin():
        east = add_village(db, Actor.os_user("test"), "东村", clock.now).id
    east_number = open_conversation_for(services, clock, clock.now, "o-east")
    other_number = open_conversation_for(services, clock, clock.now, "o-other")
    with services.session_factory() as db, db.begin():
        db.execute(update(Resident).where(Resident.openid == "o-east").values(village_id=east))
    staff = signed_in(browser, "wang")
    page = staff.get(f"/console/inbox/?tab=all&village={east}").get_data(as_text=True)
    assert f'id="conversation-{east_number}"' in page
    assert f'id="conversation-{other_number}"' not in page
    assert f'href="/console/inbox/?tab=mine&amp;village={east}"' in page
    assert staff.get("/console/inbox/?village=999").status_code == 404
    assert staff.get("/console/inbox/?village=x").status_code == 400


def test_the_page_counts_the_allowance_and_the_pauses_the_workers_keep(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
) -> None:
    make_account("wang", "staff")
    wrote_at = clock.now - timedelta(hours=1)
    number = open_conversation_for(services, clock, wrote_at)
    staff = signed_in(browser, "wang")
    # The worker has sent the resident all five messages that window allows.
    window = ServiceWindow(services.redis)
    assert window.try_use_many([("o-inbox", wrote_at, "message")] * 5, clock.now) == [True] * 5
    page = staff.get(f"/console/inbox/{number}").get_data(as_text=True)
    assert (
        "现在没有渠道能送达：居民上次发消息后微信允许的客服消息已用完"
        "（窗口到 2026-05-03 09:00 关闭），且没有可用的模板。" in page
    )
    # The resident writes again: a fresh allowance.
    newer = open_conversation_for(services, clock, clock.now, openid="o-other")
    assert "现在回复会作为客服消息立即送出" in staff.get(f"/console/inbox/{newer}").get_data(
        as_text=True
    )
    # Customer-service messages of staff answers paused for their daily quota.
    Pauses(services.redis).pause(
        PushKind.STAFF_ANSWER, "custom", Refusal.DAILY_QUOTA, "45009", clock.now
    )
    page = staff.get(f"/console/inbox/{newer}").get_data(as_text=True)
    # 10:20 is the probe; WeChat's day ends at midnight in China (UTC+8): 2026-05-02 00:00.
    assert (
        "现在没有渠道能送达：微信的该项配额已用完。2026-05-01 10:20 之后会再试；"
        "微信的配额于 2026-05-02 00:00 重置。" in page
    )
