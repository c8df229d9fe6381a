"""How a push of one kind would reach each of many residents now, by the channel rules
the worker plans by (models/push/channels.py): what a broadcast's preview tells staff
before anything is queued.

The residents' windows and their unused subscription consents are read a chunk at a
time (two queries per chunk, however many residents), and each resident is then judged
by :func:`models.push.channels.outlook`, the one rule the worker and the inbox share.
Like the inbox, this does not know the customer-service allowance the worker counts in
Redis, nor the quota pauses: a resident whose allowance is spent shows as reached by
customer-service message, and the worker then falls back the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.push.channels import outlook
from models.push.consents import SubscriptionConsent
from models.push.vocabulary import Channel
from models.residents import Resident

# Residents read per query: well below the bound parameters every database allows.
CHUNK = 500


@dataclass(frozen=True)
class ChannelSplit:
    """Which channel would carry the push to each resident now (None: held for the
    resident's next message, which may not come before the push expires)."""

    channels: dict[int, Channel | None] = field(default_factory=dict)

    def count(self, channel: Channel | None) -> int:
        return sum(1 for chosen in self.channels.values() if chosen == channel)

    @property
    def custom(self) -> int:
        return self.count(Channel.CUSTOM)

    @property
    def template(self) -> int:
        return self.count(Channel.TEMPLATE)

    @property
    def subscribe(self) -> int:
        return self.count(Channel.SUBSCRIBE)

    @property
    def held(self) -> int:
        return self.count(None)


def channel_split(
    db: Session,
    resident_ids: Sequence[int],
    now: datetime,
    *,
    template: bool,
    subscribe_template_id: str | None,
) -> ChannelSplit:
    """The channel each of ``resident_ids`` would be reached by now. ``template``: the
    account sends template messages for the push's kind (``Config.sends_templates_of``);
    ``subscribe_template_id``: the subscription notice configured for it, if any."""
    channels: dict[int, Channel | None] = {}
    for start in range(0, len(resident_ids), CHUNK):
        chunk = list(resident_ids[start : start + CHUNK])
        consenting = _consenting(db, chunk, subscribe_template_id)
        for resident_id, opened_at, kind in db.execute(
            select(Resident.id, Resident.last_interaction_at, Resident.last_interaction_kind).where(
                Resident.id.in_(chunk)
            )
        ):
            channels[resident_id] = outlook(
                opened_at,
                kind,
                now,
                template=template,
                subscription_consent=resident_id in consenting,
            ).channel
    return ChannelSplit(channels)


def _consenting(db: Session, chunk: list[int], template_id: str | None) -> set[int]:
    """Those of ``chunk`` with an unused consent to ``template_id``."""
    if template_id is None:
        return set()
    return set(
        db.execute(
            select(SubscriptionConsent.resident_id).where(
                SubscriptionConsent.resident_id.in_(chunk),
                SubscriptionConsent.template_id == template_id,
                SubscriptionConsent.used_at.is_(None),
            )
        ).scalars()
    )
