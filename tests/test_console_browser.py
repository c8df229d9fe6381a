"""The console in a real browser (headless Chromium, as the simulator's test runs it):
the demo admin signs in with the password the demo made, switches to English, adds a
staff account and signs out; the new staff member signs in and sees the landing page.
Then the same pages on a phone's screen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Dialog, expect

from bot.cli.actors import os_user
from bot.demo.runner import DEMO_ADMIN, ensure_demo_admin
from bot.services import Services
from models.accounts.operations import create_account
from models.accounts.queries import get_account
from models.needs.submission import create_need
from models.residents import get_or_create_resident
from tests.browser import sign_in
from tests.conftest import FakeClock
from tests.events import MakeEvent

pytestmark = pytest.mark.browser

STAFF_PASSWORD = "li's own long password"


@pytest.fixture
def admin_password(services: Services, clock: FakeClock, make_event: MakeEvent) -> str:
    """The demo's data as `aixiang demo` prepares it: an open need, an upcoming event and
    the demo admin, whose password is made here as the demo makes it."""
    make_event(title="社区花园共建")
    with services.session_factory() as db, db.begin():
        resident = get_or_create_resident(db, "o-demo-li", clock.now)
        resident.privacy_consent_at = clock.now
        create_need(db, resident=resident, category="other", description="路灯坏了", now=clock.now)
        return ensure_demo_admin(db, clock.now)


def test_the_demo_admin_adds_a_staff_member_who_then_signs_in(
    chromium: Browser, site: str, admin_password: str
) -> None:
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{site}/")
    with page.context.expect_page() as opened:
        page.click("#console-link")  # the simulator opens the console in a new tab
    page = opened.value
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=/console/$"))
    expect(page.locator("h1")).to_have_text("登录")

    sign_in(page, DEMO_ADMIN, "not the password")
    expect(page.locator("#sign-in-error")).to_have_text("登录名或密码不正确。")
    sign_in(page, DEMO_ADMIN, admin_password)
    expect(page.locator("h1")).to_have_text("演示管理员 Demo admin，您好")
    expect(page.locator("#open-needs .number")).to_have_text("1")

    page.click("#switch-language")
    expect(page.locator("h1")).to_have_text("Hello, 演示管理员 Demo admin")
    page.click("nav >> text=Accounts")
    expect(page.locator("h1")).to_have_text("Accounts")
    page.fill("#new-login", "li")
    page.fill("#new-display-name", "李丽")
    page.select_option("#new-role", "staff")
    page.select_option("#new-language", "zh")
    page.fill("#new-password", STAFF_PASSWORD)
    page.fill("#new-password-again", STAFF_PASSWORD)
    page.click("#add-account-submit")
    expect(page.locator(".notice")).to_have_text("Account li added.")
    expect(page.locator("#accounts tbody tr")).to_have_count(2)
    expect(page.locator("#accounts")).to_contain_text("李丽")

    page.click("#sign-out")
    expect(page.locator("h1")).to_have_text("登录")
    sign_in(page, "li", STAFF_PASSWORD)
    expect(page.locator("h1")).to_have_text("李丽，您好")
    expect(page.locator("#open-needs .number")).to_have_text("1")
    expect(page.locator("#upcoming-events .number")).to_have_text("1")
    expect(page.locator("nav.nav a")).to_have_text(
        ["概览", "需求", "活动", "居民", "居民留言", "发送队列", "群发", "影响力", "导出"]
    )
    page.goto(f"{site}/console/accounts/")
    expect(page.locator(".error")).to_have_text("您的账号无权进行此操作。")


def test_on_a_phones_screen_the_lists_become_cards(
    chromium: Browser, site: str, admin_password: str
) -> None:
    page = chromium.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(f"{site}/console/")
    sign_in(page, DEMO_ADMIN, admin_password)
    page.goto(f"{site}/console/audit/")
    expect(page.locator("#audit thead")).to_be_hidden()
    first_cell = page.locator("#audit tbody tr").first.locator("td").first
    expect(first_cell).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.select_option("#filter-action", "account.add")
    page.click("#filter-apply")
    expect(page.locator("#audit-results .quiet")).to_have_text("共 1 条 · 第 1/1 页")
    expect(page).to_have_url(re.compile(r"action=account\.add"))


def test_an_admin_disables_an_account_in_place_with_htmx(
    chromium: Browser, site: str, admin_password: str, services: Services, clock: FakeClock
) -> None:
    """The button asks first, then htmx posts with the CSRF token in its header and
    swaps the account's row; the page itself stays."""
    with services.session_factory() as db, db.begin():
        li = create_account(
            db, os_user(), login="li", role="staff", password=STAFF_PASSWORD, now=clock.now
        )
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{site}/console/accounts/")
    sign_in(page, DEMO_ADMIN, admin_password)
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    row = page.locator(f"#account-{li.id}")
    row.locator("button.danger").click()
    expect(row).to_contain_text("已停用账号 li。")
    expect(row).to_contain_text("已停用")
    expect(row.locator("button.danger")).to_have_count(0)
    assert asked == ["确定停用账号 li 吗？停用后它将无法登录。"]
    assert page.url.endswith("/console/accounts/")
    with services.session_factory() as db:
        assert not get_account(db, "li").active
