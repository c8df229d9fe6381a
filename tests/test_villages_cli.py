"""``aixiang villages`` and ``events ... --village``: every change audited, every mistake
one line with exit 2 and nothing written."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from bot.services import Services
from models.audit import AuditEntry
from models.villages.tables import Village
from tests.cli import fail, run
from tests.events import MakeEvent
from tests.helpers import count, local


def listed(staff: CliRunner, *options: str) -> list[dict[str, object]]:
    return list(json.loads(run(staff, "villages", "list", "--json", *options).stdout))


def test_add_list_rename_retire(staff: CliRunner, services: Services) -> None:
    assert run(staff, "villages", "add", "朝阳村").output == "village 1: 朝阳村 added\n"
    added = json.loads(run(staff, "villages", "add", "一组", "--in", "朝阳村", "--json").stdout)
    assert added == {"id": 2, "village": "朝阳村", "group": "一组", "retired": False}
    run(staff, "villages", "add", "李家村")
    run(staff, "villages", "add", "一组", "--in", "李家村")
    assert [(row["village"], row["group"]) for row in listed(staff)] == [
        ("朝阳村", None),
        ("朝阳村", "一组"),
        ("李家村", None),
        ("李家村", "一组"),
    ]
    table = run(staff, "villages", "list").output.splitlines()
    assert table[0].split() == ["id", "village", "group", "retired"]

    assert run(staff, "villages", "rename", "朝阳村 一组", "东组").output == (
        "village 2: 朝阳村·东组 renamed\n"
    )
    assert run(staff, "villages", "rename", "朝阳村", "向阳村").output == (
        "village 1: 向阳村 renamed\n"
    )
    assert run(staff, "villages", "retire", "向阳村").output == "village 1: 向阳村 retired\n"
    assert [row["id"] for row in listed(staff)] == [3, 4]
    assert [(row["id"], row["retired"]) for row in listed(staff, "--all")] == [
        (1, True),
        (2, True),
        (3, False),
        (4, False),
    ]
    with services.session_factory() as db:
        entries = db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    assert [(e.action, e.object_id, e.before, e.after) for e in entries] == [
        ("village.add", 1, None, {"name": "朝阳村", "within": None}),
        ("village.add", 2, None, {"name": "一组", "within": "朝阳村"}),
        ("village.add", 3, None, {"name": "李家村", "within": None}),
        ("village.add", 4, None, {"name": "一组", "within": "李家村"}),
        ("village.rename", 2, {"name": "一组"}, {"name": "东组"}),
        ("village.rename", 1, {"name": "朝阳村"}, {"name": "向阳村"}),
        ("village.retire", 1, None, {"retired_at": entries[-1].after["retired_at"]}),
    ]
    assert {entry.actor_label.endswith("(os user)") for entry in entries} == {True}


def test_mistakes_are_one_line_and_write_nothing(staff: CliRunner, services: Services) -> None:
    run(staff, "villages", "add", "朝阳村")
    run(staff, "villages", "add", "一组", "--in", "朝阳村")
    run(staff, "villages", "add", "李家村")
    run(staff, "villages", "add", "一组", "--in", "李家村")
    assert fail(staff, "villages", "add", "朝阳村") == "error: '朝阳村' is already there."
    assert fail(staff, "villages", "add", " 朝阳村 ") == "error: '朝阳村' is already there."
    assert fail(staff, "villages", "add", "12").startswith("error: A village or group name")
    assert fail(staff, "villages", "add", "a·b").startswith("error: A village or group name")
    assert fail(staff, "villages", "add", "村" * 51).startswith("error: A village or group name")
    assert fail(staff, "villages", "add", "三组", "--in", "王庄") == (
        "error: There is no village or group called '王庄'."
    )
    assert fail(staff, "villages", "add", "甲", "--in", "朝阳村·一组") == (
        "error: '一组' is a group; a group holds no groups."
    )
    assert fail(staff, "villages", "rename", "一组", "二组").startswith(
        "error: More than one is called '一组'"
    )
    assert fail(staff, "villages", "rename", "李家村", "朝阳村") == (
        "error: '朝阳村' is already there."
    )
    run(staff, "villages", "retire", "李家村")
    assert fail(staff, "villages", "retire", "李家村") == "error: '李家村' is retired."
    assert fail(staff, "villages", "add", "二组", "--in", "李家村") == "error: '李家村' is retired."
    assert count(services, Village) == 4
    assert count(services, AuditEntry) == 5


def test_only_an_account_allowed_to_manage_villages_may_act_as_itself(
    staff: CliRunner, services: Services
) -> None:
    run(staff, "accounts", "add", "ops", "--role", "admin", "--password-stdin", input="x" * 16)
    run(staff, "accounts", "add", "wang", "--role", "staff", "--password-stdin", input="x" * 16)
    assert fail(staff, "villages", "add", "朝阳村", "--as", "wang") == (
        "error: --as: a staff account may not do this"
    )
    run(staff, "villages", "add", "朝阳村", "--as", "ops")
    with services.session_factory() as db:
        entry = db.execute(
            select(AuditEntry).where(AuditEntry.action == "village.add")
        ).scalar_one()
    assert entry.actor_label == "ops"


def test_events_carry_a_village_by_name(
    staff: CliRunner, services: Services, make_event: MakeEvent
) -> None:
    run(staff, "villages", "add", "朝阳村")
    run(staff, "villages", "add", "一组", "--in", "朝阳村")
    run(staff, "villages", "add", "李家村")
    other = make_event(title="读书会")
    created = json.loads(
        run(
            staff,
            "events",
            "create",
            "--title",
            "清洁日",
            "--starts-at",
            local(timedelta(days=5)),
            "--capacity",
            "5",
            "--village",
            "朝阳村·一组",
            "--json",
        ).stdout
    )
    assert created["village"] == "朝阳村·一组"
    in_chaoyang = json.loads(run(staff, "events", "list", "--village", "朝阳村", "--json").stdout)
    assert [row["id"] for row in in_chaoyang] == [created["id"]]
    assert json.loads(run(staff, "events", "list", "--village", "李家村", "--json").stdout) == []
    moved = json.loads(
        run(staff, "events", "update", str(other), "--village", "李家村", "--json").stdout
    )
    assert moved["village"] == "李家村"
    assert fail(staff, "events", "update", str(other), "--village", "王庄") == (
        "error: There is no village or group called '王庄'."
    )
    cleared = json.loads(
        run(staff, "events", "update", str(other), "--village", "none", "--json").stdout
    )
    assert cleared["village"] is None
