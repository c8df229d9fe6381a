"""A background export in a real browser: staff click a list's XLSX link, the export is
too large for the request and is queued; the exports page shows it waiting, refreshes
itself (htmx) once the scheduler's tick has written it, and its link downloads a file
that opens with the list's rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, expect

from bot.demo.runner import build_demo_app
from bot.webhook_services import WebhookServices
from bot.wechat.client import build_wechat_client
from bot.wechat.fake_api.server import FakeWeChatServer
from scheduler.jobs import JobContext, run_exports
from tests.browser import sign_in
from tests.console import PASSWORD, MakeAccount
from tests.helpers import serving
from tests.workbench import MakeNeed

pytestmark = pytest.mark.browser


def test_a_queued_export_is_shown_then_downloaded(
    chromium: Browser,
    services: WebhookServices,
    fake_wechat: FakeWeChatServer,
    make_account: MakeAccount,
    make_need: MakeNeed,
    tmp_path: Path,
) -> None:
    exports = replace(services.config.exports, background_rows=0, dir=str(tmp_path / "files"))
    ours = replace(services, config=replace(services.config, exports=exports))
    refs = [make_need("老街路灯坏了", days_old=2), make_need("图书室缺书", openid="o-b")]
    make_account("wang", "staff")
    with serving(build_demo_app(ours, fake_wechat.root_url)) as site:
        page = chromium.new_page(viewport={"width": 390, "height": 844}, accept_downloads=True)
        page.goto(f"{site}/console/needs/")
        sign_in(page, "wang", PASSWORD)
        page.click("#export-needs-xlsx")
        expect(page.locator(".notice")).to_contain_text("将在后台生成")
        expect(page.locator("#exports tbody tr")).to_have_attribute("data-status", "queued")

        assert run_exports(JobContext(ours, build_wechat_client(ours.config, ours.redis)))
        row = page.locator("#exports tbody tr")
        expect(row).to_have_attribute("data-status", "done", timeout=15_000)
        with page.expect_download() as download:
            row.locator("a").click()
        saved = tmp_path / "saved.xlsx"
        download.value.save_as(saved)
    book = openpyxl.load_workbook(saved, read_only=True)
    assert book.active is not None
    assert [row[0] for row in book.active.iter_rows(min_row=2, values_only=True)] == refs
    book.close()
