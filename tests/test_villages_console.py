"""/console/villages, for admins only: adding a village and a group, renaming, retiring,
each audited under the account; bad input refused with nothing written; every POST
CSRF-checked. And the landing page's figures narrowed to one village."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.services import Services
from models.audit import Actor, AuditEntry
from models.needs.submission import create_need
from models.partners import add_partner
from models.residents import get_or_create_resident
from models.villages.queries import all_villages, find_village
from models.villages.tables import Village
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount, alert
from tests.events import MakeEvent
from tests.helpers import count
from tests.villages import add_villages


def labels(services: Services) -> list[tuple[str, bool]]:
    with services.session_factory() as db:
        return [(entry.label, entry.retired) for entry in all_villages(db)]


def village_id(services: Services, name: str) -> int:
    with services.session_factory() as db:
        return find_village(db, name).id


def test_an_admin_adds_renames_and_retires(
    browser: Callable[[], Console], make_account: MakeAccount, services: Services
) -> None:
    admin_id = make_account("ops", "admin")
    admin = browser()
    admin.sign_in("ops")
    page = admin.get("/console/").get_data(as_text=True)
    assert 'href="/console/villages/"' in page
    assert "还没有村" in admin.get("/console/villages/").get_data(as_text=True)

    added = admin.post("/console/villages/", {"name": "朝阳村", "within": ""})
    assert added.status_code == 302
    chaoyang = village_id(services, "朝阳村")
    admin.post("/console/villages/", {"name": "一组", "within": str(chaoyang)})
    page = admin.get("/console/villages/").get_data(as_text=True)
    assert "已添加“朝阳村·一组”。" in page
    assert 'id="village-2"' in page

    admin.post("/console/villages/2/rename", {"name": "东组"})
    assert "已改名为“朝阳村·东组”。" in admin.get("/console/villages/").get_data(as_text=True)
    admin.post(f"/console/villages/{chaoyang}/retire")
    assert labels(services) == [("朝阳村", True), ("朝阳村·东组", True)]
    with services.session_factory() as db:
        query = select(AuditEntry).where(AuditEntry.object_type == "village")
        entries = db.execute(query.order_by(AuditEntry.id)).scalars().all()
    assert [(e.action, e.object_id, e.actor_account_id) for e in entries] == [
        ("village.add", 1, admin_id),
        ("village.add", 2, admin_id),
        ("village.rename", 2, admin_id),
        ("village.retire", 1, admin_id),
    ]
    log = admin.get("/console/audit/?object=village&object_id=2").get_data(as_text=True)
    shown = re.findall(r'<td data-label="[^"]*">(添加村或组|村或组改名|停用村或组)</td>', log)
    assert shown == ["村或组改名", "添加村或组"]


def test_bad_input_is_refused_and_writes_nothing(
    browser: Callable[[], Console], make_account: MakeAccount, services: Services
) -> None:
    add_villages(services)
    make_account("ops", "admin", language="en")
    admin = browser()
    admin.sign_in("ops")
    taken = admin.post("/console/villages/", {"name": "李家村", "within": ""})
    assert taken.status_code == 400
    assert alert(taken) == "&#39;李家村&#39; is already there."
    empty = admin.post("/console/villages/", {"name": "  ", "within": ""})
    assert empty.status_code == 400
    unknown = admin.post("/console/villages/", {"name": "三组", "within": "99"})
    assert alert(unknown) == "There is no village or group called &#39;99&#39;."
    assert admin.post("/console/villages/", {"name": "三组", "within": "x"}).status_code == 400
    group = village_id(services, "朝阳村·一组")
    in_group = admin.post("/console/villages/", {"name": "甲", "within": str(group)})
    assert in_group.status_code == 400
    clash = admin.post(f"/console/villages/{group}/rename", {"name": "二组"})
    assert clash.status_code == 400
    assert admin.post("/console/villages/99/retire").status_code == 400
    assert count(services, Village) == 4
    # The account's, and the four add_villages made.
    assert count(services, AuditEntry) == 5


@pytest.mark.parametrize("role", ["staff", "partner", "foundation", "viewer"])
def test_only_admins_open_or_change_it(
    browser: Callable[[], Console], make_account: MakeAccount, services: Services, role: str
) -> None:
    add_villages(services)
    if role == "partner":
        with services.session_factory() as db, db.begin():
            add_partner(
                db, Actor.os_user("test"), name="镇建设办", kind="government", now=services.clock()
            )
    make_account("someone", role, partner="镇建设办" if role == "partner" else None)
    person = browser()
    person.sign_in("someone")
    assert 'href="/console/villages/"' not in person.get("/console/").get_data(as_text=True)
    assert person.get("/console/villages/").status_code == 403
    assert person.post("/console/villages/", {"name": "王庄", "within": ""}).status_code == 403
    assert person.post("/console/villages/1/rename", {"name": "王庄"}).status_code == 403
    assert person.post("/console/villages/1/retire").status_code == 403
    assert labels(services)[0] == ("朝阳村", False)
    assert count(services, Village) == 4


def test_a_post_without_the_csrf_token_changes_nothing(
    browser: Callable[[], Console], make_account: MakeAccount, services: Services
) -> None:
    add_villages(services)
    make_account("ops", "admin")
    admin = browser()
    admin.sign_in("ops")
    assert admin.client.post("/console/villages/", data={"name": "王庄"}).status_code == 400
    assert admin.client.post("/console/villages/1/retire").status_code == 400
    forged = {"name": "王庄", "csrf_token": "forged"}
    assert admin.client.post("/console/villages/1/rename", data=forged).status_code == 400
    assert labels(services)[0] == ("朝阳村", False)
    assert count(services, Village) == 4


def test_the_landing_page_narrows_to_a_village(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    make_event: MakeEvent,
    services: Services,
    clock: FakeClock,
) -> None:
    add_villages(services)
    group = village_id(services, "朝阳村·一组")
    lijia = village_id(services, "李家村")
    with services.session_factory() as db, db.begin():
        resident = get_or_create_resident(db, "o-a", clock.now)
        resident.privacy_consent_at = clock.now
        resident.village_id = group
        for place in ("村口", "李家村祠堂", None):
            create_need(
                db,
                resident=resident,
                category="other",
                description="路灯",
                now=clock.now,
                place=place,
            )
    make_event(village_id=lijia)
    make_event()
    make_account("li", "staff")
    staff = browser()
    staff.sign_in("li")

    def figures(query: str) -> list[str]:
        page = staff.get(f"/console/{query}").get_data(as_text=True)
        return re.findall(r'<span class="number">(\d+)</span>', page)

    assert figures("") == ["3", "2"]
    assert figures("?village=1") == ["2", "0"], "朝阳村 counts its groups' needs"
    assert figures(f"?village={group}") == ["2", "0"]
    assert figures(f"?village={lijia}") == ["1", "1"]
    assert "selected>李家村</option>" in staff.get(f"/console/?village={lijia}").get_data(
        as_text=True
    )
    assert staff.get("/console/?village=abc").status_code == 400
    assert staff.get("/console/?village=99").status_code == 404
