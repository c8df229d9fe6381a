"""A broadcast's preview: whom its audience reaches, whom it leaves out and why, and how
each resident reached would get it now: by customer-service message, template message or
subscription notice, put off by a quota pause until its probe, or held for their next
message (which may not come before the broadcast expires); for a mass send, by WeChat's
mass send, and the few it leaves to normal messages the same way. The CLI's dry run and
the console's preview both show it, counted set-based by the worker's channel rules
(models/push/reach.py) with what the workers keep in Redis passed in as ``live``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_
from sqlalchemy.orm import Session

from models.broadcasts.audience import audience_conditions
from models.broadcasts.mass import MassPlan
from models.broadcasts.records import BroadcastSettings
from models.push.channels import ChannelPause, LiveLimits, Means
from models.push.reach import Reach, Route, channel_split, reach_counts
from models.push.registry import PushKind
from models.push.vocabulary import Channel


def broadcast_means(settings: BroadcastSettings, live: LiveLimits, now: datetime) -> Means:
    """The channels a broadcast's normal messages may take now."""
    return Means(
        template=settings.sends_templates,
        subscription=settings.subscribe_template_id is not None,
        paused=live.paused(PushKind.BROADCAST, now),
    )


def preview_reach(
    db: Session,
    spec: str,
    settings: BroadcastSettings,
    now: datetime,
    live: LiveLimits,
    categories: Collection[str] | None = None,
) -> tuple[str, Reach]:
    """The audience ``spec`` (normalised) and how it would be reached now, counted
    without reading its residents one by one. Refuses a bad spec as the send does."""
    normalized, conditions = audience_conditions(db, spec, now, categories)
    reach = reach_counts(
        db,
        and_(*conditions) if conditions else None,
        now,
        means=broadcast_means(settings, live, now),
        subscribe_template_id=settings.subscribe_template_id,
        live=live,
    )
    return normalized, reach


@dataclass(frozen=True)
class MassSplit:
    """A mass send's split: ``mass`` residents by WeChat's mass send (put off until
    ``mass_paused`` ends, when its quota is paused), the rest by normal messages."""

    mass: int
    singles: dict[str, int]
    mass_paused: ChannelPause | None
    paused: ChannelPause | None


def mass_split(
    db: Session, plan: MassPlan, settings: BroadcastSettings, now: datetime, live: LiveLimits
) -> MassSplit:
    """How ``plan`` would reach its residents now: its requests by mass send, and the
    residents alone in their language by the normal messages' rules."""
    means = broadcast_means(settings, live, now)
    singles = channel_split(
        db,
        [recipient.resident_id for recipient in plan.singles],
        now,
        means=means,
        subscribe_template_id=settings.subscribe_template_id,
        live=live,
    ).counts()
    return MassSplit(
        mass=sum(len(request.recipients) for request in plan.requests),
        singles=singles,
        mass_paused=live.paused(PushKind.MASS, now).get(Channel.MASS),
        paused=means.waits_until() if singles[Route.PAUSED] else None,
    )
