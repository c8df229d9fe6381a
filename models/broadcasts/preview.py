"""A broadcast's preview: how the residents its audience reaches would get it now, by
customer-service message, template message or subscription notice, or held for their
next message (which may not come before the broadcast expires). The CLI's dry run and
the console's preview both show it, counted by the worker's channel rules
(models/push/reach.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from models.broadcasts.audience import Audience
from models.broadcasts.records import BroadcastSettings
from models.push.reach import ChannelSplit, channel_split


def audience_channels(
    db: Session, found: Audience, settings: BroadcastSettings, now: datetime
) -> ChannelSplit:
    """The channel each resident of ``found`` would be reached by now."""
    return channel_split(
        db,
        [recipient.resident_id for recipient in found.recipients],
        now,
        template=settings.sends_templates,
        subscribe_template_id=settings.subscribe_template_id,
    )


def split_counts(split: ChannelSplit) -> dict[str, int]:
    """The split as the CLI's JSON and the console name its parts."""
    return {
        "custom": split.custom,
        "template": split.template,
        "subscribe": split.subscribe,
        "held": split.held,
    }
