"""What a worker decides about each claimed row before any network call: whether it is
still worth sending (expired, stale, paused, held for the next reply) and which channels
may carry it now (the customer-service window and its allowance, a template, a
subscription notice, a mass send)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from bot.services import Services
from models.broadcasts.sending import mass_send_now
from models.push.claims import Claimed
from models.push.consents import use_consent
from models.push.pauses import PAUSED_PREFIX
from models.push.policy import not_to_send
from models.push.registry import PushKind
from models.push.vocabulary import Channel, DeliveryOutcome
from scheduler.channels import Push, Unrenderable
from scheduler.delivery import Outcome, Plan, push_fields, push_text
from scheduler.pauses import Gate
from scheduler.windows import ServiceWindow


class Planner:
    """Decides, before any network call, which channels may carry a row."""

    def __init__(self, services: Services, window: ServiceWindow) -> None:
        self._config = services.config
        self._window = window

    def plan_all(
        self, db: Session, rows: Sequence[Claimed], now: datetime, gate: Gate
    ) -> list[Plan | Outcome]:
        """Each row's plan or outcome, in order. Whether rows are still worth sending is
        asked once for the batch (models/push/policy.py), and the customer-service
        allowance of the whole batch is spent in one Redis round trip rather than one per
        row, for the rows whose customer-service sends are not paused (``gate``)."""
        stale = not_to_send(db, [row for row in rows if not _expired(row, now)])
        early = [self._decide_early(db, row, stale.get(row.id), now, gate) for row in rows]
        waiting = [row for row, result in zip(rows, early, strict=True) if result is None]
        unpaused = [row for row in waiting if gate.open(row.kind, Channel.CUSTOM)]
        allowed = self._window.try_use_many(
            [
                (row.recipient_openid, row.last_interaction_at, row.last_interaction_kind)
                for row in unpaused
            ],
            now,
        )
        custom = {row.id: ok for row, ok in zip(unpaused, allowed, strict=True)}
        return [
            result
            if result is not None
            else self._choose_channels(db, row, custom.get(row.id), now, gate)
            for row, result in zip(rows, early, strict=True)
        ]

    def _decide_early(
        self, db: Session, row: Claimed, stale: str | None, now: datetime, gate: Gate
    ) -> Plan | Outcome | None:
        """What is decided before any channel is considered, or None to consider them.
        ``stale`` is why the policy says the row is no longer worth sending."""
        if _expired(row, now):
            return Outcome(
                row, DeliveryOutcome.EXPIRED, error="expired before it could be delivered"
            )
        if stale is not None:
            return Outcome(row, DeliveryOutcome.SKIPPED, error=stale)
        if row.kind == PushKind.MASS:
            if not gate.open(row.kind, Channel.MASS):
                return _paused(row, gate)
            return self._plan_mass(db, row, now, gate)
        if not row.subscribed:
            return Outcome(
                row, DeliveryOutcome.DEAD, error="the resident has unfollowed the account"
            )
        try:
            push_text(row, self._config.bot.default_language)
            push_fields(row)
        except Unrenderable as exc:
            return Outcome(row, DeliveryOutcome.DEAD, error=str(exc))
        return None

    def _plan_mass(self, db: Session, row: Claimed, now: datetime, gate: Gate) -> Plan | Outcome:
        """A mass send to its audience as it is now: whoever opted out since fan-out is
        left out of its openids or tag, or the row is skipped when nobody is left."""
        send = mass_send_now(db, row.id, row.payload, row.expires_at, now)
        if isinstance(send, str):
            return Outcome(row, DeliveryOutcome.SKIPPED, error=send)
        probes = frozenset({Channel.MASS}) if gate.probing(row.kind, Channel.MASS) else frozenset()
        return Plan(row, _push(row, ""), (), mass=send, probes=probes)

    def _choose_channels(
        self, db: Session, row: Claimed, custom: bool | None, now: datetime, gate: Gate
    ) -> Plan | Outcome:
        """``custom`` says whether the resident's customer-service allowance had room;
        None when customer-service sends of the row's kind are paused. A row whose only
        channels are paused waits for the pause's probe rather than the resident."""
        push = _push(row, push_text(row, self._config.bot.default_language))
        channels: list[Channel] = [Channel.CUSTOM] if custom else []
        paused = custom is None
        push_config = self._config.push
        if self._config.sends_templates_of(row.kind):
            if gate.open(row.kind, Channel.TEMPLATE):
                channels.append(Channel.TEMPLATE)
            else:
                paused = True
        subscribe = push_config.subscribe_templates.get(row.kind)
        if not channels and subscribe is not None and row.resident_id is not None:
            if not gate.open(row.kind, Channel.SUBSCRIBE):
                paused = True
            elif use_consent(db, row.resident_id, subscribe.template_id, now):
                channels.append(Channel.SUBSCRIBE)
        if not channels and paused:
            return _paused(row, gate)
        if not channels:
            return Outcome(
                row, DeliveryOutcome.HELD, error="waiting for the resident's next message"
            )
        probes = frozenset(channel for channel in channels if gate.probing(row.kind, channel))
        return Plan(row, push, channels, probes=probes)


def _paused(row: Claimed, gate: Gate) -> Outcome:
    """The row waits, its attempt given back, for the probe of its kind's pause."""
    until, why = gate.wait(row.kind)
    return Outcome(row, DeliveryOutcome.PAUSED, error=PAUSED_PREFIX + why, pause_until=until)


def _expired(row: Claimed, now: datetime) -> bool:
    return row.expires_at is not None and row.expires_at <= now


def _push(row: Claimed, text: str) -> Push:
    return Push(
        openid=row.recipient_openid,
        kind=row.kind,
        text=text,
        fields=push_fields(row),
    )
