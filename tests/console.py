"""The console under test: its app over the suite's services, accounts made to measure,
and a signed-in browser-less client per account (each with its own cookies)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bot.app import create_app
from bot.services import Services
from bot.webhook_services import WebhookServices
from models.accounts.operations import create_account
from models.audit import Actor
from models.partners import add_partner, get_partner
from tests.conftest import FakeClock

PASSWORD = "a long enough password"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
ALERT = re.compile(r'role="alert"[^>]*>([^<]*)<')

MakeAccount = Callable[..., int]


@pytest.fixture
def console_app(services: WebhookServices) -> Flask:
    return create_app(services=services)


@pytest.fixture
def make_account(services: Services, clock: FakeClock) -> MakeAccount:
    """Adds an account (``partner`` by name, made by the test first); returns its id."""

    def make(login: str, role: str, *, partner: str | None = None, language: str = "zh") -> int:
        with services.session_factory() as db, db.begin():
            return create_account(
                db,
                Actor.os_user("test"),
                login=login,
                role=role,
                password=PASSWORD,
                now=clock.now,
                partner=get_partner(db, partner) if partner is not None else None,
                language=language,
            ).id

    return make


@dataclass
class Console:
    """One person's browser: its own cookie jar, and the CSRF token of its last page."""

    client: FlaskClient

    def csrf(self) -> str:
        """The session's CSRF token, as a page of the console carries it."""
        found = CSRF_FIELD.search(self.client.get("/console/sign-in").get_data(as_text=True))
        if found is None:
            found = CSRF_FIELD.search(self.client.get("/console/").get_data(as_text=True))
        assert found is not None, "no CSRF token on the page"
        return found.group(1)

    def sign_in(
        self,
        login: str,
        password: str = PASSWORD,
        *,
        next_page: str = "",
        address: str = "127.0.0.1",
    ) -> TestResponse:
        """Sign in from ``address`` (what the lockout counts by)."""
        data = {"login": login, "password": password, "csrf_token": self.csrf()}
        if next_page:
            data["next"] = next_page
        return self.client.post(
            "/console/sign-in", data=data, environ_base={"REMOTE_ADDR": address}
        )

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, **kwargs)

    def post(
        self, path: str, data: Mapping[str, str | list[str]] | None = None, **kwargs: Any
    ) -> TestResponse:
        """A form POST carrying the session's CSRF token (a list: a field sent once per
        value, as ticked checkboxes are)."""
        return self.client.post(path, data={"csrf_token": self.csrf(), **(data or {})}, **kwargs)


@pytest.fixture
def browser(console_app: Flask) -> Callable[[], Console]:
    """Makes a fresh, signed-out browser on the console."""
    return lambda: Console(console_app.test_client())


@pytest.fixture
def partner_console(
    browser: Callable[[], Console], make_account: MakeAccount, services: Services
) -> Console:
    """A partner organisation's account, signed in: for the pages partners may not see."""
    with services.session_factory() as db, db.begin():
        add_partner(
            db, Actor.os_user("test"), name="绿色社", kind="government", now=services.clock()
        )
    make_account("green", "partner", partner="绿色社")
    partner = browser()
    partner.sign_in("green")
    return partner


def alert(response: TestResponse) -> str:
    """The page's error message (``role="alert"``)."""
    found = ALERT.search(response.get_data(as_text=True))
    assert found is not None, response.get_data(as_text=True)[:500]
    return found.group(1).strip()


def signed_out(response: TestResponse) -> bool:
    """Whether the answer sends the person to the sign-in page."""
    return response.status_code == 302 and "/console/sign-in" in response.headers["Location"]
