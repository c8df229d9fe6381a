"""Browser fixtures for the console: the demo app (webhook, simulator and console) on a
real port, and Debian's Chromium headless (skipped, saying why, where it is missing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bot.demo.runner import build_demo_app
from bot.webhook_services import WebhookServices
from bot.wechat.fake_api.server import FakeWeChatServer
from tests.helpers import serving
from tests.test_simulator_browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def site(services: WebhookServices, fake_wechat: FakeWeChatServer) -> Iterator[str]:
    with serving(build_demo_app(services, fake_wechat.root_url)) as url:
        yield url


@pytest.fixture
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, login: str, password: str) -> None:
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("#sign-in")
