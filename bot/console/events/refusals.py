"""What the console says when an event's rules refuse a request, in the reader's language:
a broken field rule next to its field, anything else above the form or the roster."""

from __future__ import annotations

from flask_babel import gettext

from models.base import ID_MAX
from models.events.errors import EventError, EventRefusal, InvalidRule
from models.events.tables import MAX_PLACE, MAX_TITLE, WALK_IN_NAME_MAX

# The form field each rule is about.
RULE_FIELDS = {
    InvalidRule.TITLE_EMPTY: "title",
    InvalidRule.TITLE_LONG: "title",
    InvalidRule.PLACE_LONG: "place",
    InvalidRule.START_PAST: "starts",
    InvalidRule.START_FAR: "starts",
    InvalidRule.END_FAR: "ends",
    InvalidRule.END_BEFORE_START: "ends",
    InvalidRule.CAPACITY_LOW: "capacity",
    InvalidRule.CAPACITY_HIGH: "capacity",
    InvalidRule.CAPACITY_TAKEN: "capacity",
    InvalidRule.PARTY_LOW: "max_party",
    InvalidRule.PARTY_OVER_CAPACITY: "max_party",
    InvalidRule.DEADLINE_AFTER_START: "deadline",
    InvalidRule.DEADLINE_PAST: "deadline",
    InvalidRule.REASON_EMPTY: "reason",
    InvalidRule.WALK_IN_NAME: "walk_in_name",
    InvalidRule.WALK_IN_PHONE: "walk_in_phone",
    InvalidRule.WALK_IN_PARTY: "walk_in_party",
}
RULE_TEXT_KEYS = {
    InvalidRule.TITLE_EMPTY: "console_event_error_required",
    InvalidRule.TITLE_LONG: "console_event_error_too_long",
    InvalidRule.PLACE_LONG: "console_event_error_too_long",
    InvalidRule.START_PAST: "console_event_error_start_past",
    InvalidRule.START_FAR: "console_event_error_too_far",
    InvalidRule.END_FAR: "console_event_error_too_far",
    InvalidRule.END_BEFORE_START: "console_event_error_end_before_start",
    InvalidRule.CAPACITY_LOW: "console_event_error_capacity_low",
    InvalidRule.CAPACITY_HIGH: "console_event_error_capacity_high",
    InvalidRule.CAPACITY_TAKEN: "console_event_error_capacity_taken",
    InvalidRule.PARTY_LOW: "console_event_error_party_low",
    InvalidRule.PARTY_OVER_CAPACITY: "console_event_error_party_over_capacity",
    InvalidRule.DEADLINE_AFTER_START: "console_event_error_deadline_after_start",
    InvalidRule.DEADLINE_PAST: "console_event_error_deadline_past",
    InvalidRule.REASON_EMPTY: "console_event_error_required",
    InvalidRule.WALK_IN_NAME: "console_walk_in_error_name",
    InvalidRule.WALK_IN_PHONE: "console_walk_in_error_phone",
    InvalidRule.WALK_IN_PARTY: "console_walk_in_error_party",
}
REFUSAL_TEXT_KEYS = {
    EventRefusal.UNKNOWN_PARTNER: "console_event_refused_partner",
    EventRefusal.EVENT_CANCELLED: "console_event_refused_cancelled",
    EventRefusal.EVENT_FINISHED: "console_event_refused_finished",
    EventRefusal.NOT_PUBLISHED: "console_event_refused_not_published",
    EventRefusal.CHECKIN_NOT_OPEN: "console_event_refused_checkin_not_open",
    EventRefusal.CHECKIN_CLOSED: "console_event_refused_checkin_closed",
    EventRefusal.NO_ROOM: "console_event_refused_no_room",
    EventRefusal.UNKNOWN_CODE: "console_event_refused_unknown_code",
    EventRefusal.CANCELLED_CODE: "console_event_refused_cancelled_code",
}
# The limits a field's text names, by field.
LIMITS = {
    "title": MAX_TITLE,
    "place": MAX_PLACE,
    "capacity": ID_MAX,
    "walk_in_name": WALK_IN_NAME_MAX,
}


def field_text(field: str, key: str, limit: int | None = None) -> str:
    """A field's mistake in the reader's language; ``limit`` when it is the event's own
    (the largest party) rather than the field's."""
    return gettext(key).format(limit=LIMITS.get(field, "") if limit is None else limit)


def refusal_field(error: EventError) -> str | None:
    """The form field a refusal is about, if it is about one."""
    if error.rule is not None:
        return RULE_FIELDS[error.rule]
    if error.reason == EventRefusal.UNKNOWN_PARTNER:
        return "partners"
    return None


def refusal_text(error: EventError) -> str:
    """The refusal as the reader reads it."""
    if error.rule is not None:
        own = error.event.max_party_size if error.event is not None else None
        limit = own if error.rule == InvalidRule.WALK_IN_PARTY else None
        return field_text(RULE_FIELDS[error.rule], RULE_TEXT_KEYS[error.rule], limit)
    key = REFUSAL_TEXT_KEYS.get(error.reason, "console_event_refused")
    return gettext(key)
