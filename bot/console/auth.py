"""Who is signed in, and what each request may do.

Every console route is behind the sign-in guard unless listed in ``PUBLIC_ENDPOINTS``,
and every request that may change something (a POST) behind the CSRF check and, unless
listed in ``OWN_SETTINGS_ENDPOINTS``, behind the role's permission to change anything:
a page added later is closed by default rather than open until someone remembers a
decorator.

The session holds the account's id and a fingerprint of its password hash, so a new
password signs out every other session of that account; a disabled account's session
ends at its next request, when the account is loaded again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Response, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect

from bot.console.context import request_db, services
from models.accounts.roles import Permission, allows
from models.accounts.tables import Account
from models.base import ID_MAX

P = ParamSpec("P")
R = TypeVar("R")

login_manager = LoginManager()
csrf = CSRFProtect()

PUBLIC_ENDPOINTS = frozenset({"console.sign_in", "console.static"})
# What only reads; anything else is a change, CSRF-checked.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POSTs that change only the person's own session or settings: a read-only role makes them.
OWN_SETTINGS_ENDPOINTS = frozenset(
    {
        "console.sign_in",
        "console.sign_out",
        "console.language",
        "console.my_account.code",
        "console.my_account.unlink",
        "console.my_account.weekly",
        # The needs queue's saved views are the account's own (bot/console/needs/saved_views.py).
        "console.needs.view_save",
        "console.needs.view_rename",
        "console.needs.view_delete",
    }
)


class SignedIn(UserMixin):
    """Flask-Login's view of an account, loaded in the request's session."""

    def __init__(self, account: Account) -> None:
        self.account = account

    def get_id(self) -> str:
        return f"{self.account.id}:{password_fingerprint(self.account)}"

    def can(self, permission: Permission) -> bool:
        return allows(self.account.role, permission)


def password_fingerprint(account: Account) -> str:
    return hashlib.sha256(account.password_hash.encode()).hexdigest()[:16]


@login_manager.user_loader
def load_signed_in(session_id: str) -> SignedIn | None:
    """The session's account, if it still exists, is active and has the password the
    session was signed in with; otherwise the request is treated as signed out."""
    number, _, fingerprint = session_id.partition(":")
    if not number.isdecimal() or int(number) > ID_MAX:
        return None
    account = request_db().get(Account, int(number))
    if account is None or not account.active:
        return None
    if not hmac.compare_digest(fingerprint, password_fingerprint(account)):
        return None
    return SignedIn(account)


@login_manager.unauthorized_handler
def to_sign_in() -> ResponseReturnValue:
    """A page asks for the sign-in page, coming back after; an htmx request (whose
    session ended while the page stayed open) makes htmx load it as a whole page."""
    target = url_for("console.sign_in", next=request.full_path.rstrip("?"))
    if request.headers.get("HX-Request"):
        return Response(status=401, headers={"HX-Redirect": target})
    return redirect(target)


def guard() -> ResponseReturnValue | None:
    """Run before every console request (see the module's docstring)."""
    changing = request.method not in SAFE_METHODS
    if changing:
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        response: Response = login_manager.unauthorized()
        return response
    own_settings = request.endpoint in OWN_SETTINGS_ENDPOINTS
    if changing and not own_settings and not current_user.can(Permission.CHANGE):
        abort(403)
    return None


def requires(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A view only accounts whose role has ``permission`` may open (others get 403)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            if not current_user.can(permission):
                abort(403)
            return view(*args, **kwargs)

        return checked

    return decorate


def client_address() -> str:
    """The address the sign-in lockout counts by (``console.proxy_hops`` says whose)."""
    hops = services().config.console.proxy_hops
    if hops:
        forwarded = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only, never another site."""
    if target and target.startswith("/console/") and not target.startswith("/console//"):
        return target
    return url_for("console.dashboard_page")
