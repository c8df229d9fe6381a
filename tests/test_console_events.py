"""Events in the console: the form's validation (each mistake next to its field, nothing
saved), the count of residents a move or a cancellation tells, shown before saving and
equal to the notices then queued, the roster's check-ins, the QR code, and who may see
and change what (a partner only its own events, read-only roles nothing)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from bot.app import create_app
from bot.services import Services
from bot.webhook_services import WebhookServices
from bot.wechat.fake_api.server import FakeWeChatServer
from models.audit import Actor, AuditAction, AuditEntry
from models.events.checkin import check_in
from models.events.queries import get_event
from models.events.signups import sign_up
from models.events.tables import Attendance, CheckinMethod, Event, EventStatus, Signup
from models.partners import PartnerKind, add_partner
from models.push.registry import PushKind
from models.residents import get_or_create_resident
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount
from tests.events import MakeEvent
from tests.helpers import SHANGHAI, count, pushes
from tests.villages import add_villages

# The tags these events are given are in the managed list.
pytestmark = pytest.mark.usefixtures("usual_tags")

FIELD_ERROR = re.compile(r'id="error-([a-z_]+)"[^>]*>([^<]*)<')
TOLD = re.compile(r'name="told" value="(\d+)"')


@pytest.fixture
def staff(browser: Callable[[], Console], make_account: MakeAccount) -> Console:
    make_account("li", "staff", language="en")
    person = browser()
    person.sign_in("li")
    return person


@pytest.fixture
def partner_events(services: Services, clock: FakeClock, make_event: MakeEvent) -> tuple[int, int]:
    """An event co-hosted by 阳光社工 and one that is not (ids, in that order)."""
    with services.session_factory() as db, db.begin():
        add_partner(db, Actor.os_user("test"), name="阳光社工", kind=PartnerKind.NGO, now=clock.now)
        add_partner(db, Actor.os_user("test"), name="其他", kind=PartnerKind.NGO, now=clock.now)
    return make_event(partner_names=["阳光社工"]), make_event(partner_names=["其他"])


def signed_in(
    browser: Callable[[], Console], make_account: MakeAccount, login: str, role: str, **kw: Any
) -> Console:
    make_account(login, role, language="en", **kw)
    person = browser()
    person.sign_in(login)
    return person


def field_errors(response: TestResponse) -> dict[str, str]:
    return dict(FIELD_ERROR.findall(response.get_data(as_text=True)))


def local_fields(moment: datetime, name: str = "starts") -> dict[str, str]:
    local = moment.astimezone(SHANGHAI)
    return {f"{name}_date": local.date().isoformat(), f"{name}_time": local.strftime("%H:%M")}


def event_form(clock: FakeClock, **fields: str) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {
        "title": "社区花园共建",
        "place": "社区花园",
        "capacity": "10",
        "max_party": "2",
        "tags": ["elderly", "children"],
        **local_fields(clock.now + timedelta(days=3)),
    }
    form.update(fields)
    return form


def people(services: Services, clock: FakeClock, event_id: int, *parties: int) -> list[int]:
    """Residents signed up with these party sizes; their ids."""
    ids = []
    with services.session_factory() as db, db.begin():
        for index, party in enumerate(parties):
            resident = get_or_create_resident(db, f"o-{event_id}-{index}", clock.now)
            resident.name = f"居民{index}"
            resident.mobile = f"1380000000{index}"
            sign_up(db, event_id, resident, party, clock.now)
            ids.append(resident.id)
    return ids


def load(services: Services, event_id: int) -> Event:
    with services.session_factory() as db:
        event = get_event(db, event_id)
        db.expunge(event)
        return event


def test_staff_create_a_draft_with_the_pickers_in_local_time(
    staff: Console, services: Services, clock: FakeClock
) -> None:
    form = event_form(clock, starts_date="2026-05-04", starts_time="09:30")
    form.update(ends_date="2026-05-04", ends_time="11:00")
    response = staff.post("/console/events/new", form)
    assert response.status_code == 302
    [event] = _events(services)
    assert event.status == EventStatus.DRAFT
    assert event.starts_at == datetime(2026, 5, 4, 9, 30, tzinfo=SHANGHAI)
    assert event.ends_at == datetime(2026, 5, 4, 11, 0, tzinfo=SHANGHAI)
    assert (event.capacity, event.max_party_size) == (10, 2)
    assert event.tags == ["children", "elderly"]
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "2026-05-04 09:30" in page and "Event 1 created." in page
    [entry] = _audit(services, AuditAction.EVENT_CREATE)
    assert entry.actor_name == "li" and entry.object_id == event.id


def _events(services: Services) -> list[Event]:
    with services.session_factory() as db:
        found = list(db.execute(select(Event).order_by(Event.id)).scalars())
        for event in found:
            _ = event.tags
        return found


def _audit(services: Services, action: AuditAction) -> list[AuditEntry]:
    with services.session_factory() as db:
        return list(db.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars())


@pytest.mark.parametrize(
    ("fields", "field", "said"),
    [
        ({"starts_date": "2026-13-40"}, "starts", "Not a valid date."),
        ({"starts_time": ""}, "starts", "a date alone is not read as midnight"),
        ({"starts_date": ""}, "starts", "Choose the date too."),
        ({"ends_date": "2026-05-04"}, "ends", "a date alone is not read as midnight"),
        ({"starts_time": "25:61"}, "starts", "Not a valid time."),
        ({"starts_date": "2026-04-30", "starts_time": "09:00"}, "starts", "in the past"),
        ({"starts_date": "2027-06-01", "starts_time": "09:00"}, "starts", "a year ahead"),
        ({"capacity": "0"}, "capacity", "at least 1"),
        ({"capacity": "2147483648"}, "capacity", "at most 2147483647"),
        ({"capacity": "ten"}, "capacity", "whole number"),
        ({"capacity": "-3"}, "capacity", "whole number"),
        ({"capacity": ""}, "capacity", "Required."),
        ({"max_party": "11"}, "max_party", "cannot exceed the capacity"),
        ({"title": " "}, "title", "Required."),
        ({"title": "长" * 201}, "title", "at most 200"),
        ({"ends_date": "2026-05-04", "ends_time": "08:00"}, "ends", "after the start"),
    ],
)
def test_a_mistake_is_said_next_to_its_field_and_nothing_is_saved(
    staff: Console,
    services: Services,
    clock: FakeClock,
    fields: dict[str, str],
    field: str,
    said: str,
) -> None:
    form = {**event_form(clock, starts_date="2026-05-04", starts_time="09:30"), **fields}
    response = staff.post("/console/events/new", form)
    assert response.status_code == 400
    errors = field_errors(response)
    assert said in errors[field], errors
    assert count(services, Event) == 0
    assert _audit(services, AuditAction.EVENT_CREATE) == []
    # What was typed stays in the form.
    assert 'value="社区花园"' in response.get_data(as_text=True)


def test_a_mistake_in_chinese(
    browser: Callable[[], Console], make_account: MakeAccount, clock: FakeClock
) -> None:
    make_account("wang", "staff", language="zh")
    person = browser()
    person.sign_in("wang")
    response = person.post("/console/events/new", event_form(clock, starts_time=""))
    assert "只有日期不会当作零点" in field_errors(response)["starts"]


def test_publish_from_the_roster(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    event_id = make_event(publish=False)
    response = staff.post(f"/console/events/{event_id}/publish")
    assert response.status_code == 302
    assert load(services, event_id).status == EventStatus.PUBLISHED
    assert len(_audit(services, AuditAction.EVENT_PUBLISH)) == 1
    staff.post(f"/console/events/{event_id}/publish")
    assert len(_audit(services, AuditAction.EVENT_PUBLISH)) == 1


def test_moving_an_event_says_how_many_will_be_told_then_tells_exactly_them(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    event_id = make_event(capacity=3, max_party_size=2)
    people(services, clock, event_id, 2, 1, 1)  # two confirmed, the third waitlisted
    event = load(services, event_id)
    form = event_form(clock, capacity="3", tags="", **local_fields(event.starts_at))
    form.update(local_fields(event.ends_at, "ends"), place="社区活动室", max_party="1")
    first = staff.post(f"/console/events/{event_id}/edit", form)
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert "3 residents (confirmed or waitlisted) will be told" in page
    assert TOLD.findall(page) == ["3"]
    assert load(services, event_id).place == "社区花园"  # not saved yet
    assert pushes(services, PushKind.EVENT_MOVED) == []

    # Someone signs up meanwhile: the count shown no longer holds, so it is asked again.
    with services.session_factory() as db, db.begin():
        late = get_or_create_resident(db, "o-late", clock.now)
        sign_up(db, event_id, late, 1, clock.now)
    again = staff.post(f"/console/events/{event_id}/edit", {**form, "told": "3"})
    assert TOLD.findall(again.get_data(as_text=True)) == ["4"]
    assert load(services, event_id).place == "社区花园"

    saved = staff.post(f"/console/events/{event_id}/edit", {**form, "told": "4"})
    assert saved.status_code == 302
    assert load(services, event_id).place == "社区活动室"
    assert len(pushes(services, PushKind.EVENT_MOVED)) == 4
    [entry] = _audit(services, AuditAction.EVENT_UPDATE)
    assert entry.before == {"place": "社区花园", "max_party_size": 2}
    assert entry.after is not None and entry.after["told"] == 4


def test_an_edit_that_moves_nothing_asks_nothing(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    event_id = make_event()
    people(services, clock, event_id, 1)
    event = load(services, event_id)
    form = event_form(
        clock, title="新标题", max_party="1", tags="", **local_fields(event.starts_at)
    )
    form.update(local_fields(event.ends_at, "ends"))
    assert staff.post(f"/console/events/{event_id}/edit", form).status_code == 302
    assert load(services, event_id).title == "新标题"
    assert pushes(services, PushKind.EVENT_MOVED) == []


def test_cancelling_says_the_count_first(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    event_id = make_event(max_party_size=2)
    people(services, clock, event_id, 1, 2)
    page = staff.get(f"/console/events/{event_id}/cancel").get_data(as_text=True)
    assert "sent to 2 residents" in page
    refused = staff.post(f"/console/events/{event_id}/cancel", {"reason": " ", "told": "2"})
    assert refused.status_code == 400 and "Required." in field_errors(refused)["reason"]
    assert load(services, event_id).status == EventStatus.PUBLISHED
    stale = staff.post(f"/console/events/{event_id}/cancel", {"reason": "下雨", "told": "5"})
    assert stale.status_code == 409
    assert load(services, event_id).status == EventStatus.PUBLISHED
    done = staff.post(f"/console/events/{event_id}/cancel", {"reason": "下雨", "told": "2"})
    assert done.status_code == 302
    assert load(services, event_id).status == EventStatus.CANCELLED
    assert len(pushes(services, PushKind.EVENT_CANCELLED)) == 2
    [entry] = _audit(services, AuditAction.EVENT_CANCEL)
    assert entry.after == {"status": "cancelled", "reason": "下雨", "told": 2}


def test_the_list_shows_upcoming_past_and_drafts_by_tag(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    make_event(title="近期活动", tags=["elderly"])
    make_event(title="儿童活动", tags=["children"])
    make_event(title="草稿活动", publish=False)
    make_event(title="旧活动", starts_at=clock.now + timedelta(hours=1), ends_at=None)
    clock.advance(hours=2)
    upcoming = staff.get("/console/events/").get_data(as_text=True)
    assert "近期活动" in upcoming and "儿童活动" in upcoming
    assert "草稿活动" not in upcoming and "旧活动" not in upcoming
    assert "旧活动" in staff.get("/console/events/?show=past").get_data(as_text=True)
    drafts = staff.get("/console/events/?show=drafts").get_data(as_text=True)
    assert "草稿活动" in drafts and "近期活动" not in drafts
    tagged = staff.get("/console/events/?tag=children").get_data(as_text=True)
    assert "儿童活动" in tagged and "近期活动" not in tagged
    assert staff.get("/console/events/?show=nonsense").status_code == 200


def test_the_roster_lists_confirmed_waitlist_and_walk_ins(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    event_id = make_event(capacity=3, max_party_size=2)
    people(services, clock, event_id, 2, 2)
    clock.advance(days=2)
    with services.session_factory() as db, db.begin():
        walker = get_or_create_resident(db, "o-walker", clock.now)
        walker.name = "路人"
        check_in(db, event_id, walker, CheckinMethod.QR, clock.now)
    page = staff.get(f"/console/events/{event_id}").get_data(as_text=True)
    confirmed = page[page.index('id="confirmed"') : page.index('id="waitlist"')]
    waitlist = page[page.index('id="waitlist"') : page.index('id="attendance"')]
    assert "居民0" in confirmed and "13800000000" in confirmed
    assert "居民1" in waitlist and "居民0" not in waitlist
    assert "路人" in page[page.index('id="attendance"') :]
    assert "Walk-ins: 1" in page


def test_check_in_by_tapping_a_row_by_code_and_by_ticking_rows(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    event_id = make_event(capacity=10, max_party_size=3)
    people(services, clock, event_id, 3, 1, 1)
    rows = _signups(services, event_id)
    clock.advance(days=2)
    tapped = staff.post(
        f"/console/events/{event_id}/checkin/{rows[0].id}", headers={"HX-Request": "true"}
    )
    assert tapped.status_code == 200
    assert "居民0 checked in (party of 3)." in tapped.get_data(as_text=True)
    assert 'id="roster"' in tapped.get_data(as_text=True)
    by_code = staff.post(f"/console/events/{event_id}/checkin/code", {"code": rows[1].checkin_code})
    assert by_code.status_code == 302
    bad = staff.post(
        f"/console/events/{event_id}/checkin/code", {"code": "12ab"}, headers={"HX-Request": "1"}
    )
    assert bad.status_code == 409 and "6 digits" in bad.get_data(as_text=True)
    unknown = staff.post(
        f"/console/events/{event_id}/checkin/code",
        {"code": "000000" if rows[2].checkin_code != "000000" else "000001"},
        headers={"HX-Request": "1"},
    )
    assert "No sign-up has this code." in unknown.get_data(as_text=True)
    ticked = staff.client.post(
        f"/console/events/{event_id}/checkin",
        data={"csrf_token": staff.csrf(), "signup": [str(rows[2].id), str(rows[0].id)]},
        headers={"HX-Request": "1"},
    )
    assert "1 sign-ups checked in." in ticked.get_data(as_text=True)
    assert count(services, Attendance) == 3
    assert len(_audit(services, AuditAction.EVENT_CHECKIN)) == 3


def test_ticked_rows_go_in_together_or_not_at_all(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    event_id = make_event(capacity=2, max_party_size=2)
    people(services, clock, event_id, 1, 2)  # the second waits: no walk-in place for two
    with services.session_factory() as db, db.begin():
        sign_up(db, event_id, get_or_create_resident(db, "o-x", clock.now), 1, clock.now)
    first, waiting, third = _signups(services, event_id)
    clock.advance(days=2)
    refused = staff.client.post(
        f"/console/events/{event_id}/checkin",
        data={
            "csrf_token": staff.csrf(),
            "signup": [str(first.id), str(waiting.id), str(third.id)],
        },
        headers={"HX-Request": "1"},
    )
    assert refused.status_code == 409
    assert "Nobody was checked in" in refused.get_data(as_text=True)
    assert count(services, Attendance) == 0
    assert _audit(services, AuditAction.EVENT_CHECKIN) == []


def test_check_in_before_it_opens_is_refused(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    event_id = make_event()
    people(services, clock, event_id, 1)
    [row] = _signups(services, event_id)
    response = staff.post(
        f"/console/events/{event_id}/checkin/{row.id}", headers={"HX-Request": "1"}
    )
    assert response.status_code == 409
    assert "Check-in opens two hours before the start." in response.get_data(as_text=True)
    assert count(services, Attendance) == 0


def _signups(services: Services, event_id: int) -> list[Signup]:
    with services.session_factory() as db:
        return list(
            db.execute(
                select(Signup).where(Signup.event_id == event_id).order_by(Signup.id)
            ).scalars()
        )


def test_a_partner_sees_and_checks_in_only_its_own_events(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    partner_events: tuple[int, int],
) -> None:
    own, other = partner_events
    people(services, clock, own, 1)
    people(services, clock, other, 1)
    partner = signed_in(browser, make_account, "sun", "partner", partner="阳光社工")
    listing = partner.get("/console/events/").get_data(as_text=True)
    assert f'id="event-{own}"' in listing and f'id="event-{other}"' not in listing
    assert partner.get(f"/console/events/{own}").status_code == 200
    assert partner.get(f"/console/events/{other}").status_code == 404
    assert partner.get(f"/console/events/{other}/qr.png").status_code == 404
    [other_signup] = _signups(services, other)
    [own_signup] = _signups(services, own)
    clock.advance(days=2)
    refused = partner.post(f"/console/events/{other}/checkin/{other_signup.id}")
    assert refused.status_code == 404
    assert (
        partner.post(f"/console/events/{other}/checkin/code", {"code": "123456"}).status_code == 404
    )
    # A sign-up of another event, through its own event's address, is not found either.
    assert partner.post(f"/console/events/{own}/checkin/{other_signup.id}").status_code == 404
    assert partner.post(f"/console/events/{own}/checkin/{own_signup.id}").status_code == 302
    assert count(services, Attendance) == 1
    # Checking in is all a partner changes: editing is staff's.
    assert partner.get(f"/console/events/{own}/edit").status_code == 403
    assert partner.post(f"/console/events/{own}/publish").status_code == 403
    assert partner.get("/console/events/new").status_code == 403


@pytest.mark.parametrize("role", ["viewer", "foundation"])
def test_read_only_roles_read_but_change_nothing(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    make_event: MakeEvent,
    role: str,
) -> None:
    event_id = make_event()
    people(services, clock, event_id, 1)
    person = signed_in(browser, make_account, "ro", role)
    assert person.get("/console/events/").status_code == 200
    page = person.get(f"/console/events/{event_id}").get_data(as_text=True)
    assert "居民0" in page and "13800000000" not in page  # no contact details
    assert 'id="checkin-code"' not in page and 'id="event-edit"' not in page
    [row] = _signups(services, event_id)
    clock.advance(days=2)
    for path, data in (
        (f"/console/events/{event_id}/checkin/{row.id}", {}),
        (f"/console/events/{event_id}/checkin/code", {"code": row.checkin_code}),
        (f"/console/events/{event_id}/cancel", {"reason": "x", "told": "1"}),
        ("/console/events/new", event_form(clock)),
    ):
        assert person.post(path, data).status_code == 403, path
    assert count(services, Attendance) == 0 and count(services, Event) == 1


def test_a_post_without_the_csrf_token_changes_nothing(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    event_id = make_event()
    people(services, clock, event_id, 1)
    [row] = _signups(services, event_id)
    clock.advance(days=2)
    response = staff.client.post(f"/console/events/{event_id}/checkin/{row.id}")
    assert response.status_code == 400
    response = staff.client.post("/console/events/new", data=event_form(clock))
    assert response.status_code == 400
    assert count(services, Attendance) == 0 and count(services, Event) == 1


@pytest.fixture
def wechat_console(services: WebhookServices, fake_wechat: FakeWeChatServer) -> Flask:
    """The console talking to the fake WeChat API, as the demo's does."""
    config = services.config
    wechat = replace(config.wechat, api_base_url=fake_wechat.base_url)
    return create_app(services=replace(services, config=replace(config, wechat=wechat)))


def test_the_check_in_qr_code_comes_from_wechat(
    wechat_console: Flask,
    make_account: MakeAccount,
    fake_wechat: FakeWeChatServer,
    make_event: MakeEvent,
) -> None:
    make_account("li", "staff")
    person = Console(wechat_console.test_client())
    person.sign_in("li")
    event_id = make_event()
    shown = person.get(f"/console/events/{event_id}/qr.png")
    assert shown.status_code == 200 and shown.mimetype == "image/png"
    assert shown.data.startswith(b"\x89PNG\r\n\x1a\n")
    [created] = fake_wechat.calls("qrcode/create")
    assert created["body"]["action_info"] == {"scene": {"scene_str": f"checkin:{event_id}"}}
    saved = person.get(f"/console/events/{event_id}/qr.png?download=1")
    assert f'filename="event-{event_id}-checkin.png"' in saved.headers["Content-Disposition"]
    fake_wechat.add_fault("qrcode/create", errcode=45009)
    refused = person.get(f"/console/events/{event_id}/qr.png")
    assert refused.status_code == 502


def test_an_event_in_a_village_and_the_list_narrowed_to_it(
    staff: Console, services: Services, clock: FakeClock, make_event: MakeEvent
) -> None:
    add_villages(services)  # 1 朝阳村, 2 朝阳村·一组, 3 朝阳村·二组, 4 李家村
    form = event_form(clock, title="一组的活动", village="2", publish="1")
    assert staff.post("/console/events/new", form).status_code == 302
    make_event(title="李家村的活动", village_id=4)
    make_event(title="哪里都不是")
    [first, *_] = _events(services)
    assert first.village_id == 2
    roster_page = staff.get(f"/console/events/{first.id}").get_data(as_text=True)
    assert "朝阳村·一组" in roster_page
    # A village takes in its groups.
    chaoyang = staff.get("/console/events/?village=1").get_data(as_text=True)
    assert "一组的活动" in chaoyang and "李家村的活动" not in chaoyang
    assert "哪里都不是" not in chaoyang
    assert staff.get("/console/events/?village=99").status_code == 404
    refused = staff.post("/console/events/new", event_form(clock, village="99"))
    assert refused.status_code == 400
    assert field_errors(refused)["village"] == "Choose a village from the list."
    assert count(services, Event) == 3
