"""How needs read in chat: category names and the list to pick from, status names,
and a need's place as the resident knows it."""

from __future__ import annotations

from handlers.context import Context, NeedCategory
from models.needs.notices import STATUS_NAME_TEXT_KEYS


def need_categories(ctx: Context) -> tuple[NeedCategory, ...]:
    return ctx.settings.need_categories


def category_name(ctx: Context, key: str) -> str:
    for category in need_categories(ctx):
        if category.key == key:
            return category.name(ctx.language)
    return key


def category_options(ctx: Context) -> str:
    return "\n".join(
        f"{number}. {category.name(ctx.language)}"
        for number, category in enumerate(need_categories(ctx), start=1)
    )


def status_name(ctx: Context, status: str) -> str:
    return ctx.t(STATUS_NAME_TEXT_KEYS[status])


def place_text(ctx: Context, place: str | None, lat: float | None, lng: float | None) -> str:
    """The place as the resident knows it: the address WeChat labelled the location with
    (or what they typed); coordinates only for a location that came without a label."""
    if place:
        return place
    if lat is not None and lng is not None:
        return f"{lat:.5f}, {lng:.5f}"
    return ctx.t("need_no_place")
