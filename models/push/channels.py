"""WeChat's rules for which channel may carry a push to a resident, as pure functions of
what the database knows and of what the workers keep in Redis (:class:`LiveLimits`: the
customer-service allowances spent and the quota pauses). The worker plans by the window
rules here and in the order of :func:`channel_now` (scheduler/worker.py
``_choose_channels``, which spends the allowance, a consent or a pause's probe as it
goes, so it walks the order itself); tests/test_broadcast_preview.py pins that the two
agree. The console and the CLI tell staff by them whether a push can go out now and, if
not, when: a broadcast's preview (models/push/reach.py) and the inbox's outlook for a
staff answer.

They live here rather than in scheduler/ because models/ is what the worker, the console
and the CLI share; models/ reads no Redis, so what Redis knows is passed in.

Order of preference: a customer-service message inside the window a resident's own
message opens (48 hours, 5 messages; 1 minute and 3 messages after a menu tap, follow or
scan); a template message on a service account with a template for the push's kind; a
subscription notice the resident accepted; otherwise the push is held for the
resident's next message and rides along with the bot's reply to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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


# No window stays open longer: what an index on the last interaction can narrow by.
LONGEST_WINDOW = max(window_for(kind)[0] for kind in (None, *InteractionKind))


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
class ChannelPause:
    """A channel WeChat refused for its spent quota: left alone until ``until`` (when the
    workers' next probe may go), while the quota itself resets at ``resets_at``."""

    until: datetime
    resets_at: datetime


@dataclass(frozen=True)
class LiveLimits:
    """What only the workers' Redis knows, read in one round trip by the shells
    (scheduler/limits.py) and passed in here, since models/ has no Redis.

    ``spent``: the customer-service windows whose allowance is used up, as (openid, the
    window's opening in whole epoch seconds), the key the worker counts under;
    ``pauses``: the quota pauses by (push kind, channel)."""

    spent: frozenset[tuple[str, int]] = frozenset()
    pauses: Mapping[tuple[str, str], ChannelPause] = field(default_factory=dict)

    def allowance_left(self, openid: str, opened_at: datetime | None) -> bool:
        """Whether the window ``opened_at`` opened still has a message to spend."""
        return opened_at is None or (openid, window_key(opened_at)) not in self.spent

    def paused(self, kind: str, now: datetime) -> dict[Channel, ChannelPause]:
        """The channels of ``kind`` paused at ``now``: a pause whose probe is due counts
        as lifted, as the worker's probe takes the channel again."""
        return {
            Channel(channel): pause
            for (paused_kind, channel), pause in self.pauses.items()
            if paused_kind == kind and pause.until > now
        }


def window_key(opened_at: datetime) -> int:
    """The whole epoch second a window opened at: the worker's Redis count is kept under
    it, and a resident's new message opens a window under a new one."""
    return int(opened_at.timestamp())


@dataclass(frozen=True)
class Means:
    """The channels beyond the window an account has for a kind of push, and which of
    its channels are paused now. ``template``: a service account with a template for the
    kind; ``subscription``: a subscription notice is configured for it."""

    template: bool
    subscription: bool
    paused: Mapping[Channel, ChannelPause] = field(default_factory=dict)

    def usable(self, channel: Channel) -> bool:
        return channel not in self.paused

    def waits_until(self) -> ChannelPause | None:
        """The earliest pause among the channels this kind may take (the window's always,
        the template's and the subscription notice's where configured), if any: a push
        that finds no channel then waits for it rather than for the resident, as the
        worker puts it off (scheduler/planner.py ``_paused``)."""
        wanted = [Channel.CUSTOM]
        wanted += [Channel.TEMPLATE] if self.template else []
        wanted += [Channel.SUBSCRIBE] if self.subscription else []
        pauses = [self.paused[channel] for channel in wanted if channel in self.paused]
        return min(pauses, key=lambda pause: pause.until) if pauses else None


def channel_now(
    *, window_open: bool, allowance_left: bool, consent: bool, means: Means
) -> Channel | None:
    """The first channel WeChat allows now, in the order of preference above; None when
    none does. ``consent``: the resident has an unused subscription consent for the kind."""
    if window_open and allowance_left and means.usable(Channel.CUSTOM):
        return Channel.CUSTOM
    if means.template and means.usable(Channel.TEMPLATE):
        return Channel.TEMPLATE
    if means.subscription and consent and means.usable(Channel.SUBSCRIBE):
        return Channel.SUBSCRIBE
    return None


@dataclass(frozen=True)
class Outlook:
    """How a push to a resident would go out now: on ``channel``, or, with None, held
    for the resident's next message, or (``paused``) put off until a quota pause's probe.
    ``window_closes_at`` is when the customer-service window shuts (or shut), if the
    resident ever wrote."""

    channel: Channel | None
    window_closes_at: datetime | None
    paused: ChannelPause | None = None


def outlook(
    opened_at: datetime | None,
    kind: str | None,
    now: datetime,
    *,
    means: Means,
    consent: bool,
    allowance_left: bool = True,
) -> Outlook:
    """How a push would reach one resident now (:func:`channel_now`), whose last
    interaction of ``kind`` at ``opened_at`` opened the window; ``allowance_left`` from
    :meth:`LiveLimits.allowance_left`."""
    closes = window_closes_at(opened_at, kind)
    channel = channel_now(
        window_open=window_is_open(opened_at, kind, now),
        allowance_left=allowance_left,
        consent=consent,
        means=means,
    )
    return Outlook(channel, closes, None if channel is not None else means.waits_until())
