"""Signing in: one answer for every refusal, a lockout per login name and per address
kept in Redis, the language before and after, and signing out."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from flask import Flask, session
from sqlalchemy import select

from bot.console.lockout import KEY_PREFIX
from bot.services import Services
from models.accounts.tables import Account
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount, alert, signed_out

REFUSED = "登录名或密码不正确。"
LOCKED = "失败次数过多，请 15 分钟后再试。"


def test_a_right_password_signs_in_and_records_the_time(
    browser: Callable[[], Console], make_account: MakeAccount, services: Services, clock: FakeClock
) -> None:
    make_account("li", "staff")
    person = browser()
    response = person.sign_in("  LI ")
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    assert "li，您好" in person.get("/console/").get_data(as_text=True)
    with services.session_factory() as db:
        account = db.execute(select(Account).where(Account.login == "li")).scalar_one()
    assert account.last_sign_in_at == clock.now


def test_unknown_name_wrong_password_and_disabled_account_get_one_answer(
    browser: Callable[[], Console], make_account: MakeAccount
) -> None:
    make_account("li", "staff")
    make_account("gone", "staff")
    ops = browser()
    make_account("ops", "admin")
    ops.sign_in("ops")
    ops.post("/console/accounts/2/disable")
    answers = [
        browser().sign_in("nobody"),
        browser().sign_in("li", "a wrong password"),
        browser().sign_in("gone"),
    ]
    assert {(r.status_code, alert(r)) for r in answers} == {(401, REFUSED)}


def lockout_keys(client: redis.Redis) -> list[str]:
    return sorted(client.scan_iter(f"{KEY_PREFIX}:*"))


def test_five_failures_lock_the_name_even_with_the_right_password_after(
    browser: Callable[[], Console], make_account: MakeAccount, redis_client: redis.Redis
) -> None:
    make_account("li", "staff")
    person = browser()
    for _ in range(5):
        assert alert(person.sign_in("li", "a wrong password")) == REFUSED
    locked = person.sign_in("li")
    assert locked.status_code == 429 and alert(locked) == LOCKED
    # Another person, elsewhere, is refused for that name too; other names are not.
    elsewhere = browser()
    assert elsewhere.sign_in("li", address="10.0.0.9").status_code == 429
    make_account("wang", "staff")
    assert browser().sign_in("wang").status_code == 302
    for key in lockout_keys(redis_client):
        assert 14 * 60 < redis_client.ttl(key) <= 15 * 60, key
    assert not any("li" in key for key in lockout_keys(redis_client)), "names are hashed"


def test_an_unknown_name_locks_the_same_way(browser: Callable[[], Console]) -> None:
    person = browser()
    for _ in range(5):
        assert alert(person.sign_in("nobody")) == REFUSED
    assert alert(person.sign_in("nobody")) == LOCKED


def test_a_right_password_clears_its_names_count(
    browser: Callable[[], Console], make_account: MakeAccount
) -> None:
    make_account("li", "staff")
    for _ in range(4):
        browser().sign_in("li", "a wrong password")
    assert browser().sign_in("li").status_code == 302
    for _ in range(4):
        browser().sign_in("li", "a wrong password")
    assert browser().sign_in("li").status_code == 302


def test_an_address_guessing_at_many_names_is_locked(
    browser: Callable[[], Console], make_account: MakeAccount
) -> None:
    """Twenty failures from one address, one per name, lock that address for any name;
    another address still signs in."""
    make_account("li", "staff")
    person = browser()
    for number in range(20):
        assert alert(person.sign_in(f"guess{number}")) == REFUSED
    assert alert(person.sign_in("li")) == LOCKED
    assert browser().sign_in("li", address="10.0.0.9").status_code == 302


def test_without_redis_signing_in_still_works(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis down: the lockout is skipped (counted at /healthz), the console stays open."""

    def down(*_args: object, **_kwargs: object) -> None:
        raise redis.ConnectionError("down")

    make_account("li", "staff")
    monkeypatch.setattr(services.redis, "mget", down)
    monkeypatch.setattr(services.redis, "pipeline", down)
    monkeypatch.setattr(services.redis, "delete", down)
    person = browser()
    assert person.sign_in("li", "a wrong password").status_code == 401
    assert person.sign_in("li").status_code == 302


def test_the_sign_in_page_speaks_english_when_asked(browser: Callable[[], Console]) -> None:
    person = browser()
    page = person.get("/console/sign-in?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page and ">Sign in<" in page
    assert '<html lang="zh-CN">' in person.get("/console/sign-in").get_data(as_text=True)
    response = person.client.post(
        "/console/sign-in?lang=en",
        data={"login": "nobody", "password": "x", "csrf_token": person.csrf()},
    )
    assert alert(response) == "The login name or the password is wrong."


def test_the_account_language_is_used_once_signed_in(
    browser: Callable[[], Console], make_account: MakeAccount
) -> None:
    make_account("emma", "staff", language="en")
    person = browser()
    person.sign_in("emma")
    page = person.get("/console/").get_data(as_text=True)
    assert "Hello, emma" in page and "Open needs" in page
    person.post("/console/language", {"language": "zh", "next": "/console/"})
    assert "emma，您好" in person.get("/console/").get_data(as_text=True)


def test_signing_out_ends_the_session(
    browser: Callable[[], Console], make_account: MakeAccount
) -> None:
    make_account("li", "staff")
    person = browser()
    person.sign_in("li")
    assert signed_out(person.post("/console/sign-out"))
    assert signed_out(person.get("/console/"))


def test_the_session_is_opened_only_under_the_console(console_app: Flask) -> None:
    """The cookie is scoped to /console, so elsewhere (the webhook) the session is the
    null one: nothing spent on a signer per delivery, and nothing can be written to it."""
    sessions = console_app.session_interface
    for path, opened in (("/wechat", False), ("/healthz", False), ("/console/", True)):
        with console_app.test_request_context(path, method="POST"):
            assert sessions.is_null_session(session) is not opened, path
