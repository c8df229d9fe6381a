"""Accounts, for admins: the list, adding one, disabling one. Each change goes through
models.accounts, which writes the audit entry in the same transaction."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.auth import requires
from bot.console.changes import change_or_refuse
from bot.console.context import account, now, request_db
from models.accounts.errors import AccountError
from models.accounts.operations import actor_for, create_account, disable_account
from models.accounts.queries import list_accounts
from models.accounts.roles import Permission, Role
from models.accounts.tables import Account
from models.base import ID_MAX
from models.partners import Partner, PartnerError, get_partner, list_partners

blueprint = Blueprint("accounts", __name__, url_prefix="/accounts")

FORM_FIELDS = ("login", "display_name", "role", "partner", "language")


def _page(form: dict[str, str], error: str = "") -> str:
    db = request_db()
    return render_template(
        "console/accounts.html",
        accounts=list_accounts(db),
        partners=list_partners(db),
        partner_names=_partner_names(),
        roles=list(Role),
        form=form,
        error=error,
    )


@blueprint.get("/")
@requires(Permission.MANAGE_ACCOUNTS)
def index() -> str:
    return _page({"role": Role.STAFF, "language": account().language})


@blueprint.post("/")
@requires(Permission.MANAGE_ACCOUNTS)
def add() -> ResponseReturnValue:
    form = {name: request.form.get(name, "").strip() for name in FORM_FIELDS}
    password = request.form.get("password", "")

    def change() -> str:
        if password != request.form.get("password_again", ""):
            raise AccountError("account_error_passwords_differ")
        created = create_account(
            request_db(),
            actor_for(account()),
            login=form["login"],
            role=form["role"],
            password=password,
            now=now(),
            display_name=form["display_name"],
            partner=_partner(form["partner"]),
            language=form["language"],
        )
        return gettext("console_account_added").format(login=created.login)

    return change_or_refuse(
        change,
        lambda error: (_page(form, error), 400),
        url_for("console.accounts.index"),
        (AccountError,),
    )


@blueprint.post("/<int:account_id>/disable")
@requires(Permission.MANAGE_ACCOUNTS)
def disable(account_id: int) -> ResponseReturnValue:
    """Asked from the list with htmx (its row comes back) or by a plain form."""
    db = request_db()
    target = db.get(Account, account_id) if account_id <= ID_MAX else None
    if target is None:
        abort(404)
    try:
        disable_account(db, actor_for(account()), target, now())
    except AccountError as exc:
        db.rollback()
        message, status = exc.text(account().language), 409
    else:
        db.commit()
        message, status = gettext("console_account_disabled").format(login=target.login), 200
    if request.headers.get("HX-Request"):
        row = render_template(
            "console/account_row.html", row=target, partner_names=_partner_names(), note=message
        )
        return row, status
    flash(message)
    return redirect(url_for("console.accounts.index"))


def _partner(name: str) -> Partner | None:
    if not name:
        return None
    try:
        return get_partner(request_db(), name)
    except PartnerError:
        raise AccountError("account_error_partner_unknown", partner=name) from None


def _partner_names() -> dict[int, str]:
    return {p.id: p.name for p in list_partners(request_db())}
