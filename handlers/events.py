"""Events by chat: browse, sign up (contact details, party size, waitlist), cancel, check in.

Every rule lives in the models/events/ package; this module only asks the questions and
words the answers. A sign-up in progress lives in the flow state until the last answer
(its steps run on handlers/flows.py, which drops a draft older than the flow TTL), and
the final step calls :func:`models.events.signups.sign_up`, which checks everything again
under the event's lock, so a question left unanswered for a while can never overbook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from handlers.answers import is_back, is_no, is_yes, pick_option
from handlers.context import Context
from handlers.flows import Draft, Flow, Step, ttl_minutes
from handlers.message import Message, Reply
from handlers.router import Handler, Router, command_word, normalize
from handlers.villages import VillageQuestion
from models.events.checkin import QR_SCENE_PREFIX, check_in
from models.events.errors import EventError, EventRefusal
from models.events.queries import (
    Occupancy,
    attendance_of,
    get_event,
    live_signup,
    occupancies,
    occupancy,
    resident_signups,
    upcoming_events,
)
from models.events.signups import (
    MAX_NAME,
    cancel_signup,
    check_not_signed_up,
    check_open,
    check_party_size,
    has_contact,
    normalize_mobile,
    save_contact,
    sign_up,
)
from models.events.tables import (
    CHECKIN_OPENS_BEFORE,
    CheckinMethod,
    Event,
    EventStatus,
    Signup,
    SignupStatus,
)

LIST = "event.list"

PAGE_SIZE = 5
MORE_WORDS = frozenset({"下一页", "more", "next"})
# On a list, 返回/back turns back a page too (handlers/answers.py's back words).
PREVIOUS_WORDS = frozenset({"上一页", "previous"})
# "My events" shows sign-ups for events that started at most this long ago.
MY_EVENTS_SINCE = timedelta(days=1)
MY_EVENTS_SHOWN = 10

# The tags residents read by a name in their language (text "event_tag_<tag>"); any other
# tag shows as staff wrote it.
EVENT_TAG_TEXT_KEYS = frozenset(
    {"event_tag_women", "event_tag_children", "event_tag_elderly", "event_tag_volunteers"}
)

# Formatting ---------------------------------------------------------------------------------


def _when(ctx: Context, event: Event) -> str:
    start = ctx.local_time(event.starts_at)
    if event.ends_at is None:
        return start
    end = ctx.local_time(event.ends_at)
    return f"{start}–{end[11:]}" if end[:10] == start[:10] else f"{start} – {end}"


def _place(ctx: Context, event: Event) -> str:
    return event.place or ctx.t("event_place_tba")


def _availability(ctx: Context, event: Event, taken: Occupancy) -> str:
    if ctx.now >= event.closes_at:
        return ctx.t("event_signup_closed")
    if taken.places_open > 0:
        return ctx.t("event_places_left", count=taken.places_open)
    return ctx.t("event_waitlist_only")


def _status(ctx: Context, signup: Signup) -> str:
    if signup.status == SignupStatus.CONFIRMED:
        return ctx.t("event_status_confirmed", count=signup.party_size, code=signup.checkin_code)
    if signup.status == SignupStatus.WAITLISTED:
        return ctx.t("event_status_waitlisted", position=signup.waitlist_position)
    return ctx.t("event_status_cancelled")


def _tag_name(ctx: Context, tag: str) -> str:
    key = f"event_tag_{tag}"
    return ctx.t(key) if key in EVENT_TAG_TEXT_KEYS else tag


def _refusal(ctx: Context, error: EventError, event_id: int) -> Reply:
    """One clear sentence for each rule the request broke."""
    event = error.event
    title = event.title if event is not None else ""
    if error.reason in (EventRefusal.UNKNOWN_EVENT, EventRefusal.NOT_PUBLISHED) or event is None:
        return Reply(ctx.t("event_unknown", id=event_id))
    if error.reason == EventRefusal.EVENT_CANCELLED:
        return Reply(ctx.t("event_is_cancelled", title=title))
    if error.reason == EventRefusal.EVENT_FINISHED:
        return Reply(ctx.t("event_is_finished", title=title))
    if error.reason == EventRefusal.DEADLINE_PASSED:
        return Reply(
            ctx.t("event_deadline_passed", title=title, deadline=ctx.local_time(event.closes_at))
        )
    if error.reason == EventRefusal.ALREADY_SIGNED_UP and error.signup is not None:
        return Reply(
            ctx.t(
                "event_already_signed_up",
                title=title,
                status=_status(ctx, error.signup),
                id=event.id,
            )
        )
    if error.reason == EventRefusal.ATTENDING:
        return Reply(ctx.t("event_already_attending", title=title))
    if error.reason == EventRefusal.PARTY_TOO_LARGE:
        return Reply(ctx.t("event_party_too_large", title=title, max=event.max_party_size))
    if error.reason == EventRefusal.BAD_PARTY:
        return Reply(ctx.t("event_party_invalid"))
    if error.reason == EventRefusal.CONTACT_REQUIRED:
        return Reply(ctx.t("event_contact_missing", id=event.id))
    if error.reason == EventRefusal.NOT_SIGNED_UP:
        return Reply(ctx.t("event_not_signed_up", id=event.id))
    if error.reason == EventRefusal.STARTED:
        return Reply(ctx.t("event_started", title=title))
    if error.reason == EventRefusal.CHECKED_IN:
        return Reply(ctx.t("event_cancel_checked_in", title=title))
    if error.reason == EventRefusal.CHECKIN_NOT_OPEN:
        opens = ctx.local_time(event.starts_at - CHECKIN_OPENS_BEFORE)
        return Reply(ctx.t("event_checkin_not_open", title=title, opens=opens))
    if error.reason == EventRefusal.CHECKIN_CLOSED:
        return Reply(ctx.t("event_checkin_closed", title=title))
    if error.reason == EventRefusal.NO_ROOM:
        return Reply(ctx.t("event_no_room", title=title))
    raise error


def _parse_numbers(arg: str) -> list[int] | None:
    """``3``, ``#3``, ``3号`` or ``3 2``: the numbers in an argument, or None."""
    numbers: list[int] = []
    for part in normalize(arg).split():
        cleaned = part.lstrip("#第").rstrip("号")
        if not cleaned.isdecimal() or len(cleaned) > 9:
            return None
        numbers.append(int(cleaned))
    return numbers or None


# Browsing -------------------------------------------------------------------------------------


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
                when=_when(ctx, event),
                place=_place(ctx, event),
                availability=_availability(ctx, event, taken[event.id]),
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


def _list_flow(router: Router) -> Handler:
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
    numbers = _parse_numbers(arg)
    if numbers is None or len(numbers) != 1:
        return Reply(ctx.t("event_which", example=ctx.t("event_which_example_show")))
    event_id = numbers[0]
    try:
        event = get_event(ctx.db, event_id)
    except EventError as error:
        return _refusal(ctx, error, event_id)
    if event.status not in (EventStatus.PUBLISHED, EventStatus.CANCELLED, EventStatus.FINISHED):
        return Reply(ctx.t("event_unknown", id=event_id))
    lines = [f"{event.id}. {event.title}"]
    if event.status == EventStatus.CANCELLED:
        lines.append(ctx.t("event_detail_cancelled", reason=event.cancel_reason or ""))
    lines.append(ctx.t("event_detail_when", when=_when(ctx, event)))
    lines.append(ctx.t("event_detail_place", place=_place(ctx, event)))
    if event.description:
        lines.append(event.description)
    if event.tags:
        tags = "、".join(_tag_name(ctx, tag) for tag in event.tags)
        lines.append(ctx.t("event_detail_tags", tags=tags))
    if event.partners:
        partners = "、".join(partner.name for partner in event.partners)
        lines.append(ctx.t("event_detail_partners", partners=partners))
    if event.status == EventStatus.PUBLISHED:
        taken = occupancy(ctx.db, event)
        availability = _availability(ctx, event, taken)
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
        return [ctx.t("event_detail_yours", status=_status(ctx, mine))]
    if event.status == EventStatus.PUBLISHED and ctx.now < event.closes_at:
        return [ctx.t("event_detail_signup", id=event.id)]
    return []


# Signing up -----------------------------------------------------------------------------------


def start_signup(message: Message, ctx: Context, arg: str) -> Reply:
    """Refuse at once what can be refused; a sign-up with no question to ask goes straight
    to :func:`sign_up`, which checks everything under the event's lock."""
    numbers = _parse_numbers(arg)
    if numbers is None or len(numbers) > 2:
        return Reply(ctx.t("event_which", example=ctx.t("event_which_example_signup")))
    event_id = numbers[0]
    try:
        event = get_event(ctx.db, event_id)
        check_open(event, ctx.now)
        draft = SignupDraft(event_id=event.id)
        if len(numbers) == 2:
            check_party_size(event, numbers[1])
            draft.party_size = numbers[1]
        elif event.max_party_size == 1:
            draft.party_size = 1
        if not draft.party_size or _needs_contact(ctx, event):
            check_not_signed_up(ctx.db, event, ctx.resident)
    except EventError as error:
        return _refusal(ctx, error, event_id)
    return VILLAGE.first(ctx, draft)


@dataclass
class SignupDraft(Draft):
    """A sign-up in progress; the keys are those sign-up drafts were stored with.

    ``name`` and ``mobile`` are kept only until the resident agrees to their being saved;
    ``party_size`` is 0 until given (a party is at least one person); ``fewer`` is the
    number of places offered to a party larger than the places open.
    """

    event_id: int
    party_size: int = 0
    name: str = ""
    mobile: str = ""
    waitlist: bool = False
    fewer: int = 0


def _needs_contact(ctx: Context, event: Event) -> bool:
    return event.contact_required and not has_contact(ctx.resident)


def _next_step(ctx: Context, event: Event, draft: SignupDraft) -> Reply:
    """Ask the first question still open, or sign up when none is."""
    if _needs_contact(ctx, event):
        if not draft.name:
            return NAME.ask(ctx, draft)
        if not draft.mobile:
            return MOBILE.ask(ctx, draft)
        return CONSENT.ask(ctx, draft)
    if not draft.party_size:
        return PARTY.ask(ctx, draft)
    return _sign_up(ctx, event, draft)


def _go_on(ctx: Context, draft: SignupDraft) -> Reply:
    """After the village question: the sign-up's next step."""
    return _next_step(ctx, _event(ctx, draft), draft)


def _sign_up(ctx: Context, event: Event, draft: SignupDraft) -> Reply:
    try:
        result = sign_up(
            ctx.db, event.id, ctx.resident, draft.party_size, ctx.now, join_waitlist=draft.waitlist
        )
    except EventError as error:
        if error.reason == EventRefusal.FULL:
            return _offer(ctx, event, draft)
        ctx.end_flow()
        return _refusal(ctx, error, event.id)
    ctx.end_flow()
    signup = result.signup
    if result.waitlisted:
        return Reply(
            ctx.t(
                "event_waitlisted",
                title=event.title,
                position=signup.waitlist_position,
                id=event.id,
            )
        )
    return Reply(
        ctx.t(
            "event_confirmed",
            title=event.title,
            when=_when(ctx, event),
            place=_place(ctx, event),
            party=signup.party_size,
            code=signup.checkin_code,
            id=event.id,
        )
    )


def _offer(ctx: Context, event: Event, draft: SignupDraft) -> Reply:
    """A party that does not fit: the places open, if some are (come with fewer), or the
    waitlist for the whole party."""
    places = occupancy(ctx.db, event).places_open
    if 0 < places < draft.party_size:
        draft.fewer = places
        return FEWER.ask(ctx, draft)
    draft.fewer = 0
    return WAITLIST.ask(ctx, draft)


def _event_gone(ctx: Context, draft: SignupDraft) -> str | None:
    """Why the sign-up cannot go on if its event vanished meanwhile."""
    try:
        get_event(ctx.db, draft.event_id)
    except EventError as error:
        return _refusal(ctx, error, draft.event_id).text
    return None


def _event(ctx: Context, draft: SignupDraft) -> Event:
    """The sign-up's event: the session's copy, which :func:`_event_gone` (run before
    every step) or :func:`start_signup` has just loaded."""
    return ctx.db.get_one(Event, draft.event_id)


def _expired(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_signup_expired", minutes=ttl_minutes(ctx), id=draft.event_id)


# The sign-up's questions ----------------------------------------------------------------------


def _ask_name(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_ask_name", title=_event(ctx, draft).title)


def _ask_mobile(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_ask_mobile")


def _ask_consent(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_ask_consent", name=draft.name, mobile=draft.mobile)


def _ask_party(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_ask_party", max=_event(ctx, draft).max_party_size)


def _offer_waitlist(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_offer_waitlist", title=_event(ctx, draft).title)


def _offer_fewer(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t(
        "event_offer_fewer",
        title=_event(ctx, draft).title,
        count=draft.fewer,
        party=draft.party_size,
    )


# The sign-up's answers ------------------------------------------------------------------------


def on_name(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    name = " ".join(message.words.split())
    if not name or len(name) > MAX_NAME:
        return Reply(ctx.t("event_ask_name_again", max=MAX_NAME))
    draft.name = name
    return _next_step(ctx, _event(ctx, draft), draft)


def on_mobile(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    typed = message.words.strip()
    mobile = normalize_mobile(normalize(typed))
    if mobile is None:
        return Reply(ctx.t("event_bad_mobile", value=typed[:20]))
    draft.mobile = mobile
    return _next_step(ctx, _event(ctx, draft), draft)


def on_consent(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    if is_yes(message.words):
        save_contact(ctx.resident, draft.name, draft.mobile, ctx.now)
        draft.name = draft.mobile = ""
        return _next_step(ctx, _event(ctx, draft), draft)
    if is_no(message.words):
        ctx.end_flow()
        return Reply(ctx.t("event_consent_declined"))
    return Reply(ctx.t("event_ask_consent_again"))


def on_party(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    event = _event(ctx, draft)
    numbers = _parse_numbers(message.words)
    if numbers is None or len(numbers) != 1:
        return Reply(ctx.t("event_ask_party_again", max=event.max_party_size))
    try:
        check_party_size(event, numbers[0])
    except EventError as error:
        refusal = _refusal(ctx, error, event.id).text
        return Reply(f"{refusal}\n{ctx.t('event_ask_party_again', max=event.max_party_size)}")
    draft.party_size = numbers[0]
    return _next_step(ctx, event, draft)


def on_waitlist(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    if is_yes(message.words):
        draft.waitlist = True
        return _sign_up(ctx, _event(ctx, draft), draft)
    if is_no(message.words):
        ctx.end_flow()
        return Reply(ctx.t("event_waitlist_declined"))
    return Reply(ctx.t("event_offer_waitlist_again"))


# The answers to the offer of fewer places, by number or by name.
FEWER_OPTIONS = (("少来几位", "fewer"), ("候补", "waitlist"))


def on_fewer(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    if is_no(message.words):
        ctx.end_flow()
        return Reply(ctx.t("event_waitlist_declined"))
    choice = pick_option(message.words, FEWER_OPTIONS)
    if choice is None:
        return Reply(ctx.t("event_offer_fewer_again"))
    if choice == 0:
        draft.party_size = draft.fewer
    else:
        draft.waitlist = True
    draft.fewer = 0
    return _sign_up(ctx, _event(ctx, draft), draft)


NAME = Step("event.contact_name", on_name, _ask_name)
MOBILE = Step("event.contact_mobile", on_mobile, _ask_mobile)
CONSENT = Step("event.contact_consent", on_consent, _ask_consent)
PARTY = Step("event.party_size", on_party, _ask_party)
WAITLIST = Step("event.waitlist", on_waitlist, _offer_waitlist)
FEWER = Step("event.fewer", on_fewer, _offer_fewer)
# Asked once, before the first sign-up's first question (handlers/villages.py).
VILLAGE = VillageQuestion("event.village", _go_on)
SIGNUP_FLOW = Flow(
    SignupDraft,
    (VILLAGE.step, NAME, MOBILE, CONSENT, PARTY, WAITLIST, FEWER),
    expired=_expired,
    gone=_event_gone,
)


# Cancelling and my events -------------------------------------------------------------------


def ask_which(message: Message, ctx: Context) -> Reply:
    """报名 / 取消报名 without a number."""
    return Reply(ctx.t("event_which", example=ctx.t("event_which_example_signup")))


def cancel(message: Message, ctx: Context, arg: str) -> Reply:
    numbers = _parse_numbers(arg)
    if numbers is None or len(numbers) != 1:
        return Reply(ctx.t("event_which", example=ctx.t("event_which_example_cancel")))
    event_id = numbers[0]
    try:
        result = cancel_signup(ctx.db, event_id, ctx.resident, ctx.now, ctx.settings.timezone)
    except EventError as error:
        if error.reason == EventRefusal.NOT_SIGNED_UP:
            return Reply(ctx.t("event_not_signed_up", id=event_id))
        return _refusal(ctx, error, event_id)
    return Reply(ctx.t("event_cancel_done", title=result.event.title))


def my_events(message: Message, ctx: Context) -> Reply:
    rows = resident_signups(
        ctx.db, ctx.contact.resident_id, ctx.now - MY_EVENTS_SINCE, limit=MY_EVENTS_SHOWN
    )
    if not rows:
        return Reply(ctx.t("event_my_empty"))
    lines = [ctx.t("event_my_header")]
    for signup, event, attendance in rows:
        if event.status == EventStatus.CANCELLED:
            status = ctx.t("event_status_event_cancelled")
        elif attendance is not None or signup is None:
            # A walk-in has no sign-up: only its check-in brought the event here.
            status = ctx.t("event_status_attended")
        else:
            status = _status(ctx, signup)
        lines.append(
            ctx.t(
                "event_my_item",
                id=event.id,
                title=event.title,
                when=_when(ctx, event),
                status=status,
            )
        )
    return Reply("\n".join(lines))


# Check-in -------------------------------------------------------------------------------------


def on_checkin_scan(message: Message, ctx: Context, rest: str) -> Reply:
    numbers = _parse_numbers(rest)
    if numbers is None or len(numbers) != 1:
        return Reply(ctx.t("event_bad_qr"))
    event_id = numbers[0]
    try:
        result = check_in(ctx.db, event_id, ctx.resident, CheckinMethod.QR, ctx.now)
    except EventError as error:
        if error.reason in (EventRefusal.UNKNOWN_EVENT, EventRefusal.NOT_PUBLISHED):
            return Reply(ctx.t("event_bad_qr"))
        refusal = _refusal(ctx, error, event_id)
        if error.reason == EventRefusal.CHECKIN_NOT_OPEN and error.event is not None:
            return Reply("\n".join([refusal.text, *_not_signed_up(ctx, error.event)]))
        return refusal
    title = result.event.title
    if not result.first_time:
        time = ctx.local_time(result.attendance.checked_in_at)[11:]
        return Reply(ctx.t("event_checked_in_before", title=title, time=time))
    if result.walk_in:
        return Reply(ctx.t("event_walked_in", title=title))
    return Reply(ctx.t("event_checked_in", title=title, count=result.attendance.party_size))


def _not_signed_up(ctx: Context, event: Event) -> list[str]:
    """For someone who scanned before check-in opens: how to sign up, if they have not
    and still can (there is time to, and then the scan checks them in)."""
    resident_id = ctx.contact.resident_id
    if live_signup(ctx.db, event.id, resident_id) is not None or ctx.now >= event.closes_at:
        return []
    return [ctx.t("event_scan_signup", id=event.id)]


def unknown_qr(message: Message, ctx: Context) -> Reply:
    return Reply(ctx.t("event_unknown_qr"))


def register(router: Router) -> None:
    router.add_keyword(("活动", "events"), list_events)
    router.add_click(("EVENTS",), list_events)
    router.add_arg_keyword(("活动", "events", "event"), show_event)
    router.add_arg_keyword(("报名", "signup", "sign up"), start_signup)
    router.add_arg_keyword(("取消报名", "cancel"), cancel)
    router.add_keyword(("报名", "signup", "取消报名", "cancel"), ask_which)
    router.add_keyword(MORE_WORDS | PREVIOUS_WORDS, no_list)
    router.add_keyword(("我的活动", "my events"), my_events)
    router.add_click(("MY_EVENTS",), my_events)
    router.add_scene(QR_SCENE_PREFIX, on_checkin_scan)
    router.set_unknown_scene(unknown_qr)
    router.add_flow(LIST, _list_flow(router))
    SIGNUP_FLOW.register(router)
