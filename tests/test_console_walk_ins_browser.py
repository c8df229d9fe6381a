"""A walk-in added by hand on a phone's screen, in real headless Chromium: a mistake is
said next to its field with what was typed kept, then the walk-in shows in the roster by
name and in its walk-in count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from tests.browser import sign_in
from tests.conftest import FakeClock
from tests.console import PASSWORD, MakeAccount
from tests.events import MakeEvent
from tests.helpers import serving
from tests.test_console_events_browser import PHONE, fits_the_screen

pytestmark = pytest.mark.browser


@pytest.fixture
def site(console_app: Flask) -> Iterator[str]:
    with serving(console_app) as url:
        yield url


def test_staff_add_a_walk_in_from_a_phone(
    chromium: Browser,
    site: str,
    make_account: MakeAccount,
    make_event: MakeEvent,
    clock: FakeClock,
) -> None:
    make_account("li", "staff", language="en")
    event_id = make_event(capacity=10, max_party_size=4)
    clock.set(clock.now + timedelta(days=2))  # the event starts now: check-in is open
    page = chromium.new_page(viewport=PHONE, is_mobile=True)
    page.goto(f"{site}/console/events/{event_id}")
    sign_in(page, "li", PASSWORD)
    page.click("#walk-in summary")
    page.fill("#walk-in-name", "张阿姨")
    page.fill("#walk-in-phone", "12345")
    page.fill("#walk-in-party", "2")
    assert fits_the_screen(page)
    page.click("#walk-in-submit")
    expect(page.locator("#error-walk_in_phone")).to_have_text(
        "Give an 11-digit mainland mobile number, or leave it empty."
    )
    expect(page.locator("#walk-in-name")).to_have_value("张阿姨")
    page.fill("#walk-in-phone", "13800001111")
    page.click("#walk-in-submit")
    expect(page.locator(".notice")).to_have_text("张阿姨 added as a walk-in (party of 2).")
    expect(page.locator("#attendance")).to_contain_text("张阿姨")
    expect(page.locator("#walk-in-count")).to_have_text("Walk-ins: 2")
    assert fits_the_screen(page)
