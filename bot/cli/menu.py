"""``aixiang menu push``: the account's custom menu, from the [menu] config.

The push is audited (models/menu.py) in a transaction that commits only once WeChat
accepted the menu; ``--as`` names an account allowed to run the service (an admin)."""

from __future__ import annotations

import click

from bot.cli.actors import acting, as_option
from bot.cli.support import (
    StaffError,
    emit_object,
    json_option,
    now_from_context,
    staff_session,
    wechat_process,
)
from bot.wechat.api import WeChatAPI
from bot.wechat.errors import WeChatAPIError
from models.accounts.roles import Permission
from models.menu import menu_pushed


@click.group()
def menu() -> None:
    """The account's custom menu."""


@menu.command("push")
@as_option
@json_option('Print {"buttons": [names of the top-level buttons]} as JSON.')
@click.pass_context
def menu_push(ctx: click.Context, as_account: str | None, as_json: bool) -> None:
    """Create the custom menu in WeChat from the [menu] config."""
    with wechat_process(ctx) as (services, client), staff_session(ctx) as db:
        actor = acting(db, as_account, Permission.RUN_SERVICE)
        try:
            WeChatAPI(client).menu.create(services.config.menu)
        except WeChatAPIError as exc:
            raise StaffError(
                f"WeChat refused the menu: {exc.errmsg} (errcode {exc.errcode})"
            ) from None
        names = [button.name for button in services.config.menu.buttons]
        menu_pushed(db, actor, names, now_from_context(ctx))
    if as_json:
        emit_object({"buttons": names}, as_json=True)
        return
    click.echo(f"menu with {len(names)} buttons pushed to WeChat")
