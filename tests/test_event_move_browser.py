"""An event moved in the console reaches the resident in the chat, end to end in a real
browser: a resident signs up in the chat simulator (through the signed webhook), staff
move the event in the console and are told one resident will hear of it, the outbox
worker delivers the notice to the fake WeChat API, and the simulator's chat shows it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, expect

from scheduler.worker import Worker
from tests.browser import sign_in
from tests.console import PASSWORD, MakeAccount
from tests.events import MakeEvent

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1100, "height": 900}


def test_a_move_in_the_console_reaches_the_signed_up_resident_s_chat(
    chromium: Browser,
    site: str,
    make_account: MakeAccount,
    make_event: MakeEvent,
    make_worker: Callable[..., Worker],
) -> None:
    event_id = make_event(title="垃圾分类日", place="村委会")
    make_account("li", "staff")
    chat = chromium.new_page(viewport=DESKTOP)
    chat.goto(f"{site}/")
    chat.click("#new-resident")
    chat.click("#follow")
    chat.click("#to-keyboard")
    chat.fill("#text", f"报名 {event_id}")
    chat.click("#send")
    expect(chat.locator(".msg.bot .bubble").last).to_contain_text("报名成功")

    console = chromium.new_page(viewport=DESKTOP)
    console.goto(f"{site}/console/events/{event_id}/edit")
    sign_in(console, "li", PASSWORD)
    console.fill("#event-place", "村小学操场")
    console.click("#event-save")
    expect(console.locator("#confirm-told p")).to_have_text(
        "时间或地点有变：将通知已报名和候补的 1 位居民。确认保存吗？"
    )
    console.click("#confirm-save")
    expect(console.locator("#event-where")).to_have_text("村小学操场")

    assert make_worker().run_once() == 1
    expect(chat.locator(".msg.bot .bubble").last).to_contain_text("村小学操场")
