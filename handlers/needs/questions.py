"""What each step of the need flow asks."""

from __future__ import annotations

from handlers.context import Context
from handlers.needs.draft import NeedDraft
from handlers.needs.wording import category_name, category_options, place_text


def offer_question(ctx: Context, draft: NeedDraft) -> str:
    place = place_text(ctx, draft.place, draft.lat, draft.lng)
    return ctx.t("need_offer", photos=len(draft.photos), place=place)


def consent_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t("need_consent")


def category_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t("need_pick_category", options=category_options(ctx))


def describe_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t(
        "need_describe",
        category=category_name(ctx, draft.category),
        max_text=ctx.settings.need_max_text,
    )


def photos_question(ctx: Context, draft: NeedDraft) -> str:
    max_photos = ctx.settings.need_max_photos
    if draft.photos:
        return ctx.t("need_ask_more_photos", count=len(draft.photos), max_photos=max_photos)
    return ctx.t("need_ask_photos", max_photos=max_photos)


def place_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t("need_ask_place")


def text_is_called(ctx: Context) -> str:
    return ctx.t("need_answer_text")


def place_is_called(ctx: Context) -> str:
    return ctx.t("need_answer_place")


def confirm_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t(
        "need_confirm",
        category=category_name(ctx, draft.category),
        text=draft.text,
        photos=len(draft.photos),
        place=place_text(ctx, draft.place, draft.lat, draft.lng),
    )
