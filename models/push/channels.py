"""WeChat's rules for which channel may carry a push to a resident, as pure functions of
what the database knows: the worker plans by them (scheduler/worker.py, which adds the
customer-service allowance it counts in Redis and the quota pauses), and the console
tells staff by them whether an answer can go out now and, if not, when.

They live here rather than in scheduler/ because the console may not import scheduler/
(it would pull in the worker's machinery) and models/ is what both share.

Order of preference: a customer-service message inside the window a resident's own
message opens (48 hours, 5 messages; 1 minute and 3 messages after a menu tap, follow or
scan); a template message on a service account with a template for the push's kind; a
subscription notice the resident accepted; otherwise the push is held for the
resident's next message and rides along with the bot's reply to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.push.vocabulary import Channel
from models.residents import MESSAGE_WINDOW, InteractionKind

MESSAGE_LIMIT = 5
TAP_WINDOW = timedelta(minutes=1)
TAP_LIMIT = 3


def window_for(kind: str | None) -> tuple[timedelta, int]:
    """How long the window an interaction of ``kind`` opens lasts, and how many messages
    it allows."""
    return (
        (TAP_WINDOW, TAP_LIMIT) if kind == InteractionKind.TAP else (MESSAGE_WINDOW, MESSAGE_LIMIT)
    )


def window_closes_at(opened_at: datetime | None, kind: str | None) -> datetime | None:
    """When the customer-service window the resident's last interaction opened shuts."""
    if opened_at is None:
        return None
    window, _ = window_for(kind)
    return opened_at + window


def window_is_open(opened_at: datetime | None, kind: str | None, now: datetime) -> bool:
    closes = window_closes_at(opened_at, kind)
    return closes is not None and now < closes


@dataclass(frozen=True)
class Outlook:
    """How a push to a resident would go out now: on ``channel``, or, with None, held
    for the resident's next message. ``window_closes_at`` is when the customer-service
    window shuts (or shut), if the resident ever wrote."""

    channel: Channel | None
    window_closes_at: datetime | None


def outlook(
    opened_at: datetime | None,
    kind: str | None,
    now: datetime,
    *,
    template: bool,
    subscription_consent: bool,
) -> Outlook:
    """The first channel WeChat allows now, in the order of preference above.
    ``template``: a service account with a template for the push's kind;
    ``subscription_consent``: a subscription notice the resident accepted is unused.
    The window's allowance (counted by the worker in Redis) is not known here: a window
    whose allowance is spent looks open, and the worker then falls back the same way."""
    closes = window_closes_at(opened_at, kind)
    if window_is_open(opened_at, kind, now):
        return Outlook(Channel.CUSTOM, closes)
    if template:
        return Outlook(Channel.TEMPLATE, closes)
    if subscription_consent:
        return Outlook(Channel.SUBSCRIBE, closes)
    return Outlook(None, closes)
