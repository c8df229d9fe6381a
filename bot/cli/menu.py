"""``aixiang menu push``: the account's custom menu, from the [menu] config."""

from __future__ import annotations

import click

from bot.cli.support import StaffError, emit_object, json_option, wechat_process
from bot.wechat.api import WeChatAPI
from bot.wechat.errors import WeChatAPIError


@click.group()
def menu() -> None:
    """The account's custom menu."""


@menu.command("push")
@json_option('Print {"buttons": [names of the top-level buttons]} as JSON.')
@click.pass_context
def menu_push(ctx: click.Context, as_json: bool) -> None:
    """Create the custom menu in WeChat from the [menu] config."""
    with wechat_process(ctx) as (services, client):
        try:
            WeChatAPI(client).menu.create(services.config.menu)
        except WeChatAPIError as exc:
            raise StaffError(
                f"WeChat refused the menu: {exc.errmsg} (errcode {exc.errcode})"
            ) from None
    buttons = services.config.menu.buttons
    if as_json:
        emit_object({"buttons": [button.name for button in buttons]}, as_json=True)
        return
    click.echo(f"menu with {len(buttons)} buttons pushed to WeChat")
