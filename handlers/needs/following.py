"""Following needs by chat: my needs, and one need's detail and history."""

from __future__ import annotations

from handlers.context import Context
from handlers.message import Message, Reply
from handlers.needs.wording import category_name, place_text, status_name
from models.needs.queries import (
    count_resident_needs,
    demand_counts,
    need_history,
    need_photos,
    parse_ref,
    resident_needs,
)
from models.needs.tables import Need, NeedStatus, need_ref

MY_NEEDS_SHOWN = 10
EXCERPT = 30
# A need's reference sent on its own (normalized): N-000001, n1. Bare numbers are not
# taken, since residents send those as answers and event numbers.
NEED_REF_ALONE = r"n-?\s*\d{1,9}"


def _excerpt(ctx: Context, need: Need) -> str:
    if need.description is None:
        return ctx.t("need_erased_text")
    text = " ".join(need.description.split())
    return text if len(text) <= EXCERPT else f"{text[:EXCERPT]}…"


def _status_line(ctx: Context, need: Need) -> str:
    status = status_name(ctx, need.status)
    if need.status != NeedStatus.DUPLICATE or need.duplicate_of_id is None:
        return status
    original = ctx.db.get(Need, need.duplicate_of_id)
    if original is None:
        return status
    return ctx.t("need_merged_into", ref=original.ref, status=status_name(ctx, original.status))


def my_needs(message: Message, ctx: Context) -> Reply:
    needs = resident_needs(ctx.db, ctx.resident, limit=MY_NEEDS_SHOWN)
    if not needs:
        return Reply(ctx.t("my_needs_none"))
    lines = [ctx.t("my_needs_header", total=count_resident_needs(ctx.db, ctx.resident))]
    for need in needs:
        lines.append(
            ctx.t(
                "my_needs_line",
                ref=need.ref,
                category=category_name(ctx, need.category),
                status=_status_line(ctx, need),
                updated=ctx.local_time(need.updated_at),
                excerpt=_excerpt(ctx, need),
            )
        )
    lines.append(ctx.t("my_needs_footer", ref=needs[0].ref))
    return Reply("\n".join(lines))


def show_need(message: Message, ctx: Context, argument: str) -> Reply:
    need_id = parse_ref(argument)
    if need_id is None:
        return Reply(ctx.t("need_ref_hint"))
    need = ctx.db.get(Need, need_id)
    if need is None or need.resident_id != ctx.contact.resident_id:
        return Reply(ctx.t("need_not_found", ref=need_ref(need_id)))
    place = place_text(ctx, need.place, need.latitude, need.longitude)
    lines = [
        ctx.t(
            "need_detail",
            ref=need.ref,
            category=category_name(ctx, need.category),
            status=_status_line(ctx, need),
            created=ctx.local_time(need.created_at),
            text=need.description or ctx.t("need_erased_text"),
            place=place,
            photos=len(need_photos(ctx.db, need)),
        )
    ]
    demand = demand_counts(ctx.db, [need.id])[need.id]
    if demand > 1:
        lines.append(ctx.t("need_detail_demand", count=demand))
    lines.append(ctx.t("need_detail_history"))
    for entry in need_history(ctx.db, need):
        line = f"{ctx.local_time(entry.created_at)} {status_name(ctx, entry.to_status)}"
        if entry.public and entry.note:
            line += f" · {entry.note}"
        lines.append(line)
    return Reply("\n".join(lines))
