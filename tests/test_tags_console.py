"""/console/tags, for admins only: adding, renaming (either language), stopping and
resuming a tag's use, merging, each audited under the account; bad input next to its
field with nothing written. And the tag list wherever the console offers a tag: the event
form's picker, the events filter and the broadcast composer, in the reader's language."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import Services
from models.audit import AuditEntry
from models.events.signups import sign_up
from models.events.tables import Event
from models.residents import get_or_create_resident
from models.tags.tables import Tag
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount
from tests.events import MakeEvent
from tests.helpers import SHANGHAI, count

FIELD_ERROR = re.compile(r'id="error-([a-z_]+?)(?:-\d+)?"[^>]*>([^<]*)<')
PICKED = re.compile(r'name="tags" value="([^"]+)"[^>]*?( checked)?> ([^<]+)</label>')


def signed_in(
    browser: Callable[[], Console], make_account: MakeAccount, login: str, role: str, lang: str
) -> Console:
    make_account(login, role, language=lang)
    person = browser()
    person.sign_in(login)
    return person


@pytest.fixture
def admin(browser: Callable[[], Console], make_account: MakeAccount) -> Console:
    return signed_in(browser, make_account, "ops", "admin", "en")


def tags(services: Services) -> list[tuple[str, str, str, bool]]:
    with services.session_factory() as db:
        rows = db.execute(select(Tag).order_by(Tag.id)).scalars()
        return [(tag.key, tag.name_zh, tag.name_en, tag.active) for tag in rows]


def errors(page: str) -> dict[str, str]:
    return {field: html.unescape(text) for field, text in FIELD_ERROR.findall(page)}


def test_an_admin_adds_renames_deactivates_and_merges(
    admin: Console, services: Services, make_event: MakeEvent
) -> None:
    assert 'href="/console/tags/"' in admin.get("/console/").get_data(as_text=True)
    assert "No tags yet" in admin.get("/console/tags/").get_data(as_text=True)
    added = admin.post("/console/tags/", {"name_zh": "长者", "name_en": "elderly"})
    assert added.status_code == 302
    assert "Tag 长者/elderly added." in admin.get("/console/tags/").get_data(as_text=True)
    admin.post("/console/tags/", {"name_zh": "老人", "name_en": "Old people"})
    admin.post("/console/tags/2/rename", {"name_zh": "老年人", "name_en": "Old people"})
    admin.post("/console/tags/1/active", {"active": "0"})
    assert tags(services) == [
        ("elderly", "长者", "elderly", False),
        ("old-people", "老年人", "Old people", True),
    ]
    admin.post("/console/tags/1/active", {"active": "1"})
    event_id = make_event(tags=["老年人"])
    merged = admin.post("/console/tags/2/merge", {"into": "1"})
    assert merged.status_code == 302
    page = admin.get("/console/tags/").get_data(as_text=True)
    assert "Tag 老年人/Old people merged into 长者/elderly: 1 event(s) re-tagged." in page
    with services.session_factory() as db:
        assert db.get_one(Event, event_id).tags == ["elderly"]
        entries = db.execute(
            select(AuditEntry).where(AuditEntry.object_type == "tag").order_by(AuditEntry.id)
        ).scalars()
        assert [(e.action, e.object_id, e.actor_name) for e in entries] == [
            ("tag.add", 1, "ops"),
            ("tag.add", 2, "ops"),
            ("tag.rename", 2, "ops"),
            ("tag.deactivate", 1, "ops"),
            ("tag.activate", 1, "ops"),
            ("tag.merge", 2, "ops"),
        ]
    log = admin.get("/console/audit/?object=tag").get_data(as_text=True)
    assert "tags merged" in log and "tag no longer used" in log


def test_bad_input_is_said_next_to_its_field_and_nothing_is_written(
    admin: Console, services: Services
) -> None:
    admin.post("/console/tags/", {"name_zh": "长者", "name_en": "elderly"})
    empty = admin.post("/console/tags/", {"name_zh": "", "name_en": "kids"})
    assert empty.status_code == 400
    page = empty.get_data(as_text=True)
    assert errors(page) == {"name_zh": "A tag's name is not empty and has at most 32 characters."}
    assert 'value="kids"' in page
    taken = admin.post("/console/tags/", {"name_zh": "老人", "name_en": "ELDERLY"})
    assert errors(taken.get_data(as_text=True)) == {
        "name_en": "'ELDERLY' is already a name of the tag 长者/elderly."
    }
    admin.post("/console/tags/", {"name_zh": "儿童", "name_en": "children"})
    renamed = admin.post("/console/tags/2/rename", {"name_zh": "长者", "name_en": "children"})
    assert renamed.status_code == 400
    page = renamed.get_data(as_text=True)
    assert 'id="error-name_zh-2"' in page and "&#39;长者&#39; is already a name" in page
    assert admin.post("/console/tags/2/merge", {"into": "2"}).status_code == 400
    assert admin.post("/console/tags/9/rename", {"name_zh": "x", "name_en": "y"}).status_code == 404
    assert tags(services) == [
        ("elderly", "长者", "elderly", True),
        ("children", "儿童", "children", True),
    ]
    assert count(services, AuditEntry) == 2 + 1  # the admin's account, then two tags


@pytest.mark.parametrize("role", ["staff", "viewer", "foundation"])
def test_only_admins_edit_the_list(
    browser: Callable[[], Console], make_account: MakeAccount, services: Services, role: str
) -> None:
    person = signed_in(browser, make_account, "li", role, "zh")
    assert 'href="/console/tags/"' not in person.get("/console/").get_data(as_text=True)
    assert person.get("/console/tags/").status_code == 403
    assert person.post("/console/tags/", {"name_zh": "长者", "name_en": "e"}).status_code == 403
    assert count(services, Tag) == 0


@pytest.mark.usefixtures("usual_tags")
@pytest.mark.parametrize(("lang", "shown"), [("zh", "长者"), ("en", "elderly")])
def test_the_event_form_offers_the_tags_in_the_readers_language(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    lang: str,
    shown: str,
) -> None:
    staff = signed_in(browser, make_account, "li", "staff", lang)
    offered = PICKED.findall(staff.get("/console/events/new").get_data(as_text=True))
    assert [key for key, _, _ in offered] == ["women", "children", "elderly", "volunteers"]
    assert shown in [name for _, _, name in offered]
    starts = (clock.now + timedelta(days=3)).astimezone(SHANGHAI)
    form: dict[str, str | list[str]] = {
        "title": "敬老茶会",
        "capacity": "10",
        "max_party": "1",
        "starts_date": starts.date().isoformat(),
        "starts_time": "10:00",
        "tags": ["elderly", "volunteers"],
    }
    created = staff.post("/console/events/new", form)
    assert created.status_code == 302
    roster = staff.get(created.headers["Location"]).get_data(as_text=True)
    assert shown in roster
    edit = staff.get("/console/events/1/edit").get_data(as_text=True)
    assert [(key, bool(ticked)) for key, ticked, _ in PICKED.findall(edit)][2:] == [
        ("elderly", True),
        ("volunteers", True),
    ]
    listing = staff.get("/console/events/?show=drafts&tag=elderly").get_data(as_text=True)
    assert "敬老茶会" in listing and f'<option value="elderly" selected>{shown}</option>' in listing
    assert "敬老茶会" not in staff.get("/console/events/?show=drafts&tag=women").get_data(
        as_text=True
    )


@pytest.mark.usefixtures("usual_tags")
def test_a_tag_no_longer_in_use_is_refused_next_to_the_picker(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    admin: Console,
    services: Services,
    clock: FakeClock,
    make_event: MakeEvent,
) -> None:
    kept = make_event(title="旧活动", tags=["elderly"], publish=False)
    admin.post("/console/tags/3/active", {"active": "0"})
    staff = signed_in(browser, make_account, "li", "staff", "en")
    offered = [key for key, _, _ in PICKED.findall(staff.get("/console/events/new").text)]
    assert "elderly" not in offered
    edit = staff.get(f"/console/events/{kept}/edit").get_data(as_text=True)
    assert ("elderly", " checked") in [(key, ticked) for key, ticked, _ in PICKED.findall(edit)]
    starts = (clock.now + timedelta(days=3)).astimezone(SHANGHAI)
    form: dict[str, str | list[str]] = {
        "title": "新活动",
        "capacity": "10",
        "max_party": "1",
        "starts_date": starts.date().isoformat(),
        "starts_time": "10:00",
        "tags": ["elderly"],
    }
    refused = staff.post("/console/events/new", form)
    assert refused.status_code == 400
    assert errors(refused.get_data(as_text=True)) == {"tags": "The tag 长者/elderly is not in use."}
    form["tags"] = ["no-such-tag"]
    unknown = errors(staff.post("/console/events/new", form).get_data(as_text=True))
    assert unknown["tags"].startswith("There is no tag called 'no-such-tag'.")
    assert count(services, Event) == 1


@pytest.mark.usefixtures("usual_tags")
def test_the_broadcast_composer_picks_a_tag_from_the_list(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    make_event: MakeEvent,
) -> None:
    tagged = make_event(tags=["elderly"])
    with services.session_factory() as db, db.begin():
        for openid in ("o-1", "o-2"):
            sign_up(db, tagged, get_or_create_resident(db, openid, clock.now), 1, clock.now)
    staff = signed_in(browser, make_account, "li", "staff", "zh")
    page = staff.get("/console/broadcasts/").get_data(as_text=True)
    assert '<option value="elderly" >长者</option>' in page
    preview = staff.post(
        "/console/broadcasts/preview", {"text": "茶会改期", "audience": "tag", "tag": "elderly"}
    ).get_data(as_text=True)
    assert 'id="preview-reached">2<' in preview
    assert '<option value="elderly" selected>长者</option>' in preview
    scheduled = staff.post(
        "/console/broadcasts/",
        {"text": "茶会改期", "audience": "tag", "tag": "elderly", "at": "2026-05-02T18:00"},
    )
    assert scheduled.status_code == 302
    listed = staff.get("/console/broadcasts/").get_data(as_text=True)
    assert "活动标签: 长者</td>" in listed
