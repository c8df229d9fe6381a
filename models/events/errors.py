"""Why an event request is refused: one reason the chat and the CLI each put in their
own words, and the exception that carries it.
"""

from __future__ import annotations

from enum import StrEnum

from models.events.tables import Event, Signup


class EventRefusal(StrEnum):
    """Why a request is refused; the chat and the CLI turn it into their own words."""

    UNKNOWN_EVENT = "unknown_event"
    NOT_PUBLISHED = "not_published"
    EVENT_CANCELLED = "event_cancelled"
    EVENT_FINISHED = "event_finished"
    DEADLINE_PASSED = "deadline_passed"
    ALREADY_SIGNED_UP = "already_signed_up"
    BAD_PARTY = "bad_party"
    PARTY_TOO_LARGE = "party_too_large"
    CONTACT_REQUIRED = "contact_required"
    FULL = "full"
    NOT_SIGNED_UP = "not_signed_up"
    STARTED = "started"
    CHECKED_IN = "checked_in"
    ATTENDING = "attending"
    CHECKIN_NOT_OPEN = "checkin_not_open"
    CHECKIN_CLOSED = "checkin_closed"
    NO_ROOM = "no_room"
    UNKNOWN_CODE = "unknown_code"
    CANCELLED_CODE = "cancelled_code"
    UNKNOWN_PARTNER = "unknown_partner"
    INVALID = "invalid"


class InvalidRule(StrEnum):
    """Which rule of an event's fields an ``INVALID`` refusal broke, so a form can say it
    next to the field in the reader's language."""

    TITLE_EMPTY = "title_empty"
    TITLE_LONG = "title_long"
    PLACE_LONG = "place_long"
    START_PAST = "start_past"
    START_FAR = "start_far"
    END_FAR = "end_far"
    END_BEFORE_START = "end_before_start"
    CAPACITY_LOW = "capacity_low"
    CAPACITY_HIGH = "capacity_high"
    CAPACITY_TAKEN = "capacity_taken"
    PARTY_LOW = "party_low"
    PARTY_OVER_CAPACITY = "party_over_capacity"
    DEADLINE_AFTER_START = "deadline_after_start"
    DEADLINE_PAST = "deadline_past"
    REASON_EMPTY = "reason_empty"
    WALK_IN_NAME = "walk_in_name"
    WALK_IN_PHONE = "walk_in_phone"
    WALK_IN_PARTY = "walk_in_party"


class EventError(Exception):
    """A request an event's rules refuse. ``reason`` says why; the message is one English
    line for staff; ``event``/``signup`` say what it was about; ``rule`` which field rule
    an ``INVALID`` request broke, when it was one."""

    def __init__(
        self,
        reason: EventRefusal,
        message: str,
        *,
        event: Event | None = None,
        signup: Signup | None = None,
        rule: InvalidRule | None = None,
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.reason = reason
        self.event = event
        self.signup = signup
