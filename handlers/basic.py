"""Help, language, follow/unfollow, leaving a flow, broadcast opt-out, and the fallbacks."""

from __future__ import annotations

import difflib

from handlers.context import Context
from handlers.message import Message, Reply
from handlers.router import Handler, Router, normalize
from models.broadcasts.sending import set_broadcast_opt_out
from models.residents import mark_subscribed, mark_unsubscribed
from texts.catalog import Language


def show_help(message: Message, ctx: Context) -> Reply:
    return Reply(ctx.t("help"))


def set_chinese(message: Message, ctx: Context) -> Reply:
    ctx.resident.language = Language.ZH
    return Reply(ctx.t("language_set"))


def set_english(message: Message, ctx: Context) -> Reply:
    ctx.resident.language = Language.EN
    return Reply(ctx.t("language_set"))


def on_subscribe(message: Message, ctx: Context) -> Reply:
    mark_subscribed(ctx.resident, ctx.now)
    return Reply(f"{ctx.t('welcome')}\n\n{ctx.t('help')}")


def on_unsubscribe(message: Message, ctx: Context) -> None:
    """WeChat shows no reply to an unfollow; the resident is only marked."""
    mark_unsubscribed(ctx.resident, ctx.now)
    ctx.end_flow()


def leave_flow(message: Message, ctx: Context) -> Reply:
    if ctx.flow is None:
        return Reply(ctx.t("nothing_to_leave"))
    ctx.end_flow()
    return Reply(ctx.t("flow_left"))


def broadcasts_off(message: Message, ctx: Context) -> Reply:
    set_broadcast_opt_out(ctx.db, ctx.resident, refused=True)
    return Reply(ctx.t("broadcast_off"))


def broadcasts_on(message: Message, ctx: Context) -> Reply:
    set_broadcast_opt_out(ctx.db, ctx.resident, refused=False)
    return Reply(ctx.t("broadcast_on"))


# How much of a message not understood is quoted back, and how many commands suggested.
SAID_SHOWN = 12
SUGGESTED = 3
# How close a message must be to a command for it to be suggested (difflib's ratio).
CLOSE_ENOUGH = 0.6


def not_understood(router: Router) -> Handler:
    """A short answer for what no handler took: the words quoted back, so the resident
    sees what was read, and the commands closest to them in the resident's language (the
    whole help is one word away; ten lines every time buries the answer). The inbox sets
    the router's fallback around it (handlers/inbox.py)."""

    def not_understood(message: Message, ctx: Context) -> Reply:
        said = " ".join(message.words.split())
        quoted = said if len(said) <= SAID_SHOWN else f"{said[:SAID_SHOWN]}…"
        commands = router.keywords_in(ctx.language)
        close = difflib.get_close_matches(normalize(said), commands, SUGGESTED, CLOSE_ENOUGH)
        if not close:
            return Reply(ctx.t("not_understood", said=quoted))
        suggestions = ctx.t("suggestion_separator").join(close)
        return Reply(ctx.t("not_understood_close", said=quoted, suggestions=suggestions))

    return not_understood


def unsupported(message: Message, ctx: Context) -> Reply:
    return Reply(ctx.t("unsupported_type"))


def coming_soon(message: Message, ctx: Context) -> Reply:
    return Reply(ctx.t("coming_soon"))


def register(router: Router) -> None:
    router.add_anywhere_keyword(("帮助", "help", "?"), show_help)
    router.add_click(("HELP",), show_help)
    router.add_anywhere_keyword(("中文",), set_chinese)
    router.add_anywhere_keyword(("english",), set_english)
    router.add_keyword(("退订", "unsubscribe"), broadcasts_off)
    router.add_keyword(("订阅", "subscribe"), broadcasts_on)
    router.add_event(("subscribe",), on_subscribe)
    router.add_event(("unsubscribe",), on_unsubscribe)
    router.set_exit(leave_flow)
    router.set_unsupported(unsupported)
    router.set_coming_soon(coming_soon)
