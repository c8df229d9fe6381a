"""The console's pages as an admin, a staff member and a partner use them: the landing
page's figures, managing accounts, and the audit log with its filters and pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from bot.demo.runner import DEMO_ADMIN, prepare_database
from bot.services import Services
from bot.webhook_services import WebhookServices
from models.accounts.operations import authenticate
from models.accounts.tables import Account
from models.audit import Actor, AuditAction, AuditEntry, AuditObject, record
from models.needs.submission import create_need
from models.needs.transitions import change_status
from models.partners import add_partner
from models.residents import get_or_create_resident
from tests.conftest import FakeClock
from tests.console import PASSWORD, Console, MakeAccount, alert
from tests.events import MakeEvent
from tests.helpers import count


def figures(page: str) -> tuple[int, int]:
    found = re.findall(r'<span class="number">(\d+)</span>', page)
    return int(found[0]), int(found[1])


def test_the_landing_page_counts_the_clubs_work_or_the_partners_own(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    make_event: MakeEvent,
    services: Services,
    clock: FakeClock,
) -> None:
    with services.session_factory() as db, db.begin():
        partner = add_partner(
            db, Actor.os_user("test"), name="镇建设办", kind="government", now=clock.now
        )
        resident = get_or_create_resident(db, "o-a", clock.now)
        resident.privacy_consent_at = clock.now
        needs = [
            create_need(db, resident=resident, category="other", description=text, now=clock.now)
            for text in ("一", "二", "三")
        ]
        change_status(db, needs[0], "acknowledged", "t", None, False, clock.now, partner=partner)
        change_status(db, needs[1], "declined", "t", "不在范围", False, clock.now)
    make_event(partner_names=["镇建设办"])
    make_event()
    make_event(publish=False)
    make_event(starts_at=clock.now + timedelta(hours=1), ends_at=None)
    clock.advance(hours=2)  # that one has started
    make_account("li", "staff")
    make_account("jsb", "partner", partner="镇建设办")

    staff = browser()
    staff.sign_in("li")
    assert figures(staff.get("/console/").get_data(as_text=True)) == (2, 2)
    partner_view = browser()
    partner_view.sign_in("jsb")
    page = partner_view.get("/console/").get_data(as_text=True)
    assert figures(page) == (1, 1)
    assert "其中 0 条尚未受理" in page and "只显示交给本机构的需求" in page


def test_an_admin_adds_and_disables_accounts(
    browser: Callable[[], Console], make_account: MakeAccount, services: Services
) -> None:
    make_account("ops", "admin")
    admin = browser()
    admin.sign_in("ops")
    form = {
        "login": "Li",
        "display_name": "李四",
        "role": "staff",
        "partner": "",
        "language": "en",
        "password": PASSWORD,
        "password_again": PASSWORD,
    }
    added = admin.post("/console/accounts/", form)
    assert added.status_code == 302
    page = admin.get("/console/accounts/").get_data(as_text=True)
    assert "已添加账号 li。" in page and "李四" in page

    refused = admin.post("/console/accounts/", {**form, "password_again": "something else"})
    assert refused.status_code == 400 and alert(refused) == "两次输入的密码不一致。"
    assert 'value="Li"' in refused.get_data(as_text=True), "the form keeps what was typed"
    taken = admin.post("/console/accounts/", form)
    assert alert(taken) == "登录名 li 已被使用。"
    no_partner = admin.post("/console/accounts/", {**form, "login": "jsb", "role": "partner"})
    assert alert(no_partner) == "合作机构账号必须指定所属合作机构。"

    with services.session_factory() as db:
        li = db.execute(select(Account).where(Account.login == "li")).scalar_one()
    assert (li.display_name, li.role, li.language) == ("李四", "staff", "en")
    row = admin.post(f"/console/accounts/{li.id}/disable", headers={"HX-Request": "true"})
    assert row.status_code == 200 and "已停用账号 li。" in row.get_data(as_text=True)
    again = admin.post(f"/console/accounts/{li.id}/disable", headers={"HX-Request": "true"})
    assert again.status_code == 409 and "账号 li 已停用。" in again.get_data(as_text=True)
    assert admin.post("/console/accounts/999/disable").status_code == 404

    with services.session_factory() as db:
        # The demo's villages are seeded (and audited) too; the account's entries are these.
        about_accounts = AuditEntry.object_type == AuditObject.ACCOUNT
        query = select(AuditEntry).where(about_accounts).order_by(AuditEntry.id)
        log = list(db.execute(query).scalars())
    assert [(e.actor_label, e.action, e.object_id) for e in log[1:]] == [
        ("ops", "account.add", li.id),
        ("ops", "account.disable", li.id),
    ]
    assert count(services, Account) == 2


def test_the_audit_log_filters_and_pages(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
) -> None:
    make_account("ops", "admin")
    with services.session_factory() as db, db.begin():
        for number in range(1, 61):
            clock.advance(minutes=1)
            record(
                db, Actor.os_user("wang"), AuditAction.NEED_UPDATE, AuditObject.NEED, number,
                clock.now, before={"status": "submitted"}, after={"status": "acknowledged"},
            )  # fmt: skip
    admin = browser()
    admin.sign_in("ops")
    first = admin.get("/console/audit/").get_data(as_text=True)
    assert "共 61 条 · 第 1/2 页" in first
    assert "wang (os user)" in first and "status: submitted → acknowledged" in first
    assert 'href="/console/audit/?page=2"' in first
    second = admin.get("/console/audit/?page=2").get_data(as_text=True)
    assert "共 61 条 · 第 2/2 页" in second and "test (os user)" in second
    filtered = admin.get("/console/audit/?who=wang&action=need.update&object=need&object_id=7")
    text = filtered.get_data(as_text=True)
    assert "共 1 条 · 第 1/1 页" in text and "需求 7" in text
    ignored = admin.get("/console/audit/?action=drop+table&object_id=abc&page=x")
    assert "共 61 条 · 第 1/1 页" not in ignored.get_data(as_text=True)
    assert ignored.status_code == 200


def test_each_demo_run_gives_the_demo_admin_a_new_password(
    services: WebhookServices, clock: FakeClock
) -> None:
    first = prepare_database(services)
    second = prepare_database(services)
    assert first != second and len(second) >= 16
    with services.session_factory() as db:
        assert authenticate(db, DEMO_ADMIN, first, clock.now) is None
        admin = authenticate(db, DEMO_ADMIN, second, clock.now)
        assert admin is not None and admin.role == "admin"
        log = list(db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())
    # The first run also seeds the demo's tags (4) and villages (3 and 2 groups), audited
    # like the admin's account under the person running the demo.
    assert [(e.action, e.actor_kind) for e in log] == [
        *[("tag.add", "os_user")] * 4,
        *[("village.add", "os_user")] * 5,
        ("account.add", "os_user"),
        ("account.password", "os_user"),
    ]
