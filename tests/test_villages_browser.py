"""/console/villages in a real browser (headless Chromium): an admin adds a village and a
group, renames the group, retires the village, and filters the landing page by one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from tests.browser import sign_in
from tests.console import PASSWORD, MakeAccount
from tests.helpers import serving

pytestmark = pytest.mark.browser


@pytest.fixture
def site(console_app: Flask) -> Iterator[str]:
    """The console alone (no simulator), in place of tests/browser.py's demo app."""
    with serving(console_app) as url:
        yield url


def rows(page: Page) -> list[str]:
    return [" ".join(text.split()) for text in page.locator("#villages tbody tr").all_inner_texts()]


def test_an_admin_keeps_the_list_of_villages(
    chromium: Browser, site: str, make_account: MakeAccount
) -> None:
    make_account("ops", "admin", language="en")
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{site}/console/")
    sign_in(page, "ops", PASSWORD)
    page.click("text=Villages")
    expect(page.locator("#no-villages")).to_be_visible()

    page.fill("#new-village", "朝阳村")
    page.click("#add-village-submit")
    expect(page.locator("[role=status]").first).to_have_text("Added '朝阳村'.")
    page.fill("#new-village", "一组")
    page.select_option("#new-village-within", label="朝阳村")
    page.click("#add-village-submit")
    page.fill("#new-village", "一组")
    page.select_option("#new-village-within", label="朝阳村")
    page.click("#add-village-submit")
    expect(page.locator("#village-error")).to_have_text("'一组' is already there.")

    page.fill("#rename-2", "东组")
    page.click("#rename-2-submit")
    page.click("#retire-1")
    assert rows(page)[0].startswith("朝阳村 Retired")
    assert "东组 Retired" in rows(page)[1]

    page.fill("#new-village", "李家村")
    page.click("#add-village-submit")
    page.click("text=Overview")
    page.select_option("#village-choice", label="李家村")
    page.click("#village-filter-submit")
    expect(page).to_have_url(f"{site}/console/?village=3")
    expect(page.locator("#open-needs .number")).to_have_text("0")
