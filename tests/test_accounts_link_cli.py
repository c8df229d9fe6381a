"""``aixiang accounts link NAME --openid X`` and ``--clear``: an admin sets or clears an
account's WeChat, audited; every mistake is one line, exit 2, and nothing is written."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from bot.services import Services
from models.accounts.operations import set_weekly_report
from models.accounts.tables import Account
from models.audit import Actor, AuditAction, AuditEntry
from tests.cli import fail, run
from tests.console import MakeAccount
from tests.helpers import count


def account(services: Services, login: str) -> Account:
    with services.session_factory() as db:
        return db.execute(select(Account).where(Account.login == login)).scalar_one()


def test_link_and_clear(staff: CliRunner, services: Services, make_account: MakeAccount) -> None:
    make_account("ops", "admin")
    make_account("li", "staff")
    linked = run(staff, "accounts", "link", "li", "--openid", " o-li_28-chars ", "--as", "ops")
    assert linked.output == "account li: WeChat linked to o-li_28-chars\n"
    with services.session_factory() as db, db.begin():
        li = db.execute(select(Account).where(Account.login == "li")).scalar_one()
        set_weekly_report(db, Actor.os_user("test"), li, True, services.clock())
    rows = json.loads(run(staff, "accounts", "list", "--json").output)
    assert {r["login"]: (r["wechat_openid"], r["weekly_report"]) for r in rows} == {
        "ops": (None, False),
        "li": ("o-li_28-chars", True),
    }
    cleared = json.loads(run(staff, "accounts", "link", "li", "--clear", "--json").output)
    assert (cleared["wechat_openid"], cleared["weekly_report"]) == (None, False)
    with services.session_factory() as db:
        entries = db.execute(
            select(AuditEntry)
            .where(AuditEntry.action == AuditAction.ACCOUNT_WECHAT)
            .order_by(AuditEntry.id)
        ).scalars()
        assert [(e.actor_kind, e.before, e.after) for e in entries] == [
            ("account", {"wechat_openid": None}, {"wechat_openid": "o-li_28-chars"}),
            (
                "os_user",
                {"wechat_openid": "o-li_28-chars", "weekly_report": True},
                {"wechat_openid": None, "weekly_report": False},
            ),
        ]


def test_mistakes_are_one_line_and_change_nothing(
    staff: CliRunner, services: Services, make_account: MakeAccount
) -> None:
    make_account("li", "staff")
    make_account("wang", "staff")
    make_account("viewer", "viewer")
    run(staff, "accounts", "link", "wang", "--openid", "o-wang")
    assert fail(staff, "accounts", "link", "li") == "error: give either --openid OPENID or --clear"
    assert (
        fail(staff, "accounts", "link", "li", "--openid", "o-1", "--clear")
        == "error: give either --openid OPENID or --clear"
    )
    assert fail(staff, "accounts", "link", "li", "--openid", "o 1") == (
        "error: an openid is letters, digits, - and _, at most 64 characters"
    )
    assert fail(staff, "accounts", "link", "li", "--openid", "o-wang") == (
        "error: this WeChat is already linked to the account wang"
    )
    assert fail(staff, "accounts", "link", "li", "--clear") == (
        "error: the account li has no WeChat linked"
    )
    assert fail(staff, "accounts", "link", "nobody", "--openid", "o-2").startswith("error: ")
    assert fail(staff, "accounts", "link", "li", "--openid", "o-3", "--as", "viewer").startswith(
        "error: "
    )
    assert account(services, "li").wechat_openid is None
    assert count(services, AuditEntry, AuditEntry.action == AuditAction.ACCOUNT_WECHAT) == 1
