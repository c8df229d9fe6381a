"""Deliver one claimed outbox row through WeChat, and say what should become of it.

Planning (which channels may carry the row) happens before any network call, with the
database and Redis at hand; sending happens in worker threads with no database; the
outcome is written back in bulk. WeChat's errcodes decide the outcome:

- 40001/42001: the client has already refreshed the shared token once and retried once;
  if that failed too the row is retried later.
- 45015 (48-hour window closed) and 45047 (customer-service count spent): fall back to
  the next channel; with none left, the row is re-planned at once (the window is now
  known shut, so the template, a subscription notice or the next reply is chosen).
- 43004, 43019, 40003 (the resident cannot receive): the resident is marked unsubscribed
  and the row dead-lettered.
- 45009, 45011 and other quota codes: the row's kind pauses until the quota resets.
- -1, HTTP errors, timeouts and anything else: retried with exponential backoff and
  jitter, then dead after ``push.max_attempts``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.wechat.api import WeChatAPI
from bot.wechat.client import WeChatAPIError
from models.broadcasts.sending import MassSend
from models.push.outbox import Claimed
from models.push.vocabulary import Channel, DeliveryOutcome
from scheduler import mass_tags
from scheduler.channels import Push, Unrenderable, render_template_fields

log = logging.getLogger(__name__)

WINDOW_CODES = frozenset({45015, 45047})
UNREACHABLE_CODES = frozenset({43004, 43019, 40003})
DAILY_QUOTA_CODES = frozenset({45009})
# Daily API quota, per-minute API quota, mass-send quota.
QUOTA_CODES = frozenset({45009, 45011, 45028})
MINUTE_QUOTA_CODES = frozenset({45011})


@dataclass(frozen=True)
class Plan:
    row: Claimed
    push: Push
    channels: Sequence[Channel]
    mass: MassSend | None = None


@dataclass
class Outcome:
    row: Claimed
    result: DeliveryOutcome
    channel: Channel | None = None
    error: str | None = None
    pause_until: datetime | None = None
    window_exhausted: bool = False
    details: dict[str, Any] = field(default_factory=dict)


def push_text(row: Claimed, default_language: str) -> str:
    """The row's text in the resident's language; Unrenderable if it carries none."""
    texts = row.payload.get("text")
    if not isinstance(texts, dict) or not texts:
        raise Unrenderable(f"the {row.kind} push carries no text to send")
    language = row.language or default_language
    return str(texts.get(language) or texts.get(default_language) or next(iter(texts.values())))


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
        self._timezone = config.bot.tz

    def send(self, plan: Plan, now: datetime) -> Outcome:
        if plan.mass is not None:
            return self._send_mass(plan, plan.mass, now)
        last_error = "no channel"
        window_exhausted = False
        for channel in plan.channels:
            try:
                call = self._message(channel, plan.push)
            except Unrenderable as exc:
                return Outcome(plan.row, DeliveryOutcome.DEAD, channel, str(exc))
            try:
                call()
            except WeChatAPIError as exc:
                outcome = self._classify(plan, channel, exc, now)
                if outcome is not None:
                    return outcome
                window_exhausted = window_exhausted or channel == Channel.CUSTOM
                last_error = _describe(exc)
                continue
            return Outcome(plan.row, DeliveryOutcome.SENT, channel)
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
            outcome = self._classify(plan, Channel.MASS, exc, now)
            return outcome or Outcome(plan.row, DeliveryOutcome.RETRY, Channel.MASS, _describe(exc))
        return Outcome(
            plan.row, DeliveryOutcome.SENT, Channel.MASS, details={"msg_id": result.get("msg_id")}
        )

    def _classify(
        self, plan: Plan, channel: Channel, exc: WeChatAPIError, now: datetime
    ) -> Outcome | None:
        """The outcome an error decides, or None to try the next channel."""
        code = exc.errcode
        if code in WINDOW_CODES and channel == Channel.CUSTOM:
            return None
        if code in UNREACHABLE_CODES:
            return Outcome(plan.row, DeliveryOutcome.UNSUBSCRIBED, channel, _describe(exc))
        if code in QUOTA_CODES:
            return Outcome(
                plan.row,
                DeliveryOutcome.PAUSED,
                channel,
                _describe(exc),
                pause_until=quota_reset(code, now, self._timezone),
            )
        return Outcome(plan.row, DeliveryOutcome.RETRY, channel, _describe(exc))


def quota_reset(code: int | None, now: datetime, timezone: ZoneInfo) -> datetime:
    """When WeChat's quota behind ``code`` refills: daily quotas at local midnight."""
    if code in DAILY_QUOTA_CODES:
        local = now.astimezone(timezone)
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight
    if code in MINUTE_QUOTA_CODES:
        return now + timedelta(minutes=1)
    return now + timedelta(hours=1)


def backoff(attempts: int, base_s: float, cap_s: float) -> timedelta:
    """Exponential backoff with full jitter, so retrying workers do not stampede."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempts - 1))
    return timedelta(seconds=random.uniform(base_s / 2, max(base_s / 2, ceiling)))


def _describe(exc: WeChatAPIError) -> str:
    code = "no answer" if exc.errcode is None else f"errcode {exc.errcode}"
    return f"{code}: {exc.errmsg}"
