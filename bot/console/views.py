"""The console's own pages: signing in and out, the language, the landing page; its
error pages; and the blueprint the other areas (accounts, audit) hang from."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, gettext
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from bot.console.accounts import blueprint as accounts_blueprint
from bot.console.audit import blueprint as audit_blueprint
from bot.console.auth import SignedIn, client_address, guard, safe_next
from bot.console.broadcasts import blueprint as broadcasts_blueprint
from bot.console.context import account, close_request_db, now, request_db, services
from bot.console.events import blueprint as events_blueprint
from bot.console.exports import blueprint as exports_blueprint
from bot.console.exports import export_url
from bot.console.i18n import CatalogDomain
from bot.console.impact.routes import blueprint as impact_blueprint
from bot.console.inbox import blueprint as inbox_blueprint
from bot.console.lockout import SignInLockout
from bot.console.my_account import blueprint as my_account_blueprint
from bot.console.names import push_kind_name, push_status_name
from bot.console.needs.routes import blueprint as needs_blueprint
from bot.console.outbox import blueprint as outbox_blueprint
from bot.console.residents import blueprint as residents_blueprint
from bot.console.responses import blueprint as responses_blueprint
from bot.console.tags import blueprint as tags_blueprint
from bot.console.villages import blueprint as villages_blueprint
from bot.console.villages import chosen_village
from models.accounts.errors import AccountError
from models.accounts.operations import authenticate, set_language
from models.accounts.passwords import MAX_LENGTH
from models.accounts.roles import Permission, Role
from models.base import local_text
from models.dashboard import dashboard
from models.villages.queries import active_villages

log = logging.getLogger(__name__)

console = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
console.register_blueprint(accounts_blueprint)
console.register_blueprint(audit_blueprint)
console.register_blueprint(impact_blueprint)
console.register_blueprint(inbox_blueprint)
console.register_blueprint(needs_blueprint)
console.register_blueprint(residents_blueprint)
console.register_blueprint(responses_blueprint)
console.register_blueprint(villages_blueprint)
console.register_blueprint(tags_blueprint)
console.register_blueprint(events_blueprint)
console.register_blueprint(outbox_blueprint)
console.register_blueprint(broadcasts_blueprint)
console.register_blueprint(my_account_blueprint)
console.register_blueprint(exports_blueprint)

DOMAIN = CatalogDomain()
ROLE_TEXT_KEYS = {
    Role.ADMIN: "console_role_admin",
    Role.STAFF: "console_role_staff",
    Role.PARTNER: "console_role_partner",
    Role.FOUNDATION: "console_role_foundation",
    Role.VIEWER: "console_role_viewer",
}
ERROR_TEXT_KEYS = {
    400: "console_error_400",
    403: "console_error_403",
    404: "console_error_404",
}


@console.before_request
def _before() -> ResponseReturnValue | None:
    DOMAIN.as_default()
    return guard()


console.teardown_request(close_request_db)


@console.context_processor
def _page_context() -> dict[str, Any]:
    signed_in = current_user.account if current_user.is_authenticated else None
    return {
        "signed_in": signed_in,
        "can": lambda permission: bool(signed_in) and current_user.can(Permission(permission)),
        "role_name": lambda role: gettext(ROLE_TEXT_KEYS[Role(role)]),
        "language": str(get_locale().language),
        "push_status_name": push_status_name,
        "push_kind_name": push_kind_name,
        "export_url": export_url,
    }


@console.app_template_filter("local_time")
def _local_time(moment: datetime | None) -> str:
    return "" if moment is None else local_text(moment, services().config.bot.tz)


@console.app_template_filter("shown")
def _shown(value: object) -> str:
    """A value of an audit entry as a person reads it: nothing is a dash, not "None"."""
    return "—" if value is None else str(value)


@console.errorhandler(CSRFError)
def _csrf_refused(_error: CSRFError) -> tuple[str, int]:
    return render_template("console/error.html", message=gettext("console_error_csrf")), 400


@console.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
    code = error.code or 500
    if code not in ERROR_TEXT_KEYS:
        return error
    return render_template("console/error.html", message=gettext(ERROR_TEXT_KEYS[code])), code


def _lockout() -> SignInLockout:
    settings = services().config.console
    return SignInLockout(
        services().redis,
        login_failures=settings.lockout_failures,
        address_failures=settings.lockout_address_failures,
        window_s=settings.lockout_minutes * 60,
    )


@console.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """The one page open to everyone. A refused sign-in says the same whether the name
    is unknown, the password wrong or the account disabled."""
    target = request.values.get("next", "")
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_next(target))
        return render_template("console/sign_in.html", next=target)
    login = request.form.get("login", "")[:MAX_LENGTH]
    password = request.form.get("password", "")
    lockout = _lockout()
    address = client_address()
    if lockout.locked(login, address):
        log.warning("console sign-in refused: too many failures for the name or the address")
        message = gettext("console_sign_in_locked").format(
            minutes=services().config.console.lockout_minutes
        )
        return render_template("console/sign_in.html", next=target, error=message), 429
    db = request_db()
    signed = authenticate(db, login, password, now())
    if signed is None:
        lockout.failed(login, address)
        message = gettext("console_sign_in_refused")
        return render_template("console/sign_in.html", next=target, error=message), 401
    db.commit()
    lockout.succeeded(login)
    # A fresh session: nothing from before signing in (a planted CSRF token) carries over.
    session.clear()
    login_user(SignedIn(signed))
    session.permanent = True
    return redirect(safe_next(target))


@console.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    logout_user()
    session.clear()
    return redirect(url_for("console.sign_in"))


@console.post("/language")
def language() -> ResponseReturnValue:
    """The signed-in person's own choice, kept on their account (and audited)."""
    db = request_db()
    try:
        set_language(db, account(), request.form.get("language", ""), now())
    except AccountError:
        abort(400)
    db.commit()
    return redirect(safe_next(request.form.get("next")))


@console.get("/")
def dashboard_page() -> str:
    """The landing page: open needs and upcoming events, of the partner's own
    organisation for a partner account (only those carry a partner), else of the club;
    in one village when ``?village=`` names one."""
    signed = account()
    db = request_db()
    chosen = chosen_village()
    figures = dashboard(db, now(), signed.partner_id, chosen)
    return render_template(
        "console/dashboard.html", figures=figures, villages=active_villages(db), chosen=chosen
    )
