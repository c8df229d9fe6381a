"""/console/impact in a real browser (headless Chromium): ECharts draws every chart from
its table, in the vendored copy the app serves, without a console error; and choosing a
period redraws them."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from tests.browser import sign_in
from tests.console import PASSWORD, MakeAccount
from tests.impact import Club

pytestmark = pytest.mark.browser


def test_the_dashboard_draws_its_charts(
    chromium: Browser, site: str, make_account: MakeAccount, club: Club
) -> None:
    make_account("board", "foundation", language="en")
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: _keep_error(errors, message))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{site}/console/")
    sign_in(page, "board", PASSWORD)
    page.click("#nav-impact")
    expect(page.locator("h1")).to_have_text("Impact dashboard")
    page.select_option("#impact-period", "quarter")
    page.fill("input[name=value]", "2026-Q1")
    page.click("#impact-show")
    charts = page.locator(".chart")
    expect(charts).to_have_count(7)
    for index in range(7):
        expect(charts.nth(index).locator("canvas")).to_have_count(1)
    expect(page.locator("#impact-headline td").nth(1)).to_have_text("2")
    box = charts.first.bounding_box()
    assert box is not None and box["height"] > 200
    assert errors == []


def _keep_error(errors: list[str], message: ConsoleMessage) -> None:
    """An error the page made; the browser's own ask for /favicon.ico, which the console
    does not serve, is not one."""
    if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
        errors.append(f"{message.text} {message.location['url']}")
