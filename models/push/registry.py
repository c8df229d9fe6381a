"""Every push kind, declared once: what its templates may show, whether the broadcast
opt-out (退订) applies, how long it stays worth sending, and what makes it stale.

This is the one module that imports the domain modules (for their staleness checks);
they import only models/push's outbox, builder and stale marking, so there is no import
circle. Adding a kind means a member of :class:`~models.push.vocabulary.PushKind`, its
payload builder in its domain module, and its entry here; bot/config/push.py checks
configured templates against :data:`KINDS`, and tests/test_push_kinds.py holds each
kind's payload builder to exactly its ``fields``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy.orm import Session

from models import reminders
from models.push.vocabulary import PushKind

# Why each of a batch's rows is stale, by outbox id (one query for the whole batch).
StaleCheck = Callable[[Session, Sequence[int]], dict[int, str]]


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
    # The check before sending for a stale row its domain did not already mark skipped.
    stale: StaleCheck | None = None


def _spec(
    kind: PushKind,
    fields: set[str],
    lifetime: str,
    *,
    broadcast_opt_out: bool = False,
    stale: StaleCheck | None = None,
) -> KindSpec:
    return KindSpec(kind, frozenset(fields), broadcast_opt_out, lifetime, stale)


KINDS: Mapping[PushKind, KindSpec] = MappingProxyType(
    {
        spec.kind: spec
        for spec in (
            _spec(
                PushKind.REMINDER,
                {"text", "event_id", "signup_id", "title", "starts_at", "place", "checkin_code"},
                "until the event starts",
                stale=reminders.stale_reminders,
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
