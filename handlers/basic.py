"""Help, language, follow/unfollow, leaving a flow, broadcast opt-out, and the fallbacks."""

from __future__ import annotations

from handlers.context import Context
from handlers.message import Message, Reply
from handlers.router import Router
from models.broadcasts.sending import set_broadcast_opt_out
from models.residents import mark_subscribed, mark_unsubscribed

TEXTS = {
    "help": {
        "zh": (
            "爱乡共建俱乐部 · 您可以发送：\n"
            "活动 — 近期共建活动\n"
            "报名 N — 报名第 N 号活动\n"
            "取消报名 N — 取消报名\n"
            "我的活动 — 我的报名\n"
            "需求 — 提交社区需求\n"
            "我的需求 — 查看需求进展\n"
            "退订 / 订阅 — 关闭或打开活动推送\n"
            "English — switch to English\n"
            "退出 — 离开当前对话"
        ),
        "en": (
            "Aixiang co-building club · you can send:\n"
            "events — upcoming co-building events\n"
            "signup N — sign up for event N\n"
            "cancel N — cancel your sign-up\n"
            "my events — your sign-ups\n"
            "need — tell us what your community needs\n"
            "my needs — follow your needs\n"
            "unsubscribe / subscribe — stop or resume event broadcasts\n"
            "中文 — 切换到中文\n"
            "exit — leave the current conversation"
        ),
    },
    "welcome": {
        "zh": "欢迎关注爱乡共建俱乐部！一起让我们的社区更美好。",
        "en": "Welcome to the Aixiang co-building club! Let's make our community better.",
    },
    "language_set": {
        "zh": "已切换为中文。",
        "en": "Switched to English.",
    },
    "flow_left": {
        "zh": "已退出当前对话，未保存的内容已丢弃。发送“帮助”查看可用功能。",
        "en": "You left the conversation; nothing unsaved was kept. Send 'help' to see options.",
    },
    "nothing_to_leave": {
        "zh": "当前没有进行中的对话。发送“帮助”查看可用功能。",
        "en": "There is no conversation to leave. Send 'help' to see options.",
    },
    "unsupported_type": {
        "zh": "抱歉，我能读懂文字消息和菜单点击。发送“帮助”查看可用功能。",
        "en": "Sorry, I can read text and menu taps. Send 'help' to see options.",
    },
    "coming_soon": {
        "zh": "这个功能即将上线，敬请期待。发送“帮助”查看现在可用的功能。",
        "en": "This is coming soon. Send 'help' to see what you can do now.",
    },
    "broadcast_off": {
        "zh": "已退订活动推送。活动提醒和您需求的进展仍会通知您。发送“订阅”可重新打开。",
        "en": (
            "Event broadcasts are off. Reminders and updates on your needs still reach you. "
            "Send 'subscribe' to turn them back on."
        ),
    },
    "broadcast_on": {
        "zh": "已重新订阅活动推送。",
        "en": "Event broadcasts are on again.",
    },
}


def show_help(message: Message, ctx: Context) -> Reply:
    return Reply(ctx.t("help"))


def set_chinese(message: Message, ctx: Context) -> Reply:
    ctx.resident.language = "zh"
    return Reply(ctx.t("language_set"))


def set_english(message: Message, ctx: Context) -> Reply:
    ctx.resident.language = "en"
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
    router.set_fallback(show_help)
    router.set_unsupported(unsupported)
    router.set_coming_soon(coming_soon)
