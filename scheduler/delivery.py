"""Deliver one claimed outbox row through WeChat, and say what should become of it.

Planning (which channels may carry the row) happens before any network call, with the
database and Redis at hand; sending happens in worker threads with no database; the
outcome is committed right after (scheduler/recorder.py). What WeChat's refusal means
(bot/wechat/errors.py, the one place that knows the errcodes) decides the outcome:

- a rejected token: the client has already refreshed the shared token once and retried
  once; if that failed too the row is retried later.
- the customer-service window closed or its allowance spent: fall back to the next
  channel; with none left, the row is re-planned at once (the window is now known shut,
  so the template, a subscription notice or the next reply is chosen).
- the resident cannot receive: the resident is marked unsubscribed and the row
  dead-lettered.
- a quota spent: that channel pauses for the row's kind (scheduler/pauses.py) and the
  next channel is tried; with none left, the row waits for the pause's probe.
- no answer, HTTP errors, timeouts and anything else: retried with exponential backoff
  and jitter, then dead after ``push.max_attempts``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from bot.config.sections import Config
from bot.wechat.api import WeChatAPI
from bot.wechat.errors import QUOTAS, Refusal, WeChatAPIError
from models.broadcasts.sending import MassSend
from models.push.claims import Claimed
from models.push.pauses import PAUSED_PREFIX
from models.push.rows import reader_text
from models.push.vocabulary import Channel, DeliveryOutcome
from scheduler import mass_tags
from scheduler.channels import Push, Unrenderable, render_template_fields
from scheduler.pauses import pause_end

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    row: Claimed
    push: Push
    channels: Sequence[Channel]
    mass: MassSend | None = None
    # The channels this row probes: their pause ends if WeChat takes the row on one.
    probes: frozenset[Channel] = frozenset()


@dataclass(frozen=True)
class QuotaHit:
    """A channel whose quota WeChat said is spent, to be paused for the row's kind."""

    channel: Channel
    refusal: Refusal
    error: str


@dataclass
class Outcome:
    row: Claimed
    result: DeliveryOutcome
    channel: Channel | None = None
    error: str | None = None
    pause_until: datetime | None = None
    window_exhausted: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    quota_hits: list[QuotaHit] = field(default_factory=list)


def push_text(row: Claimed, default_language: str) -> str:
    """The row's text in its reader's language; Unrenderable if it carries none."""
    try:
        return reader_text(row.payload, row.language, default_language)
    except ValueError:
        raise Unrenderable(f"the {row.kind} push carries no text to send") from None


def push_fields(row: Claimed) -> dict[str, Any]:
    """The values templates are rendered with; Unrenderable if they are not a mapping."""
    fields = row.payload.get("fields", {})
    if not isinstance(fields, dict):
        raise Unrenderable(f"the {row.kind} push's fields are not a mapping: {fields!r}")
    return fields


class Sender:
    """Sends planned rows; safe to call from several threads at once (no DB, no Redis)."""

    def __init__(self, api: WeChatAPI, config: Config) -> None:
        self._api = api
        self._templates = config.push.templates
        self._subscribe_templates = config.push.subscribe_templates

    def send(self, plan: Plan, now: datetime) -> Outcome:
        if plan.mass is not None:
            return self._send_mass(plan, plan.mass, now)
        last_error = "no channel"
        window_exhausted = False
        hits: list[QuotaHit] = []
        for channel in plan.channels:
            try:
                call = self._message(channel, plan.push)
            except Unrenderable as exc:
                return Outcome(plan.row, DeliveryOutcome.DEAD, channel, str(exc), quota_hits=hits)
            try:
                call()
            except WeChatAPIError as exc:
                last_error = _describe(exc)
                if exc.refusal in QUOTAS:
                    hits.append(QuotaHit(channel, exc.refusal, last_error))
                    continue
                if exc.refusal is Refusal.WINDOW_CLOSED and channel == Channel.CUSTOM:
                    window_exhausted = True
                    continue
                result = (
                    DeliveryOutcome.UNSUBSCRIBED
                    if exc.refusal is Refusal.UNREACHABLE
                    else DeliveryOutcome.RETRY
                )
                return Outcome(plan.row, result, channel, last_error, quota_hits=hits)
            return Outcome(plan.row, DeliveryOutcome.SENT, channel, quota_hits=hits)
        if hits:
            return _paused(plan, hits, now, window_exhausted)
        return Outcome(
            plan.row, DeliveryOutcome.REPLAN, None, last_error, window_exhausted=window_exhausted
        )

    def _message(self, channel: Channel, push: Push) -> Callable[[], None]:
        """The call that carries ``push`` on ``channel``, its template rendered before any
        call, so a push that cannot be rendered is dead-lettered without a request."""
        messages = self._api.messages
        if channel == Channel.CUSTOM:
            return partial(messages.send_text, push.openid, push.text)
        if channel == Channel.TEMPLATE:
            template = self._templates[push.kind]
            fields = render_template_fields(template, push)
            return partial(
                messages.send_template, push.openid, template.template_id, fields, template.url
            )
        if channel == Channel.SUBSCRIBE:
            template = self._subscribe_templates[push.kind]
            fields = render_template_fields(template, push)
            return partial(
                messages.send_subscription_notice,
                push.openid,
                template.template_id,
                fields,
                template.url,
            )
        raise ValueError(f"unknown channel {channel!r}")

    def _send_mass(self, plan: Plan, mass: MassSend, now: datetime) -> Outcome:
        try:
            result = mass_tags.post_mass(self._api, mass, now)
        except mass_tags.TagRefused as refusal:
            return Outcome(plan.row, DeliveryOutcome.DEAD, Channel.MASS, str(refusal))
        except WeChatAPIError as exc:
            if exc.refusal in QUOTAS:
                return _paused(plan, [QuotaHit(Channel.MASS, exc.refusal, _describe(exc))], now)
            return Outcome(plan.row, DeliveryOutcome.RETRY, Channel.MASS, _describe(exc))
        return Outcome(
            plan.row, DeliveryOutcome.SENT, Channel.MASS, details={"msg_id": result.get("msg_id")}
        )


def _paused(
    plan: Plan, hits: list[QuotaHit], now: datetime, window_exhausted: bool = False
) -> Outcome:
    """Every channel left was refused for a spent quota: the row waits for the first of
    their pauses to end."""
    until = min(pause_end(hit.refusal, now) for hit in hits)
    return Outcome(
        plan.row,
        DeliveryOutcome.PAUSED,
        None,
        PAUSED_PREFIX + hits[-1].error,
        pause_until=until,
        window_exhausted=window_exhausted,
        quota_hits=hits,
    )


def backoff(attempts: int, base_s: float, cap_s: float) -> timedelta:
    """Exponential backoff with full jitter, so retrying workers do not stampede."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempts - 1))
    return timedelta(seconds=random.uniform(base_s / 2, max(base_s / 2, ceiling)))


def _describe(exc: WeChatAPIError) -> str:
    code = "no answer" if exc.errcode is None else f"errcode {exc.errcode}"
    return f"{code}: {exc.errmsg}"
