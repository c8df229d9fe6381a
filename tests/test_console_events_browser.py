"""Events in the console on a phone's screen, in real headless Chromium: staff create and
publish an event with the date and time pickers, move it and are told how many residents
will hear of it before saving, then check someone in at the door by tapping their row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from bot.services import Services
from models.events.tables import Event, Signup
from models.push.registry import PushKind
from tests.browser import sign_in
from tests.conftest import FakeClock
from tests.console import PASSWORD, MakeAccount
from tests.events import fill
from tests.helpers import pushes, serving

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def site(console_app: Flask) -> Iterator[str]:
    with serving(console_app) as url:
        yield url


def fits_the_screen(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_staff_create_move_and_check_in_on_a_phone(
    chromium: Browser,
    site: str,
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
) -> None:
    make_account("li", "staff", language="en")
    page = chromium.new_page(viewport=PHONE, is_mobile=True)
    page.goto(f"{site}/console/events/")
    sign_in(page, "li", PASSWORD)
    expect(page.locator("h1")).to_have_text("Events")
    page.click("#new-event")

    # The clock stands at 2026-05-01 10:00 in Shanghai.
    page.fill("#event-title", "社区花园共建")
    page.fill("#starts-date", "2026-04-30")
    page.click("#event-save-publish")  # the browser itself asks for the time first
    assert "/console/events/new" in page.url
    page.fill("#starts-time", "09:30")
    page.fill("#event-place", "社区花园")
    page.fill("#event-capacity", "20")
    page.click("#event-save-publish")
    expect(page.locator("#error-starts")).to_have_text("The start time is in the past.")
    expect(page.locator("#event-place")).to_have_value("社区花园")
    page.fill("#starts-date", "2026-05-03")
    page.fill("#ends-date", "2026-05-03")
    page.fill("#ends-time", "11:00")
    assert fits_the_screen(page)
    page.click("#event-save-publish")
    expect(page.locator("#event-heading")).to_have_text("社区花园共建")
    expect(page.locator("#event-when")).to_have_text("2026-05-03 09:30 – 2026-05-03 11:00")
    expect(page.locator("#event-status")).to_have_text("Published")

    with services.session_factory() as db:
        event_id = db.execute(select(Event.id)).scalar_one()
    fill(services, clock, event_id, 3)
    page.click("#event-edit")
    page.fill("#starts-time", "14:00")
    page.fill("#event-place", "社区活动室")
    page.click("#event-save")
    expect(page.locator("#error-ends")).to_have_text("The end must be after the start.")
    page.fill("#ends-time", "16:00")
    page.click("#event-save")
    expect(page.locator("#confirm-told")).to_contain_text("3 residents")
    assert pushes(services, PushKind.EVENT_MOVED) == []
    page.click("#confirm-save")
    expect(page.locator(".notice")).to_have_text(
        f"Event {event_id} changed; 3 residents will be told."
    )
    expect(page.locator("#event-where")).to_have_text("社区活动室")
    assert len(pushes(services, PushKind.EVENT_MOVED)) == 3

    clock.set(clock.now + timedelta(days=2, hours=3))  # 05-03 13:00, check-in is open
    page.reload()
    with services.session_factory() as db:
        first = db.execute(select(Signup).order_by(Signup.id)).scalars().first()
        assert first is not None
    expect(page.locator("#confirmed thead")).to_be_hidden()  # rows become cards
    assert fits_the_screen(page)
    page.click(f"#checkin-{first.id}")
    came = f"o-filler-{event_id}-0 checked in (party of 1)."
    expect(page.locator("#checkin-message")).to_have_text(came)
    expect(page.locator(f"#signup-{first.id}")).to_contain_text("in at 2026-05-03 13:00")
    expect(page.locator("#attendance tbody tr")).to_have_count(1)
    page.fill("#checkin-code", "12")
    page.click("#checkin-code-submit")  # the browser refuses fewer than 6 digits itself
    expect(page.locator("#checkin-message")).to_have_text(came)
    page.fill("#checkin-code", "000000")  # six digits, but nobody's code
    page.click("#checkin-code-submit")
    expect(page.locator("#checkin-message.error")).to_be_visible()
    expect(page.locator("#attendance tbody tr")).to_have_count(1)
