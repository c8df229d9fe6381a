"""Who may open and change what in the console: signed out, nothing but the sign-in page
and static files; a read-only role, no change; a partner, not the accounts; a disabled
account or a changed password, signed out at the next request; every POST CSRF-checked.

Routes are read from the app's URL map, so a page added later is held to the same rules
without a test of its own."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from bot.app import create_app
from bot.console.auth import OWN_SETTINGS_ENDPOINTS, PUBLIC_ENDPOINTS
from bot.services import Services
from bot.webhook_services import WebhookServices
from models.accounts.operations import disable_account, set_password
from models.accounts.tables import Account
from models.audit import Actor
from models.partners import add_partner
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount, signed_out


def console_routes(app: Flask, method: str) -> Iterator[tuple[str, str]]:
    """(endpoint, a path to it) for every console route taking ``method``."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console.") and method in (rule.methods or ()):
            path = rule.rule.replace("<path:filename>", "console.css")
            yield rule.endpoint, re.sub(r"<(?:int:)?[^>]+>", "1", path)


def test_the_console_has_pages_and_forms(console_app: Flask) -> None:
    """The rules below are checked over these; an empty list would check nothing."""
    assert len(list(console_routes(console_app, "GET"))) >= 5
    assert len(list(console_routes(console_app, "POST"))) >= 5


def test_nothing_but_sign_in_and_static_files_opens_signed_out(
    console_app: Flask, browser: Callable[[], Console]
) -> None:
    person = browser()
    for endpoint, path in console_routes(console_app, "GET"):
        response = person.get(path)
        response.close()  # a static file is streamed
        if endpoint in PUBLIC_ENDPOINTS:
            assert response.status_code == 200, path
        else:
            assert signed_out(response), (path, response.status_code)
    for endpoint, path in console_routes(console_app, "POST"):
        if endpoint not in PUBLIC_ENDPOINTS:
            assert signed_out(person.post(path)), path


def test_the_sign_in_page_comes_back_to_the_page_asked_for(
    browser: Callable[[], Console], make_account: MakeAccount
) -> None:
    make_account("ops", "admin")
    person = browser()
    asked = person.get("/console/audit/?action=account.add")
    assert asked.headers["Location"] == "/console/sign-in?next=/console/audit/?action%3Daccount.add"
    response = person.sign_in("ops", next_page="/console/audit/?action=account.add")
    assert response.headers["Location"] == "/console/audit/?action=account.add"


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/", "/wechat"])
def test_after_signing_in_only_console_pages_are_followed(
    browser: Callable[[], Console], make_account: MakeAccount, elsewhere: str
) -> None:
    make_account("ops", "admin")
    assert browser().sign_in("ops", next_page=elsewhere).headers["Location"] == "/console/"


def test_an_htmx_request_signed_out_is_told_to_load_the_sign_in_page(
    browser: Callable[[], Console],
) -> None:
    response = browser().get("/console/audit/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/console/sign-in?next=")


@pytest.mark.parametrize("role", ["viewer", "foundation"])
def test_a_read_only_role_changes_nothing(
    console_app: Flask,
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    role: str,
) -> None:
    make_account("reader", role)
    person = browser()
    assert person.sign_in("reader").status_code == 302
    assert person.get("/console/").status_code == 200
    for endpoint, path in console_routes(console_app, "POST"):
        if endpoint not in OWN_SETTINGS_ENDPOINTS:
            assert person.post(path, {"login": "x"}).status_code == 403, path
    # Their own language and signing out are theirs to change.
    assert person.post("/console/language", {"language": "en"}).status_code == 302
    with services.session_factory() as db:
        assert db.query(Account).filter_by(login="reader").one().language == "en"


@pytest.mark.parametrize("role", ["staff", "partner", "foundation", "viewer"])
def test_only_admins_open_the_accounts_and_the_audit_log(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    role: str,
) -> None:
    with services.session_factory() as db, db.begin():
        add_partner(db, Actor.os_user("test"), name="镇建设办", kind="government", now=clock.now)
    make_account("someone", role, partner="镇建设办" if role == "partner" else None)
    person = browser()
    person.sign_in("someone")
    page = person.get("/console/").get_data(as_text=True)
    assert "/console/accounts/" not in page and "/console/audit/" not in page
    for path in ("/console/accounts/", "/console/audit/"):
        assert person.get(path).status_code == 403, path
    assert person.post("/console/accounts/", {"login": "x", "role": "admin"}).status_code == 403
    assert person.post("/console/accounts/1/disable").status_code == 403


def test_an_admin_opens_both(browser: Callable[[], Console], make_account: MakeAccount) -> None:
    make_account("ops", "admin")
    person = browser()
    person.sign_in("ops")
    assert person.get("/console/accounts/").status_code == 200
    assert person.get("/console/audit/").status_code == 200


def disable(db: Session, account: Account, now: datetime) -> None:
    disable_account(db, Actor.os_user("test"), account, now)


def new_password(db: Session, account: Account, now: datetime) -> None:
    set_password(db, Actor.os_user("test"), account, "another long password", now)


@pytest.mark.parametrize(
    ("change", "password_after"),
    [(disable, None), (new_password, "another long password")],
    ids=["disabled", "new-password"],
)
def test_a_session_ends_at_its_next_request_when_its_account_is_disabled_or_repassworded(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    clock: FakeClock,
    change: Callable[[Session, Account, datetime], None],
    password_after: str | None,
) -> None:
    staff_id = make_account("li", "staff")
    person = browser()
    person.sign_in("li")
    assert person.get("/console/").status_code == 200
    with services.session_factory() as db, db.begin():
        account = db.get(Account, staff_id)
        assert account is not None
        change(db, account, clock.now)
    assert signed_out(person.get("/console/"))
    if password_after is None:
        assert person.sign_in("li").status_code == 401
    else:
        assert person.sign_in("li", password_after).status_code == 302


def test_a_session_unused_for_the_idle_time_ends(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cookie is signed with its time at every request; one older than
    console.idle_minutes (30) is refused. Used within the time, it lives on."""
    make_account("li", "staff")
    person = browser()
    person.sign_in("li")
    started = time.time()
    monkeypatch.setattr(time, "time", lambda: started + 25 * 60)
    assert person.get("/console/").status_code == 200
    monkeypatch.setattr(time, "time", lambda: started + 50 * 60)
    assert person.get("/console/").status_code == 200
    monkeypatch.setattr(time, "time", lambda: started + 81 * 60)
    assert signed_out(person.get("/console/"))


def test_the_session_cookie_is_http_only_same_site_and_scoped(
    browser: Callable[[], Console], make_account: MakeAccount
) -> None:
    make_account("li", "staff")
    cookie = browser().sign_in("li").headers["Set-Cookie"]
    assert cookie.startswith("aixiang_console=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie


def test_secure_cookies_when_configured(
    services: WebhookServices, make_account: MakeAccount
) -> None:
    config = replace(services.config, console=replace(services.config.console, secure_cookies=True))
    app = create_app(services=replace(services, config=config))
    make_account("li", "staff")
    person = Console(app.test_client())
    cookie = person.sign_in("li").headers["Set-Cookie"]
    assert "Secure" in cookie


def test_a_post_without_its_csrf_token_is_refused(
    console_app: Flask, browser: Callable[[], Console], make_account: MakeAccount
) -> None:
    make_account("ops", "admin")
    person = browser()
    person.sign_in("ops")
    for _, path in console_routes(console_app, "POST"):
        response = person.client.post(path, data={"login": "x"})
        assert response.status_code == 400, path
        assert "页面已过期" in response.get_data(as_text=True)
    forged = person.client.post(
        "/console/accounts/1/disable", headers={"HX-Request": "true", "X-CSRFToken": "forged"}
    )
    assert forged.status_code == 400


def test_htmx_sends_the_token_in_a_header(
    browser: Callable[[], Console], make_account: MakeAccount
) -> None:
    make_account("ops", "admin")
    staff_id = make_account("li", "staff")
    person = browser()
    person.sign_in("ops")
    page = person.get("/console/accounts/").get_data(as_text=True)
    header = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", page)
    assert header is not None
    response = person.client.post(
        f"/console/accounts/{staff_id}/disable",
        headers={"HX-Request": "true", "X-CSRFToken": header.group(1)},
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith(f'<tr id="account-{staff_id}"')
