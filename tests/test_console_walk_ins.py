"""Walk-ins staff add by hand on an event's roster (models/events/checkin.py add_walk_in,
bot/console/events/roster.py), on both databases: the name, phone and party kept on an
attendance row without a resident, shown in the roster, counted as walk-ins in
event_summary and in the places taken, audited; each mistake next to its field with
nothing saved; a partner adds only at its own events, read-only roles not at all; the
CLI's roster lists one by name."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from bot.services import Services
from models.audit import Actor, AuditAction, AuditEntry
from models.events.checkin import add_walk_in
from models.events.queries import occupancy
from models.events.tables import Attendance, Event
from models.impact.residents import residents_served
from models.impact.scope import ImpactScope
from models.partners import PartnerKind, add_partner
from tests.cli import run
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount
from tests.events import MakeEvent
from tests.test_console_events import field_errors


def signed_in(
    browser: Callable[[], Console], make_account: MakeAccount, login: str, role: str, **kw: Any
) -> Console:
    make_account(login, role, language="en", **kw)
    person = browser()
    person.sign_in(login)
    return person


def add(person: Console, event_id: int, **fields: str) -> Any:
    """The walk-in form posted, as the page posts it (plainly: no htmx)."""
    return person.post(f"/console/events/{event_id}/walk-ins", fields)


def summary(services: Services, event_id: int) -> tuple[int, int, int]:
    with services.session_factory() as db:
        row = db.execute(
            text(
                "SELECT attended, walk_ins, unique_residents FROM event_summary"
                " WHERE event_id = :id"
            ),
            {"id": event_id},
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


def checkins(services: Services) -> list[AuditEntry]:
    with services.session_factory() as db:
        return list(
            db.execute(
                select(AuditEntry).where(AuditEntry.action == AuditAction.EVENT_CHECKIN)
            ).scalars()
        )


def test_staff_add_a_walk_in_who_counts_and_shows_by_name(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    make_event: MakeEvent,
) -> None:
    event_id = make_event(capacity=5, max_party_size=3)
    staff = signed_in(browser, make_account, "li", "staff")
    clock.advance(days=2)
    added = add(
        staff,
        event_id,
        walk_in_name=" 张 阿姨 ",
        walk_in_phone="+86 138-0000-1111",
        walk_in_party="3",
    )
    assert added.status_code == 302
    page = staff.get(added.headers["Location"]).get_data(as_text=True)
    assert "张 阿姨 added as a walk-in (party of 3)." in page
    attended = page[page.index('id="attendance"') :]
    assert "张 阿姨" in attended and 'href="tel:13800001111"' in attended
    assert "Walk-ins: 3" in page
    assert summary(services, event_id) == (0, 3, 0), "a walk-in, and no resident"
    with services.session_factory() as db:
        event = db.get_one(Event, event_id)
        assert occupancy(db, event).places_left == 2
        scope = ImpactScope(
            event.starts_at - timedelta(days=1), event.starts_at + timedelta(days=1)
        )
        assert residents_served(db, scope) == 0, "served residents are residents"
    [entry] = checkins(services)
    assert entry.actor_name == "li" and entry.object_id == event_id
    assert entry.after == {
        "resident": None,
        "method": "staff",
        "party": 3,
        "walk_in": True,
        "name": "张 阿姨",
    }


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"walk_in_name": "  "}, "walk_in_name", "Give their name (at most 64 characters)."),
        ({"walk_in_name": "长" * 65}, "walk_in_name", "Give their name (at most 64 characters)."),
        (
            {"walk_in_phone": "12345"},
            "walk_in_phone",
            "Give an 11-digit mainland mobile number, or leave it empty.",
        ),
        ({"walk_in_party": "0"}, "walk_in_party", "A party is 1 to 2 people."),
        ({"walk_in_party": "three"}, "walk_in_party", "A party is 1 to 2 people."),
        ({"walk_in_party": "3"}, "walk_in_party", "A party is 1 to 2 people."),
    ],
)
def test_a_mistake_is_said_next_to_its_field_and_nothing_is_saved(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    make_event: MakeEvent,
    fields: dict[str, str],
    field: str,
    says: str,
) -> None:
    event_id = make_event(capacity=5, max_party_size=2)
    staff = signed_in(browser, make_account, "li", "staff")
    clock.advance(days=2)
    form = {"walk_in_name": "王伯", "walk_in_phone": "", "walk_in_party": "1", **fields}
    refused = add(staff, event_id, **form)
    assert refused.status_code == 400
    assert field_errors(refused) == {field: says}
    assert f'value="{form["walk_in_name"]}"' in refused.get_data(as_text=True)
    with services.session_factory() as db:
        assert db.execute(select(Attendance)).first() is None
    assert checkins(services) == []


def test_no_room_and_a_closed_door_are_refused(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    make_event: MakeEvent,
) -> None:
    event_id = make_event(capacity=3, max_party_size=3)
    staff = signed_in(browser, make_account, "li", "staff")
    add(staff, event_id, walk_in_name="王伯", walk_in_party="1")
    page = staff.get(f"/console/events/{event_id}").get_data(as_text=True)
    assert "Check-in opens two hours before the start." in page
    clock.advance(days=2)
    assert add(staff, event_id, walk_in_name="王伯", walk_in_party="2").status_code == 302
    add(staff, event_id, walk_in_name="李婶", walk_in_party="2")
    page = staff.get(f"/console/events/{event_id}").get_data(as_text=True)
    assert "No place is free for a walk-in." in page
    assert "李婶" not in page and "王伯" in page
    assert summary(services, event_id) == (0, 2, 0) and len(checkins(services)) == 1


def test_a_partner_adds_walk_ins_only_at_its_own_events_and_readers_not_at_all(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    make_event: MakeEvent,
) -> None:
    with services.session_factory() as db, db.begin():
        add_partner(db, Actor.os_user("test"), name="阳光社工", kind=PartnerKind.NGO, now=clock.now)
        add_partner(db, Actor.os_user("test"), name="其他", kind=PartnerKind.NGO, now=clock.now)
    own = make_event(partner_names=["阳光社工"])
    other = make_event(partner_names=["其他"])
    partner = signed_in(browser, make_account, "sun", "partner", partner="阳光社工")
    viewer = signed_in(browser, make_account, "kan", "viewer")
    clock.advance(days=2)
    assert 'id="walk-in-form"' not in viewer.get(f"/console/events/{own}").get_data(as_text=True)
    assert add(viewer, own, walk_in_name="王伯").status_code == 403
    assert add(partner, other, walk_in_name="王伯").status_code == 404
    assert add(partner, own, walk_in_name="王伯", walk_in_party="1").status_code == 302
    assert summary(services, own) == (0, 1, 0) and summary(services, other) == (0, 0, 0)
    assert [entry.actor_name for entry in checkins(services)] == ["sun"]


def test_the_cli_roster_lists_a_walk_in_added_by_hand_by_name(
    staff: CliRunner, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    event_id = make_event(capacity=5, max_party_size=2)
    with services.session_factory() as db, db.begin():
        add_walk_in(db, event_id, "王伯", "", 2, clock.now + timedelta(days=2))
    data = json.loads(run(staff, "events", "roster", str(event_id), "--json").stdout)
    [row] = data["attendance"]
    assert (row["openid"], row["name"], row["party"], row["walk_in"]) == (None, "王伯", 2, True)
