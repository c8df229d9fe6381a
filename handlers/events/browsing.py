"""The event list, a page at a time, and one event's detail."""

from __future__ import annotations

from handlers.answers import is_back
from handlers.context import Context
from handlers.events.refusals import refusal_reply
from handlers.events.wording import (
    availability_text,
    event_place,
    event_when,
    parse_numbers,
    signup_status,
)
from handlers.message import Message, Reply
from handlers.router import Handler, Router, command_word, normalize
from models.events.errors import EventError
from models.events.queries import (
    attendance_of,
    get_event,
    live_signup,
    occupancies,
    occupancy,
    upcoming_events,
)
from models.events.tables import Event, EventStatus

LIST = "event.list"

PAGE_SIZE = 5
MORE_WORDS = frozenset({"下一页", "more", "next"})
# On a list, 返回/back turns back a page too (handlers/answers.py's back words).
PREVIOUS_WORDS = frozenset({"上一页", "previous"})


def _show_page(ctx: Context, page: int) -> Reply:
    """One page of the list; the list stays open (the flow state remembers the page) so
    that 下一页 and 上一页 work from any page, the last one included."""
    events = upcoming_events(ctx.db, ctx.now, offset=page * PAGE_SIZE, limit=PAGE_SIZE + 1)
    more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    if not events:
        ctx.end_flow()
        return Reply(ctx.t("event_list_empty"))
    taken = occupancies(ctx.db, events)
    lines = [ctx.t("event_list_header", page=page + 1)]
    for event in events:
        lines.append(
            ctx.t(
                "event_list_item",
                id=event.id,
                title=event.title,
                when=event_when(ctx, event),
                place=event_place(ctx, event),
                availability=availability_text(ctx, event, taken[event.id]),
            )
        )
    ctx.start_flow(LIST, {"page": page, "last": not more})
    lines.append(ctx.t("event_list_more") if more else ctx.t("event_list_last"))
    return Reply("\n".join(lines))


def list_events(message: Message, ctx: Context) -> Reply:
    return _show_page(ctx, 0)


def no_list(message: Message, ctx: Context) -> Reply:
    """下一页/上一页 with no list open (it was left, or never shown)."""
    return Reply(ctx.t("event_no_list"))


def list_flow(router: Router) -> Handler:
    """While a list is shown, 下一页/more and 上一页/back turn the page (past either end,
    the resident is told so); anything else leaves the list and is handled as if no list
    had been shown."""

    def on_list_reply(message: Message, ctx: Context) -> Reply | None:
        said = command_word(normalize(message.words))
        if ctx.flow is not None and said in MORE_WORDS:
            if ctx.flow.data.get("last"):
                return Reply(ctx.t("event_list_at_end"))
            return _show_page(ctx, int(ctx.flow.data.get("page", 0)) + 1)
        if ctx.flow is not None and (said in PREVIOUS_WORDS or is_back(said)):
            page = int(ctx.flow.data.get("page", 0))
            if page == 0:
                return Reply(ctx.t("event_list_at_start"))
            return _show_page(ctx, page - 1)
        ctx.end_flow()
        return router.dispatch(message, ctx)

    return on_list_reply


def show_event(message: Message, ctx: Context, arg: str) -> Reply:
    numbers = parse_numbers(arg)
    if numbers is None or len(numbers) != 1:
        return Reply(ctx.t("event_which", example=ctx.t("event_which_example_show")))
    event_id = numbers[0]
    try:
        event = get_event(ctx.db, event_id)
    except EventError as error:
        return refusal_reply(ctx, error, event_id)
    if event.status not in (EventStatus.PUBLISHED, EventStatus.CANCELLED, EventStatus.FINISHED):
        return Reply(ctx.t("event_unknown", id=event_id))
    lines = [f"{event.id}. {event.title}"]
    if event.status == EventStatus.CANCELLED:
        lines.append(ctx.t("event_detail_cancelled", reason=event.cancel_reason or ""))
    lines.append(ctx.t("event_detail_when", when=event_when(ctx, event)))
    lines.append(ctx.t("event_detail_place", place=event_place(ctx, event)))
    if event.description:
        lines.append(event.description)
    if event.tags:
        tags = "、".join(event.tag_names(ctx.language))
        lines.append(ctx.t("event_detail_tags", tags=tags))
    if event.partners:
        partners = "、".join(partner.name for partner in event.partners)
        lines.append(ctx.t("event_detail_partners", partners=partners))
    if event.status == EventStatus.PUBLISHED:
        taken = occupancy(ctx.db, event)
        availability = availability_text(ctx, event, taken)
        lines.append(
            ctx.t("event_detail_capacity", capacity=event.capacity, availability=availability)
        )
        lines.append(ctx.t("event_detail_deadline", deadline=ctx.local_time(event.closes_at)))
        if event.max_party_size > 1:
            lines.append(ctx.t("event_detail_party", n=event.max_party_size))
        if event.contact_required:
            lines.append(ctx.t("event_detail_contact"))
    lines.extend(_yours(ctx, event))
    return Reply("\n".join(lines))


def _yours(ctx: Context, event: Event) -> list[str]:
    """Where the resident stands: checked in (as my events says), signed up, or invited
    to sign up while they can."""
    resident_id = ctx.contact.resident_id
    if attendance_of(ctx.db, event.id, resident_id) is not None:
        return [ctx.t("event_detail_yours", status=ctx.t("event_status_attended"))]
    mine = live_signup(ctx.db, event.id, resident_id)
    if mine is not None:
        return [ctx.t("event_detail_yours", status=signup_status(ctx, mine))]
    if event.status == EventStatus.PUBLISHED and ctx.now < event.closes_at:
        return [ctx.t("event_detail_signup", id=event.id)]
    return []
