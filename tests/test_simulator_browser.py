"""The simulator page in a real browser: a resident is created and asks for help.

Runs Debian's Chromium headless (CI installs the ``chromium`` package); skipped, saying
why, on a machine without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from bot.demo.runner import build_demo_app
from bot.services import Services
from bot.wechat.client import AixiangWeChatClient
from bot.wechat.fake_api.server import FakeWeChatServer
from tests.helpers import serving

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(services: Services, fake_wechat: FakeWeChatServer) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with (
        serving(build_demo_app(services, fake_wechat.root_url)) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(f"{url}/")
            yield page
        finally:
            browser.close()


def test_a_new_resident_asks_for_help(page: Page) -> None:
    expect(page.locator(".menu-button")).to_have_count(3)

    page.click("#new-resident")
    expect(page.locator("#resident")).to_have_value(re.compile(r"^o-demo-[0-9a-f]{6}$"))
    page.click("#to-keyboard")
    page.fill("#text", "帮助")
    page.click("#send")

    expect(page.locator(".msg.me .bubble").last).to_have_text("帮助")
    expect(page.locator(".msg.bot .bubble").last).to_contain_text("我的需求 — 需求进展")


def test_a_menu_tap_and_a_push_show_in_the_thread(
    page: Page, wechat_client: AixiangWeChatClient
) -> None:
    page.click("#new-resident")
    page.click("#follow")
    expect(page.locator(".msg.bot .bubble").last).to_contain_text("欢迎关注")
    openid = page.locator("#resident").input_value()

    page.click(".menu-button:has-text('帮助')")
    expect(page.locator(".msg.bot .bubble")).to_have_count(2)
    page.click(".menu-button:has-text('活动')")
    expect(page.locator(".submenu-item:has-text('近期活动')")).to_be_visible()

    wechat_client.message.send_text(openid, "明天见")
    expect(page.locator(".msg.bot .bubble").last).to_have_text("明天见")


def test_reload_restores_the_thread_in_order_with_its_times(
    page: Page, wechat_client: AixiangWeChatClient
) -> None:
    page.click("#new-resident")
    page.click("#follow")
    expect(page.locator(".msg.bot .bubble").last).to_contain_text("欢迎关注")
    openid = page.locator("#resident").input_value()
    page.click("#to-keyboard")
    page.fill("#text", "帮助")
    page.click("#send")
    expect(page.locator(".msg.bot .bubble")).to_have_count(2)
    wechat_client.message.send_text(openid, "明天见")
    expect(page.locator(".msg.bot .bubble").last).to_have_text("明天见")
    shown = page.locator(".thread .msg .bubble").all_inner_texts()

    page.reload()

    expect(page.locator(".msg.bot .bubble").last).to_have_text("明天见")
    assert page.locator(".thread .msg .bubble").all_inner_texts() == shown
    expect(page.locator(".thread .note").first).to_have_text(
        "你关注了公众号 You followed the account"
    )
    expect(page.locator(".thread .time").first).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$")
    )


def test_a_template_message_shows_its_fields(
    page: Page, wechat_client: AixiangWeChatClient
) -> None:
    page.click("#new-resident")
    openid = page.locator("#resident").input_value()
    wechat_client.message.send_template(
        openid,
        "demo-reminder",
        {"first": {"value": "活动即将开始"}, "keyword1": {"value": "社区花园开放日"}},
    )

    card = page.locator(".bubble.card").last
    expect(card.locator(".card-title")).to_have_text("活动提醒 Event reminder")
    expect(card.locator(".card-lead")).to_have_text("活动即将开始")
    expect(card.locator(".card-field")).to_have_text("活动 Event社区花园开放日")


def test_voice_and_an_unfollowed_resident(page: Page) -> None:
    page.click("#new-resident")
    page.click("#follow")
    page.click("#to-keyboard")
    page.fill("#text", "帮助")
    page.click("#plus")
    page.click("#send-voice")
    expect(page.locator(".msg.me .bubble.voice")).to_contain_text("帮助")
    expect(page.locator(".msg.bot .bubble").last).to_contain_text("我的需求")

    page.click("#unfollow")
    expect(page.locator(".note").last).to_contain_text("取消了关注")
    page.fill("#text", "还在吗")
    page.click("#send")

    expect(page.locator(".note.error").last).to_contain_text("未关注")
    expect(page.locator(".msg.me .bubble")).to_have_count(1)
