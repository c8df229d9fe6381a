"""Every push kind, declared once: its name (:class:`PushKind`), what its templates may
show, whether the broadcast opt-out (退订) applies and how long it stays worth sending.

Adding a kind means its member and its entry here, beside each other, and its payload
builder in its domain module, which names the kind through :class:`PushKind`. So that the
domain modules can import this module, it imports none of them: the few kinds whose rows
are checked once more for staleness just before sending name that check in
models/push/stale_checks.py's one list, which only the send-time policy imports.
bot/config/push.py checks configured templates against :data:`TEMPLATE_VALUES`, and
tests/test_push_kinds.py holds each kind's payload builder to exactly its ``fields`` and
every member to an entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class PushKind(StrEnum):
    """What a push is about; its entry in :data:`KINDS` says what it carries. The outbox's
    CHECK constraint on ``kind`` is built from these values (models/push/outbox.py)."""

    REMINDER = "reminder"
    PROMOTION = "promotion"
    EVENT_CANCELLED = "event_cancelled"
    # An event's time or place changed: everyone confirmed or waitlisted is told.
    EVENT_MOVED = "event_moved"
    NEED_STATUS = "need_status"
    NEED_NOTE = "need_note"
    NEED_ASSIGNED = "need_assigned"
    DIGEST = "digest"
    BROADCAST = "broadcast"
    # The reply to a message the webhook could only acknowledge while PostgreSQL was down.
    DEFERRED_REPLY = "deferred_reply"
    # One WeChat mass-send request of a broadcast (to an openid list, a tag or everyone).
    MASS = "mass"
    # A staff member's answer to a message a resident left for staff (models/inbox/).
    STAFF_ANSWER = "staff_answer"
    # The week's figures, to the console accounts that asked for them (models/reports/).
    WEEKLY_REPORT = "weekly_report"


@dataclass(frozen=True)
class KindSpec:
    kind: PushKind
    # What a template may show: ``text`` (the message in the resident's language) and the
    # payload's ``fields``. Empty for a kind no template carries (mass sends).
    fields: frozenset[str]
    # Whether a resident's 退订 keeps these from them.
    broadcast_opt_out: bool
    # How long it stays worth sending: its expires_at, set by its domain module.
    lifetime: str


def _spec(
    kind: PushKind,
    fields: set[str],
    lifetime: str,
    *,
    broadcast_opt_out: bool = False,
) -> KindSpec:
    return KindSpec(kind, frozenset(fields), broadcast_opt_out, lifetime)


KINDS: Mapping[PushKind, KindSpec] = MappingProxyType(
    {
        spec.kind: spec
        for spec in (
            _spec(
                PushKind.REMINDER,
                {"text", "event_id", "signup_id", "title", "starts_at", "place", "checkin_code"},
                "until the event starts",
            ),
            _spec(
                PushKind.PROMOTION,
                {"text", "event_id", "title", "starts_at", "place", "party_size", "checkin_code"},
                "until the event starts",
            ),
            _spec(
                PushKind.EVENT_CANCELLED,
                {"text", "event_id", "title", "starts_at", "reason", "signup_status"},
                "until the event was to start; for one under way, its end or 3 hours on",
            ),
            _spec(
                PushKind.EVENT_MOVED,
                {
                    "text",
                    "event_id",
                    "signup_id",
                    "title",
                    "starts_at",
                    "place",
                    "old_starts_at",
                    "old_place",
                    "signup_status",
                },
                "until the event starts; a later change or the sign-up's end skips it",
            ),
            _spec(
                PushKind.NEED_STATUS,
                {"text", "ref", "status", "status_zh", "status_en", "note", "changed_at"},
                "no end",
            ),
            _spec(
                PushKind.NEED_NOTE,
                {"text", "ref", "status", "status_zh", "status_en", "note", "changed_at"},
                "no end",
            ),
            _spec(
                PushKind.NEED_ASSIGNED,
                {"text", "ref", "category", "partner", "place", "assigned_at"},
                "no end",
            ),
            _spec(
                PushKind.DIGEST,
                {"text", "date", "new_needs", "waiting_needs", "events_today", "events_tomorrow"},
                "until the next day's digest is due",
            ),
            _spec(
                PushKind.BROADCAST,
                {"text", "broadcast_id", "event_id"},
                "3 days; an event's announcement until its sign-up closes",
                broadcast_opt_out=True,
            ),
            _spec(
                PushKind.DEFERRED_REPLY,
                {"text"},
                "the 48 hours a message opens WeChat's customer-service window for",
            ),
            _spec(
                PushKind.STAFF_ANSWER,
                {"text", "answer", "answered_at"},
                "no end: the resident asked, and the answer waits for them if need be",
            ),
            _spec(
                PushKind.WEEKLY_REPORT,
                {
                    "text",
                    "week",
                    "activities",
                    "residents_served",
                    "signed_up",
                    "attended",
                    "needs_raised",
                    "needs_resolved",
                    "over_deadline",
                    "url",
                },
                "until the next week's report is due",
            ),
            # The opt-out of a mass send's recipients is checked as its request is planned
            # (models/broadcasts/sending.py mass_send_now), since one row reaches many.
            _spec(
                PushKind.MASS,
                set(),
                "3 days; an event's announcement until its sign-up closes",
            ),
        )
    }
)


# What a template of each kind may show, for bot/config/push.py to check templates against;
# a kind no template carries is not in it.
TEMPLATE_VALUES: Mapping[str, frozenset[str]] = MappingProxyType(
    {str(kind): spec.fields for kind, spec in KINDS.items() if spec.fields}
)
