"""A sign-up in progress, kept in the flow state until the last answer."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import Context
from handlers.events.refusals import refusal_reply
from handlers.flows import Draft, ttl_minutes
from models.events.errors import EventError
from models.events.queries import get_event
from models.events.tables import Event


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

    def kept_key(self) -> str:
        """One sign-up kept aside per event: 报名 N picks up N's."""
        return f"{super().kept_key()}:{self.event_id}"


def event_gone(ctx: Context, draft: SignupDraft) -> str | None:
    """Why the sign-up cannot go on if its event vanished meanwhile."""
    try:
        get_event(ctx.db, draft.event_id)
    except EventError as error:
        return refusal_reply(ctx, error, draft.event_id).text
    return None


def signup_event(ctx: Context, draft: SignupDraft) -> Event:
    """The sign-up's event: the session's copy, which :func:`event_gone` (run before
    every step) or :func:`start_signup` has just loaded."""
    return ctx.db.get_one(Event, draft.event_id)


def signup_expired(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_signup_expired", minutes=ttl_minutes(ctx), id=draft.event_id)


def signup_kept(ctx: Context, draft: SignupDraft) -> str:
    return ctx.t("event_signup_kept", minutes=ttl_minutes(ctx), id=draft.event_id)


def name_is_called(ctx: Context) -> str:
    return ctx.t("event_answer_name")
