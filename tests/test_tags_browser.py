"""/console/tags in a real browser (headless Chromium): an admin adds a tag, meets a name
already taken next to its field, renames the tag in one language and stops using it; the
event form then offers the tags in use as boxes to tick, in the reader's language."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from tests.browser import sign_in
from tests.console import PASSWORD, MakeAccount
from tests.helpers import serving

pytestmark = pytest.mark.browser


@pytest.fixture
def site(console_app: Flask) -> Iterator[str]:
    """The console alone (no simulator), in place of tests/browser.py's demo app."""
    with serving(console_app) as url:
        yield url


def test_an_admin_keeps_the_tag_list(
    chromium: Browser, site: str, make_account: MakeAccount
) -> None:
    make_account("ops", "admin", language="en")
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{site}/console/")
    sign_in(page, "ops", PASSWORD)
    page.goto(f"{site}/console/tags/")
    expect(page.locator("#no-tags")).to_be_visible()

    page.fill("#new-tag-zh", "长者")
    page.fill("#new-tag-en", "elderly")
    page.click("#add-tag-submit")
    expect(page.locator("[role=status]").first).to_have_text("Tag 长者/elderly added.")
    page.fill("#new-tag-zh", "儿童")
    page.fill("#new-tag-en", "Elderly")
    page.click("#add-tag-submit")
    expect(page.locator("#error-name_en")).to_have_text(
        "'Elderly' is already a name of the tag 长者/elderly."
    )
    expect(page.locator("#new-tag-zh")).to_have_value("儿童")
    page.fill("#new-tag-en", "children")
    page.click("#add-tag-submit")

    page.fill("#rename-1-zh", "老人")
    page.click("#rename-1-submit")
    expect(page.locator("[role=status]").first).to_have_text("Tag 老人/elderly renamed.")
    page.click("#deactivate-2")
    expect(page.locator("#tag-2")).to_contain_text("Not in use")

    page.goto(f"{site}/console/events/new")
    boxes = page.locator("#field-tags label")
    expect(boxes).to_have_count(1)
    expect(boxes.first).to_have_text("elderly")
