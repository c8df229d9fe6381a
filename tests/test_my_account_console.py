"""/console/account, the signed-in person's own page, for every role: a link code shown
once and redeemed from the chat, unlinking, and the weekly report turned on and off only
once linked; each change audited under the account; a refusal is one sentence on the
page with nothing changed."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select

from bot.services import Services
from models.accounts.tables import Account
from models.audit import AuditAction, AuditEntry
from tests.console import Console, MakeAccount, alert
from tests.helpers import count
from tests.transcript import Talk

CODE = re.compile(r'id="link-code"><strong>绑定 (\d{6})</strong>')


def state(services: Services, login: str) -> tuple[str | None, bool]:
    with services.session_factory() as db:
        account = db.execute(select(Account).where(Account.login == login)).scalar_one()
        return account.wechat_openid, account.weekly_report


def test_a_viewer_links_its_wechat_and_turns_the_weekly_report_on_and_off(
    browser: Callable[[], Console], make_account: MakeAccount, services: Services, talk: Talk
) -> None:
    make_account("kan", "viewer")
    me = browser()
    me.sign_in("kan")
    assert 'href="/console/account/"' in me.get("/console/").get_data(as_text=True)
    page = me.get("/console/account/").get_data(as_text=True)
    assert "尚未绑定微信。" in page and "绑定微信后才能开启。" in page
    assert "每周一 08:30 在微信上收到上一周的数据摘要和看板链接。" in page

    refused = me.post("/console/account/weekly", {"weekly_report": "on"})
    assert refused.status_code == 409
    assert alert(refused) == "请先绑定微信，才能开启每周报告"
    assert state(services, "kan") == (None, False)

    shown = me.post("/console/account/code")
    found = CODE.search(shown.get_data(as_text=True))
    assert shown.status_code == 200 and found is not None
    assert talk.say(f"绑定 {found.group(1)}").startswith("已绑定控制台账号 kan")
    page = me.get("/console/account/").get_data(as_text=True)
    assert "已绑定微信。" in page and 'id="link-code"' not in page

    assert me.post("/console/account/weekly", {"weekly_report": "on"}).status_code == 302
    assert "每周报告已开启。" in me.get("/console/account/").get_data(as_text=True)
    assert state(services, "kan") == (talk.openid, True)
    me.post("/console/account/weekly", {"weekly_report": "off"})
    assert state(services, "kan") == (talk.openid, False)
    me.post("/console/account/weekly", {"weekly_report": "on"})

    assert me.post("/console/account/unlink").status_code == 302
    assert "已解除微信绑定，每周报告随之关闭。" in me.get("/console/account/").get_data(
        as_text=True
    )
    assert state(services, "kan") == (None, False)
    with services.session_factory() as db:
        entries = db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        assert [(e.action, e.actor_name) for e in entries] == [
            (AuditAction.ACCOUNT_ADD, "test"),
            (AuditAction.ACCOUNT_WECHAT, "kan"),
            (AuditAction.ACCOUNT_WEEKLY_REPORT, "kan"),
            (AuditAction.ACCOUNT_WEEKLY_REPORT, "kan"),
            (AuditAction.ACCOUNT_WEEKLY_REPORT, "kan"),
            (AuditAction.ACCOUNT_WECHAT, "kan"),
        ]


def test_unlinking_what_is_not_linked_and_asking_too_often_are_refused(
    browser: Callable[[], Console], make_account: MakeAccount, services: Services
) -> None:
    make_account("li", "staff", language="en")
    me = browser()
    me.sign_in("li")
    refused = me.post("/console/account/unlink")
    assert (refused.status_code, alert(refused)) == (409, "the account li has no WeChat linked")
    for _ in range(5):
        assert me.post("/console/account/code").status_code == 200
    too_many = me.post("/console/account/code")
    assert too_many.status_code == 429
    assert alert(too_many).startswith("Too many codes asked for")
    assert count(services, AuditEntry) == 1  # the account's creation


def test_the_page_needs_a_signed_in_account_and_its_csrf_token(
    browser: Callable[[], Console], make_account: MakeAccount
) -> None:
    stranger = browser()
    assert stranger.get("/console/account/").status_code == 302
    make_account("li", "staff")
    me = browser()
    me.sign_in("li")
    assert me.client.post("/console/account/code").status_code == 400
