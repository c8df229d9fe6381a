"""What each step of the sign-up asks."""

from __future__ import annotations

from handlers.context import Context
from handlers.events.signup_draft import SignupDraft, signup_event


def ask_name(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_ask_name", title=signup_event(ctx, draft).title)


def ask_mobile(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_ask_mobile")


def ask_consent(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_ask_consent", name=draft.name, mobile=draft.mobile)


def ask_party(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_ask_party", max=signup_event(ctx, draft).max_party_size)


def offer_waitlist(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_offer_waitlist", title=signup_event(ctx, draft).title)


def offer_fewer(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t(
        "event_offer_fewer",
        title=signup_event(ctx, draft).title,
        count=draft.fewer,
        party=draft.party_size,
    )
