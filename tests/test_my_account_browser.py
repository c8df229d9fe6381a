"""/console/account in a real browser (headless Chromium) on a phone's screen: a staff
member opens their page from the header, gets a link code, sends it from WeChat, and
turns the weekly report on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from tests.browser import sign_in
from tests.console import PASSWORD, MakeAccount
from tests.helpers import serving
from tests.transcript import Talk

pytestmark = pytest.mark.browser


@pytest.fixture
def site(console_app: Flask) -> Iterator[str]:
    """The console alone (no simulator), in place of tests/browser.py's demo app."""
    with serving(console_app) as url:
        yield url


def test_a_staff_member_links_wechat_and_asks_for_the_weekly_report(
    chromium: Browser, site: str, make_account: MakeAccount, talk: Talk
) -> None:
    make_account("li", "staff", language="en")
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{site}/console/")
    sign_in(page, "li", PASSWORD)
    page.click("#nav-my-account")
    expect(page.locator("#wechat-status")).to_have_text("No WeChat is linked yet.")
    expect(page.locator("#weekly-needs-link")).to_be_visible()
    expect(page.locator("#weekly-toggle")).to_have_count(0)

    page.click("#link-code-new")
    said = page.locator("#link-code").inner_text()
    assert said.startswith("link ") and len(said.split()[1]) == 6
    assert talk.say(said).startswith("Linked to the console account li.")

    page.goto(f"{site}/console/account/")
    expect(page.locator("#wechat-status")).to_have_text("Your WeChat is linked.")
    expect(page.locator("#weekly-status")).to_have_text("Off")
    page.click("#weekly-toggle")
    expect(page.locator("[role=status]").first).to_have_text("The weekly report is on.")
    expect(page.locator("#weekly-status")).to_have_text("On")
    expect(page.locator("#weekly-toggle")).to_have_text("Turn off")
