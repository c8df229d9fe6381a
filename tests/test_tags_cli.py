"""``aixiang tags`` and the tags other commands take: a tag named by either language's
name reaches the same tag, every change audited, every mistake one line with exit 2 and
nothing written, and only an account allowed to manage tags acts as itself."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from bot.services import Services
from models.audit import AuditEntry
from models.events.signups import sign_up
from models.events.tables import Event
from models.residents import get_or_create_resident
from models.tags.tables import Tag
from tests.cli import fail, run
from tests.conftest import FakeClock
from tests.events import MakeEvent
from tests.helpers import count, local


def listed(staff: CliRunner) -> list[dict[str, object]]:
    return list(json.loads(run(staff, "tags", "list", "--json").stdout))


def test_add_list_rename_deactivate_merge(staff: CliRunner, services: Services) -> None:
    assert run(staff, "tags", "add", "--zh", "长者", "--en", "elderly").output == (
        "tag elderly: 长者/elderly added\n"
    )
    added = json.loads(run(staff, "tags", "add", "--zh", "儿童", "--en", "Kids", "--json").stdout)
    assert added == {"key": "kids", "name_zh": "儿童", "name_en": "Kids", "active": True}
    assert run(staff, "tags", "rename", "KIDS", "--en", "Children").output == (
        "tag kids: 儿童/Children renamed\n"
    )
    run(staff, "tags", "add", "--zh", "老人", "--en", "old people")
    run(staff, "tags", "deactivate", "儿童")
    assert listed(staff) == [
        {"key": "elderly", "name_zh": "长者", "name_en": "elderly", "active": True},
        {"key": "kids", "name_zh": "儿童", "name_en": "Children", "active": False},
        {"key": "old-people", "name_zh": "老人", "name_en": "old people", "active": True},
    ]
    table = run(staff, "tags", "list").output.splitlines()
    assert table[0].split() == ["key", "name_zh", "name_en", "active"]
    run(staff, "tags", "activate", "children")
    assert run(staff, "tags", "merge", "老人", "elderly").output == (
        "tag 老人/old people merged into 长者/elderly: 0 event(s) re-tagged\n"
    )
    with services.session_factory() as db:
        entries = db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    assert [(e.action, e.object_id) for e in entries] == [
        ("tag.add", 1),
        ("tag.add", 2),
        ("tag.rename", 2),
        ("tag.add", 3),
        ("tag.deactivate", 2),
        ("tag.activate", 2),
        ("tag.merge", 3),
    ]
    assert {entry.actor_label.endswith("(os user)") for entry in entries} == {True}


def test_mistakes_are_one_line_and_write_nothing(staff: CliRunner, services: Services) -> None:
    run(staff, "tags", "add", "--zh", "长者", "--en", "elderly")
    assert fail(staff, "tags", "add", "--zh", "老人", "--en", "Elderly") == (
        "error: 'Elderly' is already a name of the tag 长者/elderly."
    )
    assert fail(staff, "tags", "add", "--zh", "长者", "--en", "old") == (
        "error: '长者' is already a name of the tag 长者/elderly."
    )
    assert fail(staff, "tags", "add", "--zh", " ", "--en", "old").startswith(
        "error: A tag's name is not empty"
    )
    assert fail(staff, "tags", "rename", "老人", "--zh", "老年") == (
        "error: There is no tag called '老人'. The tags are: 长者/elderly."
    )
    assert fail(staff, "tags", "rename", "长者") == (
        "error: nothing to change: give --zh, --en or both"
    )
    assert fail(staff, "tags", "merge", "长者", "elderly") == (
        "error: The tag 长者/elderly cannot be merged into itself."
    )
    assert fail(staff, "tags", "activate", "elderly") == (
        "error: The tag 长者/elderly is in use already."
    )
    assert count(services, Tag) == 1
    assert count(services, AuditEntry) == 1


def test_only_an_account_allowed_to_manage_tags_may_act_as_itself(
    staff: CliRunner, services: Services
) -> None:
    run(staff, "accounts", "add", "ops", "--role", "admin", "--password-stdin", input="x" * 16)
    run(staff, "accounts", "add", "wang", "--role", "staff", "--password-stdin", input="x" * 16)
    assert fail(staff, "tags", "add", "--zh", "长者", "--en", "elderly", "--as", "wang") == (
        "error: --as: a staff account may not do this"
    )
    assert count(services, Tag) == 0
    run(staff, "tags", "add", "--zh", "长者", "--en", "elderly", "--as", "ops")
    with services.session_factory() as db:
        entry = db.execute(select(AuditEntry).where(AuditEntry.action == "tag.add")).scalar_one()
    assert entry.actor_label == "ops"


def test_events_take_a_tag_by_either_name(staff: CliRunner, services: Services) -> None:
    run(staff, "tags", "add", "--zh", "长者", "--en", "elderly")
    run(staff, "tags", "add", "--zh", "儿童", "--en", "children")
    base = ("events", "create", "--title", "茶会", "--capacity", "5", "--starts-at")

    def create(days: int, tag: str) -> dict[str, object]:
        made = run(staff, *base, local(timedelta(days=days)), "--tag", tag, "--json")
        return dict(json.loads(made.stdout))

    chinese, english = create(3, "长者"), create(4, "Elderly")
    assert chinese["tags"] == english["tags"] == ["elderly"]
    run(staff, "events", "update", str(chinese["id"]), "--tag", "儿童", "--tag", "ELDERLY")
    with services.session_factory() as db:
        assert db.get_one(Event, chinese["id"]).tags == ["children", "elderly"]
    assert fail(staff, *base, local(timedelta(days=5)), "--tag", "老人") == (
        "error: There is no tag called '老人'. The tags are: 长者/elderly, 儿童/children."
    )
    run(staff, "tags", "deactivate", "children")
    assert fail(staff, *base, local(timedelta(days=5)), "--tag", "儿童") == (
        "error: The tag 儿童/children is not in use."
    )
    assert count(services, Event) == 2


def test_a_broadcast_to_either_name_reaches_the_same_residents(
    staff: CliRunner, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    """The free-text days made 长者 and elderly two audiences; now they are one tag."""
    tagged = make_event(tags=["elderly"])
    other = make_event(tags=["children"])
    with services.session_factory() as db, db.begin():
        for openid, event_id in (("o-1", tagged), ("o-2", tagged), ("o-3", other)):
            resident = get_or_create_resident(db, openid, clock.now)
            sign_up(db, event_id, resident, 1, clock.now)
    for spec in ("tag:长者", "tag:elderly", "tag:ELDERLY"):
        dry = ("broadcast", "--text", "茶会改期", "--audience", spec, "--dry-run", "--json")
        data = json.loads(run(staff, *dry).stdout)
        assert (data["audience"], data["recipients"]) == ("tag:elderly", 2)
    assert fail(staff, "broadcast", "--text", "x", "--audience", "tag:老人", "--dry-run") == (
        "error: --audience tag:老人: There is no tag called '老人'. "
        "The tags are: 长者/elderly, 儿童/children."
    )
