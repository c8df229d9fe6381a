"""The console's audit page names every action and kind of object, in Chinese and in
English: an entry a command wrote reads as words, not as ``outbox.retry``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.console.audit import ACTION_TEXT_KEYS, OBJECT_TEXT_KEYS
from bot.services import Services
from models.audit import Actor, AuditAction, AuditObject, record
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount


def test_every_action_and_object_has_a_name() -> None:
    assert set(ACTION_TEXT_KEYS) == set(AuditAction)
    assert set(OBJECT_TEXT_KEYS) == set(AuditObject)


@pytest.mark.parametrize(
    ("language", "action", "thing"),
    [("zh", "推送菜单到微信", "菜单"), ("en", "menu pushed to WeChat", "menu")],
)
def test_a_command_entry_reads_in_the_admins_language(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    language: str,
    action: str,
    thing: str,
) -> None:
    make_account("ops", "admin", language=language)
    with services.session_factory() as db, db.begin():
        pushed = {"buttons": "活动, 需求, 帮助"}
        root = Actor.os_user("root")
        record(db, root, AuditAction.MENU_PUSH, AuditObject.MENU, None, clock.now, after=pushed)
    admin = browser()
    admin.sign_in("ops")
    page = admin.get("/console/audit/?action=menu.push").get_data(as_text=True)
    assert f">{action}</td>" in page and f">{thing} </td>" in page
    assert "root (os user)" in page and "buttons: 活动, 需求, 帮助" in page
