"""/console/broadcasts in a real browser (headless Chromium): staff compose a broadcast,
preview who it reaches and how, schedule it, and cancel it before it goes out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from bot.services import Services
from tests.browser import sign_in
from tests.console import PASSWORD, MakeAccount
from tests.events import MakeEvent
from tests.helpers import serving
from tests.pushes import add_resident

pytestmark = pytest.mark.browser


@pytest.fixture
def site(console_app: Flask) -> Iterator[str]:
    """The console alone (no simulator), in place of tests/browser.py's demo app."""
    with serving(console_app) as url:
        yield url


def test_staff_preview_schedule_and_cancel_a_broadcast(
    chromium: Browser, site: str, make_account: MakeAccount, services: Services
) -> None:
    now = services.clock()
    add_resident(services, "o-wrote", last_seen=now - timedelta(hours=1))
    add_resident(services, "o-away", last_seen=now - timedelta(days=3))
    add_resident(services, "o-gone", subscribed=False)
    make_account("li", "staff", language="en")
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{site}/console/")
    sign_in(page, "li", PASSWORD)
    page.click("#nav-broadcasts")

    page.fill("#broadcast-text", "明天上午停水")
    page.fill("#broadcast-text-en", "No water tomorrow morning")
    page.check("#audience-all")
    page.click("#broadcast-preview")
    expect(page.locator("#preview-reached")).to_have_text("2")
    expect(page.locator("#preview-unfollowed")).to_have_text("1")
    expect(page.locator("#preview-custom")).to_have_text("1")
    expect(page.locator("#preview-held")).to_have_text("1")
    expect(page.locator("#preview")).to_contain_text("No water tomorrow morning")
    # The form keeps what was typed, so scheduling needs only the time.
    expect(page.locator("#broadcast-text")).to_have_value("明天上午停水")

    at = (now + timedelta(hours=3)).astimezone(services.config.bot.tz)
    page.fill("#broadcast-at", at.strftime("%Y-%m-%dT%H:%M"))
    page.click("#broadcast-schedule")
    expect(page.locator("[role=status]").first).to_have_text("Broadcast 1 scheduled.")
    expect(page.locator("#broadcast-1")).to_have_attribute("data-status", "scheduled")

    page.click("#cancel-1")
    expect(page.locator("[role=status]").first).to_have_text("Broadcast 1 cancelled.")
    expect(page.locator("#broadcast-1")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#broadcast-1")).to_contain_text("Cancelled")
    expect(page.locator("#cancel-1")).to_have_count(0)


def test_staff_preview_an_event_by_mass_send_and_see_a_mistake_by_its_field(
    chromium: Browser,
    site: str,
    make_account: MakeAccount,
    services: Services,
    make_event: MakeEvent,
) -> None:
    now = services.clock()
    add_resident(services, "o-wrote", last_seen=now - timedelta(hours=1))
    add_resident(services, "o-away", last_seen=now - timedelta(days=3))
    event = make_event(title="Tree planting")
    make_account("li", "staff", language="en")
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{site}/console/")
    sign_in(page, "li", PASSWORD)
    page.click("#nav-broadcasts")
    expect(page.locator("#mass-quota")).to_contain_text("of 4 per follower")

    page.check("#message-event")
    page.click("#broadcast-preview")
    expect(page.locator("#error-event")).to_have_text("Choose the event to announce.")

    page.select_option("#broadcast-event", str(event))
    page.check("#broadcast-mass")
    page.click("#broadcast-preview")
    expect(page.locator("#error-event")).to_have_count(0)
    expect(page.locator("#preview-reached")).to_have_text("2")
    expect(page.locator("#preview-mass")).to_have_text("2")
    expect(page.locator("#preview")).to_contain_text("Tree planting")
    expect(page.locator("#broadcast-mass")).to_be_checked()
