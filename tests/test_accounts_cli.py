"""``aixiang accounts``: adding, passwords, disabling, listing, and who the audit log
names; every mistake one line, exit 2, nothing written. And ``needs update --as``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from bot.cli.main import main
from bot.services import Services
from models.accounts.operations import authenticate
from models.accounts.tables import Account
from models.audit import AuditEntry
from models.needs.submission import create_need
from models.residents import get_or_create_resident
from tests.cli import fail, run
from tests.conftest import FakeClock
from tests.console import PASSWORD
from tests.helpers import count


def add(staff: CliRunner, *args: str, password: str = PASSWORD) -> Result:
    return staff.invoke(main, ["accounts", "add", *args, "--password-stdin"], input=password + "\n")


def entries(services: Services) -> list[AuditEntry]:
    with services.session_factory() as db:
        return list(db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())


def test_add_list_passwd_disable(staff: CliRunner, services: Services, clock: FakeClock) -> None:
    assert add(staff, "ops", "--role", "admin", "--display-name", "运营").output == (
        "account 1: ops (admin)\n"
    )
    run(staff, "partners", "add", "镇建设办", "--kind", "government")
    added = add(staff, "jsb", "--role", "partner", "--partner", "镇建设办", "--as", "ops")
    assert added.exit_code == 0, added.output
    rows = json.loads(run(staff, "accounts", "list", "--json").output)
    assert [(r["login"], r["role"], r["partner"], r["active"]) for r in rows] == [
        ("jsb", "partner", "镇建设办", True),
        ("ops", "admin", None, True),
    ]
    table = run(staff, "accounts", "list").output.splitlines()
    assert table[0].split() == [
        "id", "login", "display_name", "role", "partner", "language", "active", "last_sign_in",
        "wechat_openid", "weekly_report",
    ]  # fmt: skip

    changed = staff.invoke(
        main,
        ["accounts", "passwd", "jsb", "--password-stdin", "--as", "ops"],
        input="a new long password\n",
    )
    assert changed.output == "account jsb: password changed\n"
    assert run(staff, "accounts", "disable", "jsb").output == "account jsb: disabled\n"
    with services.session_factory() as db:
        assert authenticate(db, "jsb", "a new long password", clock.now) is None
        assert not db.execute(select(Account).where(Account.login == "jsb")).scalar_one().active

    log = entries(services)
    assert [(e.actor_kind, e.action, e.object_id) for e in log] == [
        ("os_user", "account.add", 1),
        ("os_user", "partner.add", 1),
        ("account", "account.add", 2),
        ("account", "account.password", 2),
        ("os_user", "account.disable", 2),
    ]
    assert log[0].actor_label.endswith(" (os user)") and log[2].actor_label == "ops"
    assert "password" not in json.dumps([e.after for e in log])


def test_the_password_is_asked_twice_without_echo(staff: CliRunner, services: Services) -> None:
    result = staff.invoke(
        main, ["accounts", "add", "li", "--role", "staff"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert result.output.endswith("account 1: li (staff)\n")
    differing = staff.invoke(
        main, ["accounts", "add", "wang", "--role", "staff"], input=f"{PASSWORD}\nother\n"
    )
    assert differing.exit_code == 2
    assert count(services, Account) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("li", "--role", "boss"),
            "error: there is no role boss; use one of admin, staff, partner, foundation, viewer",
        ),
        (
            ("li", "--role", "partner"),
            "error: a partner account needs its partner organisation (--partner)",
        ),
        (
            ("li", "--role", "staff", "--partner", "镇建设办"),
            "error: only a partner account belongs to a partner organisation",
        ),
        (
            ("li", "--role", "partner", "--partner", "没有这个"),
            "error: no partner '没有这个' (see: aixiang partners list)",
        ),
        (("li", "--role", "staff", "--language", "fr"), "error: the language must be zh or en"),
        (("Li Lei", "--role", "staff"), "error: a login name is 2 to 64 lower-case letters"),
        (("ops", "--role", "staff"), "error: the login name ops is taken"),
        (("li", "--role", "staff", "--as", "nobody"), "error: --as: there is no account nobody"),
        (("li", "--role", "staff", "--as", "viewer"), "error: --as: a viewer account may not"),
    ],
)
def test_add_mistakes_are_one_line_and_write_nothing(
    staff: CliRunner, services: Services, args: tuple[str, ...], message: str
) -> None:
    add(staff, "ops", "--role", "admin")
    add(staff, "viewer", "--role", "viewer")
    run(staff, "partners", "add", "镇建设办", "--kind", "government")
    before = (count(services, Account), count(services, AuditEntry))
    result = add(staff, *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert (count(services, Account), count(services, AuditEntry)) == before


def test_password_mistakes(staff: CliRunner, services: Services) -> None:
    assert add(staff, "li", "--role", "staff", password="short").stderr == (
        "error: a password needs at least 10 characters\n"
    )
    assert add(staff, "li", "--role", "staff", password="").stderr == (
        "error: --password-stdin: standard input held no password\n"
    )
    assert count(services, Account) == 0
    add(staff, "li", "--role", "staff")
    assert fail(staff, "accounts", "passwd", "nobody", "--password-stdin") == (
        "error: there is no account nobody"
    )


def test_a_disabled_account_stays_disabled_and_cannot_act(staff: CliRunner) -> None:
    add(staff, "ops", "--role", "admin")
    add(staff, "li", "--role", "admin")
    run(staff, "accounts", "disable", "li")
    assert fail(staff, "accounts", "disable", "li") == "error: account li is disabled already"
    assert fail(staff, "accounts", "disable", "ops", "--as", "li") == (
        "error: --as: account li is disabled"
    )
    assert fail(staff, "accounts", "disable", "ops", "--as", "ops") == (
        "error: you cannot disable your own account"
    )


def test_anyone_may_change_their_own_password(staff: CliRunner) -> None:
    add(staff, "viewer", "--role", "viewer")
    add(staff, "other", "--role", "viewer")
    own = staff.invoke(
        main,
        ["accounts", "passwd", "viewer", "--password-stdin", "--as", "viewer"],
        input="a new long password\n",
    )
    assert own.exit_code == 0, own.output
    assert fail(staff, "accounts", "passwd", "other", "--password-stdin", "--as", "viewer") == (
        "error: --as: a viewer account may not do this"
    )


@pytest.fixture
def need(services: Services, clock: FakeClock) -> None:
    with services.session_factory() as db, db.begin():
        resident = get_or_create_resident(db, "o-a", clock.now)
        resident.privacy_consent_at = clock.now
        create_need(
            db, resident=resident, category="infrastructure", description="路灯坏了", now=clock.now
        )


def test_needs_update_names_its_author_in_the_history_and_the_audit_log(
    staff: CliRunner, services: Services, need: None
) -> None:
    run(staff, "partners", "add", "镇建设办", "--kind", "government")
    add(staff, "li", "--role", "staff")
    run(staff, "needs", "update", "N-000001", "--status", "acknowledged", "--assign", "镇建设办")
    run(staff, "needs", "update", "N-000001", "--note", "明天去", "--as", "li")
    history = json.loads(run(staff, "needs", "show", "N-000001", "--json").output)["history"]
    assert history[1]["by"].endswith(" (os user)") and history[2]["by"] == "li"
    log = [e for e in entries(services) if e.action == "need.update"]
    assert [(e.actor_kind, e.object_type, e.object_id) for e in log] == [
        ("os_user", "need", 1),
        ("account", "need", 1),
    ]
    assert log[0].before == {"status": "submitted", "partner": None}
    assert log[0].after == {
        "status": "acknowledged",
        "partner": "镇建设办",
        "duplicate_of": None,
        "note": None,
        "public": False,
    }


def test_needs_update_as_a_partner_only_for_its_own_needs(
    staff: CliRunner, services: Services, need: None
) -> None:
    run(staff, "partners", "add", "镇建设办", "--kind", "government")
    run(staff, "partners", "add", "村小", "--kind", "school")
    add(staff, "jsb", "--role", "partner", "--partner", "镇建设办")
    add(staff, "school", "--role", "partner", "--partner", "村小")
    add(staff, "viewer", "--role", "viewer")
    run(staff, "needs", "update", "N-000001", "--assign", "镇建设办")
    assert fail(staff, "needs", "update", "N-000001", "--note", "x", "--as", "school").startswith(
        "error: --as: a partner account updates only its own organisation's needs"
    )
    assert fail(staff, "needs", "update", "N-000001", "--note", "x", "--as", "viewer") == (
        "error: --as: a viewer account may not do this"
    )
    assert fail(staff, "needs", "update", "N-000001", "--assign", "村小", "--as", "jsb").startswith(
        "error: --as: a partner account updates only"
    )
    run(staff, "needs", "update", "N-000001", "--status", "acknowledged", "--as", "jsb")
