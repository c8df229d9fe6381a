"""Residents in the console: staff find one by name, mobile or the end of the openid,
read what the club holds about them, and erase it at their request (asked once more,
audited, the same erasure as the chat's 删除我的信息); partners and viewers do not
browse residents."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.webhook_services import WebhookServices
from models.audit import Actor, AuditAction, AuditEntry
from models.needs.queries import get_need
from models.residents import Resident
from models.villages.operations import add_village, set_resident_village
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount
from tests.workbench import MakeNeed


@pytest.fixture
def li(browser: Callable[[], Console], make_account: MakeAccount) -> Console:
    make_account("li", "staff")
    person = browser()
    person.sign_in("li")
    return person


@pytest.fixture
def wang(services: WebhookServices, make_need: MakeNeed) -> int:
    """王芳, who raised a need, with her mobile on file."""
    make_need("路灯坏了", openid="oAbCdEf-wang-123456")
    with services.session_factory() as db, db.begin():
        resident = db.execute(
            select(Resident).where(Resident.openid == "oAbCdEf-wang-123456")
        ).scalar_one()
        resident.name = "王芳"
        resident.mobile = "13800138000"
        return resident.id


def found(person: Console, query: str) -> bool:
    """Whether 王芳 is among the residents the search finds (a link to her page)."""
    return ">王芳</a>" in person.get(f"/console/residents/?{query}").get_data(as_text=True)


def test_staff_find_a_resident_by_name_mobile_or_openid_tail(li: Console, wang: int) -> None:
    assert found(li, "q=王芳") and found(li, "q=0013800") and found(li, "q=123456")
    assert not found(li, "q=oAbCdEf")  # the start of an openid is not what a resident reads
    assert not found(li, "q=王")  # too short to narrow to someone
    assert not found(li, "q=%25")
    page = li.get(f"/console/residents/{wang}").get_data(as_text=True)
    assert "N-000001" in page and "13800138000" in page
    assert li.get("/console/residents/999999").status_code == 404


def test_staff_erase_a_residents_data_at_their_request(
    li: Console, wang: int, services: WebhookServices
) -> None:
    asked = li.get(f"/console/residents/{wang}/erase").get_data(as_text=True)
    assert "确定删除 王芳 的信息吗" in asked
    with services.session_factory() as db:
        assert db.get(Resident, wang).name == "王芳"  # type: ignore[union-attr]
    assert li.post(f"/console/residents/{wang}/erase").status_code == 302
    with services.session_factory() as db:
        resident = db.get(Resident, wang)
        assert resident is not None and (resident.name, resident.mobile) == (None, None)
        need = get_need(db, "N-000001")
        assert (need.description, need.resident_id) == (None, None)
        assert need.erased_at is not None
        entry = db.execute(
            select(AuditEntry).where(AuditEntry.action == AuditAction.RESIDENT_ERASE)
        ).scalar_one()
        assert (entry.actor_name, entry.object_id, entry.after["needs"]) == ("li", wang, 1)
    page = li.get(f"/console/residents/{wang}").get_data(as_text=True)
    assert "应居民要求删除其信息" in page  # its audit entry, on its page


def test_a_change_without_the_csrf_token_erases_nothing(
    li: Console, wang: int, services: WebhookServices
) -> None:
    assert li.client.post(f"/console/residents/{wang}/erase").status_code == 400
    with services.session_factory() as db:
        assert db.get(Resident, wang).name == "王芳"  # type: ignore[union-attr]


@pytest.mark.parametrize("role", ["partner", "viewer"])
def test_partners_and_viewers_do_not_browse_residents(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    partners: dict[str, int],
    wang: int,
    role: str,
) -> None:
    make_account("someone", role, partner="镇建设办" if role == "partner" else None)
    person = browser()
    person.sign_in("someone")
    assert "/console/residents/" not in person.get("/console/").get_data(as_text=True)
    for path in ("/console/residents/?q=王芳", f"/console/residents/{wang}"):
        assert person.get(path).status_code == 403, path
    assert person.post(f"/console/residents/{wang}/erase").status_code == 403


def test_the_foundation_reads_residents_and_erases_nothing(
    browser: Callable[[], Console], make_account: MakeAccount, wang: int
) -> None:
    make_account("fund", "foundation")
    person = browser()
    person.sign_in("fund")
    assert found(person, "q=王芳")
    assert person.post(f"/console/residents/{wang}/erase").status_code == 403


def test_staff_list_a_villages_residents(
    li: Console, wang: int, services: WebhookServices, clock: FakeClock
) -> None:
    with services.session_factory() as db, db.begin():
        chaoyang = add_village(db, Actor.os_user("t"), "朝阳村", clock.now)
        other = add_village(db, Actor.os_user("t"), "河西村", clock.now)
        resident = db.get(Resident, wang)
        assert resident is not None
        set_resident_village(db, resident, chaoyang.id, clock.now)
        village_ids = (chaoyang.id, other.id)
    page = li.get("/console/residents/").get_data(as_text=True)
    assert 'id="resident-village"' in page and "朝阳村" in page
    assert found(li, f"village={village_ids[0]}")
    assert not found(li, f"village={village_ids[1]}")
    assert not found(li, f"village={village_ids[1]}&q=王芳")
    assert found(li, f"village={village_ids[0]}&q=王芳")
