"""Signing up by chat: the questions still open (contact details, party size, fewer
places or the waitlist), then :func:`models.events.signups.sign_up`, which checks
everything again under the event's lock, so a question left unanswered for a while can
never overbook."""

from __future__ import annotations

from handlers.answers import is_no, is_yes, pick_option
from handlers.context import Context
from handlers.events.refusals import refusal_reply
from handlers.events.signup_draft import (
    SignupDraft,
    event_gone,
    name_is_called,
    signup_event,
    signup_expired,
    signup_kept,
)
from handlers.events.signup_questions import (
    ask_consent,
    ask_mobile,
    ask_name,
    ask_party,
    offer_fewer,
    offer_waitlist,
)
from handlers.events.wording import event_place, event_when, parse_numbers
from handlers.flows import Flow, Step
from handlers.message import Message, Reply
from handlers.router import normalize
from handlers.villages import VillageQuestion
from models.events.errors import EventError, EventRefusal
from models.events.queries import get_event, occupancy
from models.events.signups import (
    MAX_NAME,
    check_not_signed_up,
    check_open,
    check_party_size,
    has_contact,
    normalize_mobile,
    save_contact,
    sign_up,
)
from models.events.tables import Event


def start_signup(message: Message, ctx: Context, arg: str) -> Reply:
    """报名 N: the sign-up for N kept aside, where it was left, or a new one."""
    numbers = parse_numbers(arg)
    if numbers is None or len(numbers) > 2:
        return Reply(ctx.t("event_which", example=ctx.t("event_which_example_signup")))
    key = SignupDraft(event_id=numbers[0]).kept_key()
    return SIGNUP_FLOW.resume_or(ctx, key, lambda: _new_signup(ctx, numbers))


def _new_signup(ctx: Context, numbers: list[int]) -> Reply:
    """Refuse at once what can be refused; a sign-up with no question to ask goes straight
    to :func:`sign_up`, which checks everything under the event's lock."""
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
        return refusal_reply(ctx, error, event_id)
    return VILLAGE.first(ctx, draft)


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
    return _next_step(ctx, signup_event(ctx, draft), draft)


def _sign_up(ctx: Context, event: Event, draft: SignupDraft) -> Reply:
    try:
        result = sign_up(
            ctx.db, event.id, ctx.resident, draft.party_size, ctx.now, join_waitlist=draft.waitlist
        )
    except EventError as error:
        if error.reason == EventRefusal.FULL:
            return _offer(ctx, event, draft)
        ctx.end_flow()
        return refusal_reply(ctx, error, event.id)
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
            when=event_when(ctx, event),
            place=event_place(ctx, event),
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


def on_name(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    name = " ".join(message.words.split())
    if not name or len(name) > MAX_NAME:
        return Reply(ctx.t("event_ask_name_again", max=MAX_NAME))
    draft.name = name
    return _next_step(ctx, signup_event(ctx, draft), draft)


def on_mobile(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    typed = message.words.strip()
    mobile = normalize_mobile(normalize(typed))
    if mobile is None:
        return Reply(ctx.t("event_bad_mobile", value=typed[:20]))
    draft.mobile = mobile
    return _next_step(ctx, signup_event(ctx, draft), draft)


def on_consent(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    if is_yes(message.words):
        save_contact(ctx.resident, draft.name, draft.mobile, ctx.now)
        draft.name = draft.mobile = ""
        return _next_step(ctx, signup_event(ctx, draft), draft)
    if is_no(message.words):
        ctx.end_flow()
        return Reply(ctx.t("event_consent_declined"))
    return Reply(ctx.t("event_ask_consent_again"))


def on_party(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    event = signup_event(ctx, draft)
    numbers = parse_numbers(message.words)
    if numbers is None or len(numbers) != 1:
        return Reply(ctx.t("event_ask_party_again", max=event.max_party_size))
    try:
        check_party_size(event, numbers[0])
    except EventError as error:
        refusal = refusal_reply(ctx, error, event.id).text
        return Reply(f"{refusal}\n{ctx.t('event_ask_party_again', max=event.max_party_size)}")
    draft.party_size = numbers[0]
    return _next_step(ctx, event, draft)


def on_waitlist(message: Message, ctx: Context, draft: SignupDraft) -> Reply:
    if is_yes(message.words):
        draft.waitlist = True
        return _sign_up(ctx, signup_event(ctx, draft), draft)
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
    return _sign_up(ctx, signup_event(ctx, draft), draft)


NAME = Step("event.contact_name", on_name, ask_name, free_text=name_is_called)
MOBILE = Step("event.contact_mobile", on_mobile, ask_mobile)
CONSENT = Step("event.contact_consent", on_consent, ask_consent)
PARTY = Step("event.party_size", on_party, ask_party)
WAITLIST = Step("event.waitlist", on_waitlist, offer_waitlist)
FEWER = Step("event.fewer", on_fewer, offer_fewer)
# Asked once, before the first sign-up's first question (handlers/villages.py).
VILLAGE = VillageQuestion("event.village", _go_on)
SIGNUP_FLOW = Flow(
    SignupDraft,
    (VILLAGE.step, NAME, MOBILE, CONSENT, PARTY, WAITLIST, FEWER),
    expired=signup_expired,
    gone=event_gone,
    kept=signup_kept,
)
