"""The inbox end to end in a real browser: a resident asks for a person in the chat
simulator (through the webhook) and leaves a message; staff find it in the console's
inbox, take it and answer; the outbox worker delivers the answer to the fake WeChat API,
and the simulator's chat shows it, while the console shows it delivered."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, expect

from scheduler.worker import Worker
from tests.browser import sign_in
from tests.console import PASSWORD, MakeAccount

pytestmark = pytest.mark.browser


def test_a_resident_s_message_is_answered_from_the_console(
    chromium: Browser, site: str, make_account: MakeAccount, make_worker: Callable[..., Worker]
) -> None:
    make_account("wang", "staff")
    chat = chromium.new_page(viewport={"width": 1100, "height": 900})
    chat.goto(f"{site}/")
    chat.click("#new-resident")
    chat.click("#follow")
    chat.click("#to-keyboard")
    chat.fill("#text", "人工")
    chat.click("#send")
    expect(chat.locator(".msg.bot .bubble").last).to_contain_text("请写下您想对工作人员说的话")
    chat.fill("#text", "路灯坏了，谁能来看看？")
    chat.click("#send")
    expect(chat.locator(".msg.bot .bubble").last).to_contain_text("已转给工作人员")

    console = chromium.new_page(viewport={"width": 1100, "height": 900})
    console.goto(f"{site}/console/inbox/")
    sign_in(console, "wang", PASSWORD)
    expect(console.locator("#inbox tbody tr")).to_have_count(1)
    expect(console.locator("#inbox")).to_contain_text("路灯坏了，谁能来看看？")
    console.click("#inbox tbody a")
    expect(console.locator("#thread .entry")).to_have_text(re.compile("路灯坏了，谁能来看看？"))
    expect(console.locator("#outlook")).to_contain_text("作为客服消息立即送出")
    console.click("#assign-me")
    expect(console.locator(".notice")).to_have_text("已分配给您。")
    expect(console.locator("#assignee")).to_have_text("wang")
    console.fill("#answer", "明天上午去修")
    console.click("#send-answer")
    expect(console.locator(".notice")).to_have_text("回复已排队发送。")
    expect(console.locator("#thread .entry.staff .delivery")).to_have_text("等待发送")

    assert make_worker().run_once() == 1

    expect(chat.locator(".msg.bot .bubble").last).to_have_text("工作人员回复：明天上午去修")
    # The thread refreshes itself (htmx), so the delivery shows without a reload.
    expect(console.locator("#thread .entry.staff .delivery")).to_contain_text(
        "已送达（客服消息", timeout=15_000
    )
    console.click("#back")
    # Taken, so no longer unassigned.
    expect(console.locator("#inbox")).not_to_contain_text("路灯坏了")
    console.click("#tab-all")
    expect(console.locator("#inbox")).to_contain_text("明天上午去修")
    expect(console).to_have_url(re.compile(r"/console/inbox/\?tab=all$"))
