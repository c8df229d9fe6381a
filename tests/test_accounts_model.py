"""The account rules and the audit log at the model: what an account must be, how a
password is kept, and that an audit entry lives and dies with its change's transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import Services
from models.accounts.errors import AccountError
from models.accounts.operations import (
    authenticate,
    create_account,
    disable_account,
    set_language,
)
from models.accounts.queries import get_account
from models.accounts.tables import Account
from models.audit import (
    Actor,
    ActorKind,
    AuditAction,
    AuditEntry,
    AuditFilter,
    AuditObject,
    audit_page,
    record,
)
from models.partners import add_partner
from tests.conftest import FakeClock
from tests.console import PASSWORD
from tests.helpers import count, count_in

CLI = Actor.os_user("root")


def test_an_account_keeps_a_scrypt_hash_never_the_password(
    services: Services, clock: FakeClock
) -> None:
    with services.session_factory() as db, db.begin():
        create_account(
            db, CLI, login="Li", role="staff", password=PASSWORD, now=clock.now, display_name=" 李 "
        )
    with services.session_factory() as db, db.begin():
        account = get_account(db, "li")
        assert (account.login, account.display_name, account.language) == ("li", "李", "zh")
        assert account.password_hash.startswith("scrypt:32768:8:1$")
        assert PASSWORD not in account.password_hash
        assert authenticate(db, "LI", PASSWORD, clock.now) is account
        assert authenticate(db, "li", "a wrong password", clock.now) is None
        assert authenticate(db, "nobody", PASSWORD, clock.now) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"login": "x"}, "a login name is 2 to 64"),
        ({"login": "李"}, "a login name is 2 to 64"),
        ({"role": "boss"}, "there is no role boss; use one of admin, staff, partner"),
        ({"role": "partner"}, "a partner account needs its partner organisation"),
        ({"partner": True}, "only a partner account belongs to a partner organisation"),
        ({"language": "fr"}, "the language must be zh or en"),
        ({"password": "short"}, "a password needs at least 10 characters"),
        ({"password": " spaced password "}, "a password must not start or end with a space"),
        ({"display_name": "名" * 101}, "a display name has at most 100 characters"),
        ({"login": "taken"}, "the login name taken is taken"),
    ],
)
def test_what_an_account_must_be(
    services: Services, clock: FakeClock, fields: dict[str, object], message: str
) -> None:
    with services.session_factory() as db, db.begin():
        partner = add_partner(db, CLI, name="镇建设办", kind="government", now=clock.now)
        create_account(db, CLI, login="taken", role="staff", password=PASSWORD, now=clock.now)
    values: dict[str, object] = {"login": "new", "role": "staff", "password": PASSWORD}
    values.update(fields)
    if values.pop("partner", None):
        values["partner"] = partner
    with (
        services.session_factory() as db,
        db.begin(),
        pytest.raises(AccountError, match=message),
    ):
        create_account(db, CLI, now=clock.now, **values)  # type: ignore[arg-type]
    assert count(services, Account) == 1


def test_a_partner_account_names_its_organisation(services: Services, clock: FakeClock) -> None:
    with services.session_factory() as db, db.begin():
        partner = add_partner(db, CLI, name="镇建设办", kind="government", now=clock.now)
        account = create_account(
            db, CLI, login="jsb", role="partner", password=PASSWORD, now=clock.now, partner=partner
        )
        assert account.partner_id == partner.id


def test_each_change_writes_its_audit_entry(services: Services, clock: FakeClock) -> None:
    with services.session_factory() as db, db.begin():
        admin = create_account(db, CLI, login="ops", role="admin", password=PASSWORD, now=clock.now)
        staff = create_account(
            db, Actor(ActorKind.ACCOUNT, "ops", admin.id), login="li", role="staff",
            password=PASSWORD, now=clock.now,
        )  # fmt: skip
        disable_account(db, Actor(ActorKind.ACCOUNT, "ops", admin.id), staff, clock.now)
        set_language(db, admin, "en", clock.now)
        set_language(db, admin, "en", clock.now)  # no change, no entry
    with services.session_factory() as db:
        entries = list(db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())
    assert [(e.actor_label, e.action, e.object_id, e.before, e.after) for e in entries] == [
        (
            "root (os user)",
            "account.add",
            admin.id,
            None,
            {"login": "ops", "display_name": "ops", "role": "admin", "partner": None},
        ),
        (
            "ops",
            "account.add",
            staff.id,
            None,
            {"login": "li", "display_name": "li", "role": "staff", "partner": None},
        ),
        ("ops", "account.disable", staff.id, {"active": True}, {"active": False}),
        ("ops", "account.language", admin.id, {"language": "zh"}, {"language": "en"}),
    ]
    assert entries[1].actor_account_id == admin.id and entries[0].actor_account_id is None


def test_an_account_cannot_disable_itself_nor_be_disabled_twice(
    services: Services, clock: FakeClock
) -> None:
    with services.session_factory() as db, db.begin():
        admin = create_account(db, CLI, login="ops", role="admin", password=PASSWORD, now=clock.now)
        with pytest.raises(AccountError, match="you cannot disable your own account"):
            disable_account(db, Actor(ActorKind.ACCOUNT, "ops", admin.id), admin, clock.now)
        disable_account(db, CLI, admin, clock.now)
        with pytest.raises(AccountError, match="account ops is disabled already"):
            disable_account(db, CLI, admin, clock.now)
        assert authenticate(db, "ops", PASSWORD, clock.now) is None


def test_a_failing_change_leaves_no_audit_entry(services: Services, clock: FakeClock) -> None:
    """The entry is written in the change's own transaction: when anything after it
    fails, both are rolled back together."""
    with services.session_factory() as db, db.begin():
        account = create_account(
            db, CLI, login="li", role="staff", password=PASSWORD, now=clock.now
        )
    with services.session_factory() as db, pytest.raises(RuntimeError), db.begin():
        disable_account(db, CLI, db.merge(account), clock.now)
        assert count_in(db, AuditEntry, AuditEntry.action == "account.disable") == 1
        raise RuntimeError("the change fails after its entry was written")
    assert count(services, AuditEntry, AuditEntry.action == "account.disable") == 0
    with services.session_factory() as db:
        assert get_account(db, "li").active


def test_long_values_are_cut_and_times_written_as_text(
    services: Services, clock: FakeClock
) -> None:
    with services.session_factory() as db, db.begin():
        entry = record(
            db, CLI, AuditAction.NEED_UPDATE, AuditObject.NEED, 7, clock.now,
            after={"note": "很" * 300, "at": clock.now, "public": True},
        )  # fmt: skip
        assert entry.after == {
            "note": "很" * 200 + "…",
            "at": "2026-05-01T02:00:00+00:00",
            "public": True,
        }


def test_the_audit_page_filters_and_pages(services: Services, clock: FakeClock) -> None:
    ops = Actor(ActorKind.ACCOUNT, "ops", None)
    with services.session_factory() as db, db.begin():
        for number in range(1, 8):
            clock.advance(minutes=1)
            actor = ops if number % 2 else CLI
            record(db, actor, AuditAction.NEED_UPDATE, AuditObject.NEED, number, clock.now)
        record(db, ops, AuditAction.ACCOUNT_PASSWORD, AuditObject.ACCOUNT, 1, clock.now)
    with services.session_factory() as db:
        everything = audit_page(db, AuditFilter(), page_size=3)
        assert (everything.total, everything.pages) == (8, 3)
        assert everything.entries[0].action == "account.password"
        last = audit_page(db, AuditFilter(), page=3, page_size=3)
        assert [e.object_id for e in last.entries] == [2, 1]
        by_ops = audit_page(db, AuditFilter(actor="OPS", action="need.update"))
        assert [e.object_id for e in by_ops.entries] == [7, 5, 3, 1]
        one = audit_page(db, AuditFilter(object_type="need", object_id=4))
        assert [(e.actor_label, e.object_id) for e in one.entries] == [("root (os user)", 4)]
