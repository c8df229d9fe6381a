"""``aixiang accounts``: who may sign in to the console, and with which role.

Passwords are asked twice without echo, or read from the first line of standard input
with ``--password-stdin`` (for scripts); there is never a default. Each change is written
to the audit log, by the ``--as`` account or the operating-system user.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.orm import Session

from bot.cli.actors import acting, acting_account, as_option
from bot.cli.support import (
    StaffError,
    emit,
    emit_object,
    json_option,
    now_from_context,
    staff_session,
)
from models.accounts.errors import AccountError
from models.accounts.operations import (
    actor_for,
    check_new_account,
    create_account,
    disable_account,
    link_wechat,
    set_password,
    unlink_wechat,
)
from models.accounts.queries import get_account, list_accounts
from models.accounts.roles import Permission, Role
from models.accounts.tables import Account
from models.audit import Actor
from models.partners import PartnerError, get_partner, partner_name
from texts.catalog import LANGUAGES

LIST_COLUMNS = (
    "id",
    "login",
    "display_name",
    "role",
    "partner",
    "language",
    "active",
    "last_sign_in",
    "wechat_openid",
    "weekly_report",
)


@click.group(short_help="Console accounts and their roles.")
def accounts() -> None:
    """Console accounts: add them, change a password, link their WeChat, disable them,
    list them."""


@accounts.command("add", short_help="Add a console account.")
@click.argument("name")
@click.option("--role", required=True, help=f"One of: {', '.join(Role)}.")
@click.option("--partner", help="The partner organisation (name or id); partner accounts only.")
@click.option("--display-name", default="", help="The name the console shows (default: NAME).")
@click.option(
    "--language", default=LANGUAGES[0], show_default=True, help="zh or en, for the console."
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@as_option
@json_option("Print the new account as JSON.")
@click.pass_context
def accounts_add(
    ctx: click.Context,
    name: str,
    role: str,
    partner: str | None,
    display_name: str,
    language: str,
    password_stdin: bool,
    as_account: str | None,
    as_json: bool,
) -> None:
    """Add an account that signs in to the console as NAME (lower case, a-z 0-9 . _ -).

    Roles: admin (everything, accounts), staff (triage, events, broadcasts), partner
    (only its organisation's work; needs --partner), foundation (reads everything),
    viewer (reads figures and lists).
    """
    with staff_session(ctx) as db:
        actor = acting(db, as_account, Permission.MANAGE_ACCOUNTS)
        try:
            organisation = get_partner(db, partner) if partner is not None else None
            check_new_account(
                db,
                login=name,
                role=role,
                display_name=display_name,
                partner=organisation,
                language=language,
            )
            account = create_account(
                db,
                actor,
                login=name,
                role=role,
                password=_new_password(password_stdin),
                now=now_from_context(ctx),
                display_name=display_name,
                partner=organisation,
                language=language,
            )
        except (AccountError, PartnerError) as exc:
            raise StaffError(str(exc)) from None
        if as_json:
            emit_object(_record(db, account), as_json=True)
            return
        click.echo(f"account {account.id}: {account.login} ({account.role})")


@accounts.command("passwd", short_help="Set an account's password.")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@as_option
@json_option("Print the account as JSON.")
@click.pass_context
def accounts_passwd(
    ctx: click.Context, name: str, password_stdin: bool, as_account: str | None, as_json: bool
) -> None:
    """Set NAME's password; the console sessions signed in with the old one end."""
    with staff_session(ctx) as db:
        account = _account(db, name)
        actor: Actor
        if as_account is not None and as_account.strip().lower() == account.login:
            # Anyone may change their own password, whatever their role.
            actor = actor_for(acting_account(db, as_account, None))
        else:
            actor = acting(db, as_account, Permission.MANAGE_ACCOUNTS)
        try:
            set_password(db, actor, account, _new_password(password_stdin), now_from_context(ctx))
        except AccountError as exc:
            raise StaffError(str(exc)) from None
        if as_json:
            emit_object(_record(db, account), as_json=True)
            return
        click.echo(f"account {account.login}: password changed")


@accounts.command("disable", short_help="Stop an account signing in.")
@click.argument("name")
@as_option
@json_option("Print the disabled account as JSON.")
@click.pass_context
def accounts_disable(ctx: click.Context, name: str, as_account: str | None, as_json: bool) -> None:
    """Disable NAME: it can no longer sign in, and its open sessions end at their next
    request. Its changes stay in the audit log under its name."""
    with staff_session(ctx) as db:
        account = _account(db, name)
        actor = acting(db, as_account, Permission.MANAGE_ACCOUNTS)
        try:
            disable_account(db, actor, account, now_from_context(ctx))
        except AccountError as exc:
            raise StaffError(str(exc)) from None
        if as_json:
            emit_object(_record(db, account), as_json=True)
            return
        click.echo(f"account {account.login}: disabled")


@accounts.command("link", short_help="Link an account's WeChat, or clear it.")
@click.argument("name")
@click.option("--openid", help="The WeChat openid of the account's owner.")
@click.option("--clear", is_flag=True, help="Unlink it (the weekly report stops too).")
@as_option
@json_option("Print the account as JSON.")
@click.pass_context
def accounts_link(
    ctx: click.Context,
    name: str,
    openid: str | None,
    clear: bool,
    as_account: str | None,
    as_json: bool,
) -> None:
    """Link NAME to the WeChat follower --openid, or unlink it with --clear. Its owner
    can do the same from the console's account page, by sending a code to the Official
    Account; the weekly report goes only to a linked account."""
    if (openid is not None) == clear:
        raise StaffError("give either --openid OPENID or --clear")
    with staff_session(ctx) as db:
        account = _account(db, name)
        actor = acting(db, as_account, Permission.MANAGE_ACCOUNTS)
        try:
            if openid is not None:
                link_wechat(db, actor, account, openid, now_from_context(ctx))
            else:
                unlink_wechat(db, actor, account, now_from_context(ctx))
        except AccountError as exc:
            raise StaffError(str(exc)) from None
        if as_json:
            emit_object(_record(db, account), as_json=True)
            return
        linked = f"linked to {account.wechat_openid}" if account.wechat_openid else "unlinked"
        click.echo(f"account {account.login}: WeChat {linked}")


@accounts.command("list")
@json_option()
@click.pass_context
def accounts_list(ctx: click.Context, as_json: bool) -> None:
    """List accounts, active ones first."""
    with staff_session(ctx) as db:
        rows = [_record(db, account) for account in list_accounts(db)]
    emit(rows, as_json, LIST_COLUMNS)


def _record(db: Session, account: Account) -> dict[str, object]:
    """An account as the list and every change's JSON give it (never its password)."""
    return {
        "id": account.id,
        "login": account.login,
        "display_name": account.display_name,
        "role": account.role,
        "partner": partner_name(db, account.partner_id),
        "language": account.language,
        "active": account.active,
        "last_sign_in": account.last_sign_in_at,
        "wechat_openid": account.wechat_openid,
        "weekly_report": account.weekly_report,
    }


def _account(db: Session, name: str) -> Account:
    try:
        return get_account(db, name)
    except AccountError as exc:
        raise StaffError(str(exc)) from None


def _new_password(from_stdin: bool) -> str:
    """Asked twice without echo, or the first line of standard input."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise StaffError("--password-stdin: standard input held no password")
        return password
    try:
        answer: str = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Password again"
        )
    except click.Abort:
        raise StaffError("no password given") from None
    return answer
