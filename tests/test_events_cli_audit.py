"""What staff do to events from the CLI is in the audit log, as from the console: the
``--as`` account (whose role must allow it; a partner's, only at its own events), else
the operating-system user."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.services import Services
from models.audit import Actor, ActorKind, AuditAction, AuditEntry, AuditObject
from models.base import utcnow
from models.events.queries import get_event
from models.events.signups import sign_up
from models.events.tables import Attendance, EventStatus
from models.partners import PartnerKind, add_partner
from models.residents import get_or_create_resident
from tests.cli import fail, run
from tests.console import MakeAccount
from tests.helpers import count, local

# The tags these events are given are in the managed list.
pytestmark = pytest.mark.usefixtures("usual_tags")


def entries(services: Services) -> list[AuditEntry]:
    """The entries about events (adding the accounts is in the log too)."""
    with services.session_factory() as db:
        query = select(AuditEntry).where(AuditEntry.object_type == AuditObject.EVENT)
        return list(db.execute(query.order_by(AuditEntry.id)).scalars())


def creating(ahead: timedelta) -> tuple[str, ...]:
    """``events create``'s arguments for an event starting ``ahead`` of now."""
    return ("events", "create", "--title", "义诊", "--starts-at", local(ahead), "--capacity", "5")


def test_each_change_names_who_made_it(
    staff: CliRunner, services: Services, make_account: MakeAccount
) -> None:
    make_account("li", "staff")
    event_id = int(run(staff, *creating(timedelta(hours=1)), "--as", "li").stdout)
    run(staff, "events", "update", str(event_id), "--place", "卫生室", "--tag", "elderly")
    run(staff, "events", "publish", str(event_id), "--as", "li")
    with services.session_factory() as db, db.begin():
        # The CLI keeps real time, as a resident signing up does.
        sign_up(db, event_id, get_or_create_resident(db, "o-1", utcnow()), 1, utcnow())
    run(staff, "events", "checkin", str(event_id), "--openid", "o-1", "--as", "li")
    run(staff, "events", "checkin", str(event_id), "--openid", "o-1", "--as", "li")  # again
    run(staff, "events", "cancel", str(event_id), "--reason", "下雨", "--as", "li")
    found = entries(services)
    assert [e.action for e in found] == [
        AuditAction.EVENT_CREATE,
        AuditAction.EVENT_UPDATE,
        AuditAction.EVENT_PUBLISH,
        AuditAction.EVENT_CHECKIN,
        AuditAction.EVENT_CANCEL,
    ]
    assert {e.object_id for e in found} == {event_id}
    assert found[1].actor_kind == ActorKind.OS_USER
    assert [e.actor_name for e in found if e.actor_kind == ActorKind.ACCOUNT] == ["li"] * 4
    assert found[1].before == {"place": "", "tags": ""}
    assert found[1].after == {"place": "卫生室", "tags": "elderly", "told": 0}
    assert found[3].after == {"resident": 1, "method": "staff", "party": 1, "walk_in": False}
    assert found[4].after == {"status": "cancelled", "reason": "下雨", "told": 1}


def test_a_role_that_may_not_is_refused_and_nothing_changes(
    staff: CliRunner, services: Services, make_account: MakeAccount
) -> None:
    make_account("ro", "viewer")
    line = fail(staff, *creating(timedelta(days=2)), "--as", "ro")
    assert line == "error: --as: a viewer account may not do this"
    event_id = int(run(staff, *creating(timedelta(days=2))).stdout)
    line = fail(staff, "events", "cancel", str(event_id), "--reason", "x", "--as", "ro")
    assert line == "error: --as: a viewer account may not do this"
    with services.session_factory() as db:
        assert get_event(db, event_id).status == EventStatus.DRAFT
    assert [e.action for e in entries(services)] == [AuditAction.EVENT_CREATE]


def test_a_partner_checks_in_only_at_its_own_events(
    staff: CliRunner, services: Services, make_account: MakeAccount
) -> None:
    with services.session_factory() as db, db.begin():
        add_partner(db, Actor.os_user("test"), name="阳光社工", kind=PartnerKind.NGO, now=utcnow())
        add_partner(db, Actor.os_user("test"), name="其他", kind=PartnerKind.NGO, now=utcnow())
    make_account("sun", "partner", partner="阳光社工")
    soon = timedelta(hours=1)
    own = int(run(staff, *creating(soon), "--publish", "--partner", "阳光社工").stdout)
    other = int(run(staff, *creating(soon), "--publish", "--partner", "其他").stdout)
    with services.session_factory() as db, db.begin():
        for event_id in (own, other):
            sign_up(db, event_id, get_or_create_resident(db, "o-1", utcnow()), 1, utcnow())
    line = fail(staff, "events", "checkin", str(other), "--openid", "o-1", "--as", "sun")
    assert line == f"error: there is no event {other}"
    run(staff, "events", "checkin", str(own), "--openid", "o-1", "--as", "sun")
    assert count(services, Attendance) == 1
    checked = [e for e in entries(services) if e.action == AuditAction.EVENT_CHECKIN]
    assert [(e.object_id, e.actor_name) for e in checked] == [(own, "sun")]


def test_a_walk_in_names_who_added_it_and_a_partner_adds_only_at_its_own_events(
    staff: CliRunner, services: Services, make_account: MakeAccount
) -> None:
    with services.session_factory() as db, db.begin():
        add_partner(db, Actor.os_user("test"), name="阳光社工", kind=PartnerKind.NGO, now=utcnow())
    make_account("sun", "partner", partner="阳光社工")
    soon = timedelta(hours=1)
    own = int(run(staff, *creating(soon), "--publish", "--partner", "阳光社工").stdout)
    other = int(run(staff, *creating(soon), "--publish").stdout)
    line = fail(staff, "events", "walk-in", str(other), "--name", "张三", "--as", "sun")
    assert line == f"error: there is no event {other}"
    run(staff, "events", "walk-in", str(own), "--name", "张三", "--as", "sun")
    [added] = [e for e in entries(services) if e.action == AuditAction.EVENT_CHECKIN]
    assert (added.object_id, added.actor_name) == (own, "sun")
    assert added.after is not None and added.after["walk_in"] is True
    assert count(services, Attendance) == 1
