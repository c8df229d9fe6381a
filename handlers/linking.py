"""绑定 CODE / link CODE: a console account's owner links their WeChat to the account by
sending the one-time code their account page shows (bot/link_codes.py keeps the codes).

The change is the account owner's own, so the audit log names the account as its author;
every refusal is one sentence in the follower's language, and nothing is linked by it.
"""

from __future__ import annotations

from handlers.context import Context
from handlers.message import Message, Reply
from handlers.router import Router
from models.accounts.errors import AccountError
from models.accounts.operations import actor_for, link_wechat
from models.accounts.tables import Account


def link(message: Message, ctx: Context, code: str) -> Reply:
    redemption = ctx.link_codes.redeem(code, ctx.contact.openid)
    if redemption.refused:
        return Reply(ctx.t("link_later"))
    account = ctx.db.get(Account, redemption.account_id) if redemption.account_id else None
    if account is None:
        return Reply(ctx.t("link_code_unknown"))
    try:
        link_wechat(ctx.db, actor_for(account), account, ctx.contact.openid, ctx.now)
    except AccountError as exc:
        return Reply(exc.text(ctx.language))
    return Reply(ctx.t("link_done", login=account.login))


def register(router: Router) -> None:
    router.add_arg_keyword(("绑定", "link"), link)
