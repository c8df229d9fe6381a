"""``aixiang menu push``: the account's custom menu, from the [menu] config."""

from __future__ import annotations

import click

from bot.cli.support import StaffError, wechat_process
from bot.wechat.api import WeChatAPI
from bot.wechat.client import WeChatAPIError


@click.group()
def menu() -> None:
    """The account's custom menu."""


@menu.command("push")
@click.pass_context
def menu_push(ctx: click.Context) -> None:
    """Create the custom menu in WeChat from the [menu] config."""
    with wechat_process(ctx) as (services, client):
        try:
            WeChatAPI(client).menu.create(services.config.menu)
        except WeChatAPIError as exc:
            raise StaffError(
                f"WeChat refused the menu: {exc.errmsg} (errcode {exc.errcode})"
            ) from None
    click.echo(f"menu with {len(services.config.menu.buttons)} buttons pushed to WeChat")
