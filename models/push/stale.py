"""Changes that make queued pushes stale, and the words that say why.

Each function is called by the domain operation that makes the change, in its own
transaction, so a cancelled sign-up's reminder is skipped at once rather than when the
worker gets to it. The worker and the held-for-reply path check again before sending
(models/push/policy.py), with the same words, as a safety net. This module imports only
the outbox table, so the domain modules (models/events.py, models/broadcasts/) can call it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, true, update
from sqlalchemy.orm import Session

from models.base import rowcount
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.push.vocabulary import QUEUED_STATUSES, OutboxStatus

SIGNUP_CANCELLED = "the sign-up was cancelled"
SUPERSEDED = "a later change of the event's time or place is told instead"
EVENT_OFF = "the event was called off; residents are told that instead"
EVENT_MOVED = "the event moved; a reminder for the new time is queued separately"
# The audience was fixed at fan-out; the opt-out is the resident's word since, and it wins
# until the row has gone out.
OPTED_OUT = "the resident opted out of broadcasts (退订) before it went out"
REPORT_STOPPED = "the account no longer gets the weekly report on this WeChat"


def event_not_on(status: str) -> str:
    """Why a reminder of an event no longer published is not sent."""
    return f"the event is {status}"


def signup_cancelled(db: Session, signup_id: int) -> int:
    """A sign-up was cancelled: its queued reminders and change notices are not sent."""
    return sum(
        skip_queued(db, kind, SIGNUP_CANCELLED, signup_id=signup_id)
        for kind in (PushKind.REMINDER, PushKind.EVENT_MOVED)
    )


def event_cancelled(db: Session, event_id: int, status: str) -> int:
    """An event is no longer on (``status``): its queued reminders and change notices are
    not sent (the cancellation notice tells residents instead)."""
    return skip_queued(db, PushKind.REMINDER, event_not_on(status), event_id=event_id) + (
        skip_queued(db, PushKind.EVENT_MOVED, EVENT_OFF, event_id=event_id)
    )


def event_changed(db: Session, event_id: int) -> int:
    """An event's time or place changed again: the notices of the earlier change that
    have not gone out are not sent, so nobody is told a time that no longer holds."""
    return skip_queued(db, PushKind.EVENT_MOVED, SUPERSEDED, event_id=event_id)


def event_moved(db: Session, event_id: int) -> int:
    """An event's start time changed: reminders queued for the old time are not sent (the
    next sweep queues those of the new time)."""
    return skip_queued(db, PushKind.REMINDER, EVENT_MOVED, event_id=event_id)


def broadcasts_refused(db: Session, resident_id: int) -> int:
    """A resident opted out of broadcasts (退订): their queued broadcasts are not sent."""
    return skip_queued(db, PushKind.BROADCAST, OPTED_OUT, resident_id=resident_id)


def weekly_report_stopped(db: Session, openid: str) -> int:
    """An account's weekly report no longer goes to ``openid`` (turned off, unlinked,
    linked to another WeChat, the account disabled): its queued reports are not sent."""
    return skip_queued(db, PushKind.WEEKLY_REPORT, REPORT_STOPPED, recipient_openid=openid)


def skip_queued(
    db: Session,
    kind: PushKind,
    reason: str,
    *,
    resident_id: int | None = None,
    recipient_openid: str | None = None,
    **fields: int,
) -> int:
    """Mark the queued pushes of ``kind`` that a change just made stale as skipped with
    ``reason``, in the caller's transaction; returns how many.

    Which ones: those to ``resident_id`` (or ``recipient_openid``) if given, and whose
    payload ``fields`` hold the given values (e.g. ``signup_id=7``). Rows being sent right
    now are left alone: their worker checks again (models/push/policy.py) only if it
    claims them again.
    """
    condition: ColumnElement[bool] = true()
    if resident_id is not None:
        condition = and_(condition, OutboxMessage.resident_id == resident_id)
    if recipient_openid is not None:
        condition = and_(condition, OutboxMessage.recipient_openid == recipient_openid)
    for name, value in fields.items():
        condition = and_(condition, OutboxMessage.payload[("fields", name)].as_integer() == value)
    result = db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.kind == kind, OutboxMessage.status.in_(QUEUED_STATUSES), condition)
        .values(status=OutboxStatus.SKIPPED, last_error=reason, lease_until=None)
    )
    return rowcount(result)
