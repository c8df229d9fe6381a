"""The staff commands beyond accounts, needs and villages write the audit log too:
``partners add``, ``broadcast`` (sent or scheduled), ``broadcasts cancel``, ``outbox
retry``, ``outbox resume`` and ``menu push`` each name their author (the ``--as`` account,
or the operating-system user, marked as such), the action, the object and a short
before and after; a refused command writes nothing at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from bot.cli.actors import os_user
from bot.services import Services
from bot.wechat.errors import Refusal
from bot.wechat.fake_api.server import FakeWeChatServer
from models import Broadcast, OutboxMessage
from models.accounts.tables import Account
from models.audit import AuditEntry
from models.partners import Partner
from scheduler.pauses import Pauses
from tests.cli import fail, fake_wechat_env, run
from tests.helpers import count, local
from tests.pushes import add_resident, outbox_row, queue

OPS = "ops"
WANG = "wang"
VIEWER = "viewer"


@pytest.fixture(autouse=True)
def accounts(staff: CliRunner, services: Services) -> None:
    """An admin, a staff member and a viewer to act as; their own audit entries are left
    out of :func:`entries`, which reads what the test's commands wrote."""
    for login, role in ((OPS, "admin"), (WANG, "staff"), (VIEWER, "viewer")):
        add = ("accounts", "add", login, "--role", role, "--password-stdin")
        run(staff, *add, input="x" * 16 + "\n")


def entries(services: Services) -> list[AuditEntry]:
    """The entries written after the accounts were added, oldest first."""
    with services.session_factory() as db:
        query = select(AuditEntry).where(AuditEntry.action != "account.add")
        return list(db.execute(query.order_by(AuditEntry.id)).scalars())


def account_id(services: Services, login: str) -> int:
    with services.session_factory() as db:
        return db.execute(select(Account.id).where(Account.login == login)).scalar_one()


def authors(services: Services) -> list[tuple[str, str, int | None]]:
    """Who wrote each entry: (kind, name, account id)."""
    return [(e.actor_kind, e.actor_name, e.actor_account_id) for e in entries(services)]


def test_partners_add_is_audited_with_its_author(staff: CliRunner, services: Services) -> None:
    run(staff, "partners", "add", "镇建设办", "--kind", "government", "--contact-openid", "o-jsb")
    run(staff, "partners", "add", "爱乡小学", "--kind", "school", "--as", OPS)
    with services.session_factory() as db:
        ids = list(db.execute(select(Partner.id).order_by(Partner.id)).scalars())
    assert [
        (e.action, e.object_type, e.object_id, e.before, e.after) for e in entries(services)
    ] == [
        (
            "partner.add",
            "partner",
            ids[0],
            None,
            {"name": "镇建设办", "kind": "government", "contact_openid": "o-jsb"},
        ),
        (
            "partner.add",
            "partner",
            ids[1],
            None,
            {"name": "爱乡小学", "kind": "school", "contact_openid": None},
        ),
    ]
    assert authors(services) == [
        ("os_user", os_user().name, None),
        ("account", OPS, account_id(services, OPS)),
    ]
    assert entries(services)[0].actor_label == f"{os_user().name} (os user)"


def test_a_refused_partners_add_writes_nothing(staff: CliRunner, services: Services) -> None:
    run(staff, "partners", "add", "镇建设办", "--kind", "government")
    before = (count(services, Partner), len(entries(services)))
    assert fail(staff, "partners", "add", "村小", "--kind", "school", "--as", WANG) == (
        "error: --as: a staff account may not do this"
    )
    assert fail(staff, "partners", "add", "村小", "--kind", "school", "--as", "nobody") == (
        "error: --as: there is no account nobody"
    )
    assert fail(staff, "partners", "add", "村小", "--kind", "club").startswith(
        "error: unknown partner kind 'club'"
    )
    assert fail(staff, "partners", "add", "镇建设办", "--kind", "ngo") == (
        "error: a partner named '镇建设办' exists already"
    )
    assert (count(services, Partner), len(entries(services))) == before


def test_broadcasts_sent_scheduled_and_cancelled_are_audited(
    staff: CliRunner, services: Services
) -> None:
    add_resident(services, "o-1")
    run(staff, "broadcast", "--text", "停水通知", "--audience", "all", "--as", WANG)
    at = local(timedelta(days=1))
    run(staff, "broadcast", "--text", "明天见", "--audience", "all", "--at", at, "--mass")
    with services.session_factory() as db:
        sent, scheduled = db.execute(select(Broadcast).order_by(Broadcast.id)).scalars()
    run(staff, "broadcasts", "cancel", str(scheduled.id), "--as", OPS)
    assert [(e.action, e.object_type, e.object_id) for e in entries(services)] == [
        ("broadcast.send", "broadcast", sent.id),
        ("broadcast.schedule", "broadcast", scheduled.id),
        ("broadcast.cancel", "broadcast", scheduled.id),
    ]
    send, schedule, cancel = entries(services)
    assert send.before is None and send.after == {
        "audience": "all",
        "event_id": None,
        "mass": False,
        "scheduled_at": None,
        "text": "停水通知",
    }
    assert schedule.after is not None and schedule.after["mass"] is True
    assert schedule.after["scheduled_at"] == scheduled.scheduled_at.isoformat()
    assert cancel.before == {
        "status": "scheduled",
        "scheduled_at": scheduled.scheduled_at.isoformat(),
    }
    assert cancel.after == {"status": "cancelled"}
    assert authors(services) == [
        ("account", WANG, account_id(services, WANG)),
        ("os_user", os_user().name, None),
        ("account", OPS, account_id(services, OPS)),
    ]
    with services.session_factory() as db:
        created_by = list(db.execute(select(Broadcast.created_by).order_by(Broadcast.id)).scalars())
        cancelled = db.get_one(Broadcast, scheduled.id)
    assert created_by == [WANG, f"{os_user().name} (os user)"]
    assert cancelled.error is not None and cancelled.error.endswith(f"by {OPS}")


def test_a_refused_broadcast_or_cancel_writes_nothing(staff: CliRunner, services: Services) -> None:
    add_resident(services, "o-1")
    run(
        staff,
        "broadcast",
        "--text",
        "明天见",
        "--audience",
        "all",
        "--at",
        local(timedelta(days=1)),
    )
    scheduled = "1"
    before = (count(services, Broadcast), count(services, OutboxMessage), len(entries(services)))
    run(staff, "broadcast", "--text", "停水通知", "--audience", "all", "--dry-run")
    assert fail(staff, "broadcast", "--text", "x", "--audience", "all", "--as", VIEWER) == (
        "error: --as: a viewer account may not do this"
    )
    assert fail(staff, "broadcast", "--text", "x", "--audience", "nobody").startswith("error: ")
    assert fail(staff, "broadcasts", "cancel", scheduled, "--as", VIEWER) == (
        "error: --as: a viewer account may not do this"
    )
    assert fail(staff, "broadcasts", "cancel", "99") == "error: there is no broadcast 99"
    assert (
        count(services, Broadcast),
        count(services, OutboxMessage),
        len(entries(services)),
    ) == before
    run(staff, "broadcasts", "cancel", scheduled)
    assert fail(staff, "broadcasts", "cancel", scheduled).startswith(
        f"error: broadcast {scheduled} is cancelled"
    )
    assert [e.action for e in entries(services)] == ["broadcast.schedule", "broadcast.cancel"]


def test_outbox_retry_is_audited_when_it_revives_pushes(
    staff: CliRunner, services: Services
) -> None:
    add_resident(services, "o-ops")
    dead = queue(services, "o-ops", "ops-1")
    queue(services, "o-ops", "ops-2", kind="promotion")
    with services.session_factory() as db, db.begin():
        db.execute(update(OutboxMessage).where(OutboxMessage.id == dead).values(status="dead"))
    assert fail(staff, "outbox", "retry", "--dead", "--as", WANG) == (
        "error: --as: a staff account may not do this"
    )
    assert fail(staff, "outbox", "retry", "--dead", "--kind", "nope").startswith(
        "error: unknown kind 'nope'; kinds: "
    )
    assert "0 dead pushes" in run(staff, "outbox", "retry", "--dead", "--kind", "promotion").output
    assert outbox_row(services, dead).status == "dead" and entries(services) == []
    assert "1 dead pushes" in run(staff, "outbox", "retry", "--dead", "--as", OPS).output
    [entry] = entries(services)
    assert (entry.action, entry.object_type, entry.object_id) == ("outbox.retry", "outbox", None)
    assert entry.before is None and entry.after == {"kind": None, "ids": None, "retried": 1}
    assert (entry.actor_kind, entry.actor_name) == ("account", OPS)


def test_outbox_resume_is_audited_with_the_channels_it_lifted(
    staff: CliRunner, services: Services
) -> None:
    pauses = Pauses(services.redis)
    now = services.clock()
    pauses.pause("need_status", "custom", Refusal.DAILY_QUOTA, "errcode 45009", now)
    assert fail(staff, "outbox", "resume", "--kind", "need_status", "--as", WANG) == (
        "error: --as: a staff account may not do this"
    )
    assert [pause.kind for pause in pauses.all()] == ["need_status"] and entries(services) == []
    run(staff, "outbox", "resume", "--kind", "need_status")
    assert pauses.all() == []
    [entry] = entries(services)
    assert (entry.action, entry.object_type, entry.object_id) == ("outbox.resume", "outbox", None)
    assert entry.after == {"kind": "need_status", "channels": "custom", "released": 0}
    assert (entry.actor_kind, entry.actor_name) == ("os_user", os_user().name)
    run(staff, "outbox", "resume", "--kind", "need_status", "--as", OPS)
    assert len(entries(services)) == 1  # nothing was paused: nothing changed


@pytest.fixture
def wechat(staff: CliRunner, fake_wechat: FakeWeChatServer) -> FakeWeChatServer:
    """The command line talks to the fake WeChat API as the test account."""
    staff.env.update(fake_wechat_env(fake_wechat))
    return fake_wechat


def test_menu_push_is_audited_once_wechat_took_it(
    staff: CliRunner, services: Services, wechat: FakeWeChatServer
) -> None:
    assert fail(staff, "menu", "push", "--as", WANG) == (
        "error: --as: a staff account may not do this"
    )
    assert wechat.calls("menu/create") == []
    wechat.add_fault("menu/create", errcode=-1)
    assert "WeChat refused the menu" in fail(staff, "menu", "push")
    assert entries(services) == []
    run(staff, "menu", "push", "--as", OPS)
    [entry] = entries(services)
    assert (entry.action, entry.object_type, entry.object_id) == ("menu.push", "menu", None)
    assert entry.after == {"buttons": "活动, 需求, 帮助"}
    assert (entry.actor_kind, entry.actor_account_id) == ("account", account_id(services, OPS))
