"""Quota pauses: an API whose quota WeChat says is spent is left alone for a while.

WeChat keeps a quota per API: customer-service messages, template messages,
subscription notices and mass sends each have their own daily count. So a quota
refusal (45009, 45011, 45028) pauses the channel that got it, for the kind of push that
got it, and nothing else: a push of that kind still goes by another channel it may take
(a template message when customer-service messages are paused), and other channels go
on. The kind is part of the pause so staff can lift one kind's pause with `aixiang outbox
resume --kind K`; another kind that meets the same spent quota pauses itself on its first
refusal.

A pause is not held blindly until WeChat's quota resets at midnight (a quota raised or
cleared in the WeChat console counts at once, and a guess at the reset can be wrong).
Each pause ends in a probe: after :data:`PAUSE_FOR` (20 minutes for a daily quota) one
row, and only one among all workers (a Redis key taken with NX), may use the channel
again. If WeChat takes it the pause is lifted; if it refuses, the pause runs for another
round. Rows that found every channel they could take paused wait in the outbox until the
probe (models/push/pauses.py), or a minute more when the probe is already out.

The pauses live in Redis; without it there are none (every channel is tried), which costs
some refused calls and loses no push. Each pause also says when WeChat's quota itself
resets (:func:`quota_resets_at`), which is what staff plan by: WeChat counts its days on
China's clock, so a daily quota resets at midnight there, a per-minute one at the next
minute, and the mass-send quota at midnight (a subscription account's one a day) or at
the month's start (a service account's four a month per follower).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import redis

from bot.redis_conn import degradable
from bot.wechat.errors import Refusal
from models.broadcasts.records import AccountType
from models.push.vocabulary import Channel

log = logging.getLogger(__name__)

PAUSES_KEY = "aixiang:push:channel-pauses"
PROBE_KEY = "aixiang:push:probe:"
# How long a channel is left alone after each quota refusal, by the quota refused.
PAUSE_FOR = {
    Refusal.DAILY_QUOTA: timedelta(minutes=20),
    Refusal.MINUTE_QUOTA: timedelta(minutes=1),
    Refusal.MASS_QUOTA: timedelta(hours=1),
}
# How long a probe is one worker's before another may send one (a send's longest time).
PROBE_HOLD = timedelta(minutes=1)
# Rows that meet a pause whose probe is out try again this long after.
PROBE_WAIT = timedelta(minutes=1)
# The clock WeChat's quotas count days and months on.
WECHAT_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Pause:
    kind: str
    channel: str
    # When the next probe may go.
    until: datetime
    reason: str
    since: datetime
    # The quota WeChat refused; None for a pause stored before it was kept.
    refusal: Refusal | None = None

    def resets_at(self, account_type: str) -> datetime | None:
        """When WeChat's quota behind this pause resets, counted from the refusal that
        began its current round; None when the refusal is not known."""
        if self.refusal is None:
            return None
        refused_at = self.until - PAUSE_FOR[self.refusal]
        return quota_resets_at(self.refusal, refused_at, account_type)


def pause_end(refusal: Refusal, now: datetime) -> datetime:
    """When a channel paused at ``now`` for the quota ``refusal`` may be probed."""
    return now + PAUSE_FOR[refusal]


def quota_resets_at(refusal: Refusal, refused_at: datetime, account_type: str) -> datetime:
    """When the quota WeChat refused at ``refused_at`` resets (see the module's words)."""
    if refusal == Refusal.MINUTE_QUOTA:
        return refused_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    local = refused_at.astimezone(WECHAT_TZ)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if refusal == Refusal.MASS_QUOTA and account_type == AccountType.SERVICE:
        following = (midnight.replace(day=1) + timedelta(days=32)).replace(day=1)
        return following.astimezone(UTC)
    following_day = (midnight + timedelta(days=1)).replace(tzinfo=None)
    return following_day.replace(tzinfo=WECHAT_TZ).astimezone(UTC)


def _field(kind: str, channel: str) -> str:
    return f"{kind}/{channel}"


class Pauses:
    """The pauses shared by all workers, and the CLI's view of them."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def all(self) -> list[Pause]:
        """Every pause, ended or not (an ended one waits for its probe), by kind."""

        def read() -> dict[str, str]:
            return cast(dict[str, str], self._redis.hgetall(PAUSES_KEY))

        return parse_pauses(degradable("push pauses", read, {}))

    def pause(self, kind: str, channel: str, refusal: Refusal, reason: str, now: datetime) -> None:
        """Leave ``channel`` alone for ``kind`` after a quota refusal, until a probe."""
        until = pause_end(refusal, now)
        since = next((p.since for p in self.all() if (p.kind, p.channel) == (kind, channel)), now)
        value = json.dumps(
            {
                "until": until.timestamp(),
                "reason": reason,
                "since": since.timestamp(),
                "refusal": refusal.value,
            }
        )
        name = _field(kind, channel)

        def store() -> int:
            # A new round: its probe, when it ends, is anyone's to take.
            pipe = self._redis.pipeline()
            pipe.hset(PAUSES_KEY, name, value)
            pipe.delete(PROBE_KEY + name)
            return int(cast(list[int], pipe.execute())[0])

        stored = degradable("push pauses", store, None)
        if stored is not None:
            log.warning(
                "pausing %s %s sends until %s: %s", kind, channel, until.isoformat(), reason
            )

    def lift(self, kind: str, channel: str) -> None:
        """End a pause whose probe WeChat took."""

        name = _field(kind, channel)

        def delete() -> int:
            pipe = self._redis.pipeline()
            pipe.hdel(PAUSES_KEY, name)
            pipe.delete(PROBE_KEY + name)
            return int(cast(list[int], pipe.execute())[0])

        degradable("push pauses", delete, 0)
        log.info("%s %s sends resumed: WeChat took the probe", kind, channel)

    def resume(self, kind: str) -> list[Pause]:
        """Lift every pause of ``kind`` (staff's `outbox resume`); returns those lifted.
        Unlike the workers, this needs Redis: it raises when Redis cannot be reached."""
        lifted = [pause for pause in self.all() if pause.kind == kind]
        if lifted:
            self._redis.hdel(PAUSES_KEY, *(_field(p.kind, p.channel) for p in lifted))
            self._redis.delete(*(PROBE_KEY + _field(p.kind, p.channel) for p in lifted))
        return lifted

    def gate(self, now: datetime) -> Gate:
        """Which channels one batch may use, from one read of the pauses."""
        return Gate(self, {(p.kind, p.channel): p for p in self.all()}, now)

    def take_probe(self, kind: str, channel: str) -> bool:
        """Whether this worker may send the probe of a pause that ended (one worker may)."""
        key = PROBE_KEY + _field(kind, channel)
        hold_ms = int(PROBE_HOLD.total_seconds() * 1000)

        def take() -> bool:
            return bool(self._redis.set(key, "1", nx=True, px=hold_ms))

        return degradable("push pauses", take, True)


def parse_pauses(stored: dict[str, str]) -> list[Pause]:
    """The pauses as :data:`PAUSES_KEY` holds them, by kind and channel."""
    pauses = []
    for name, value in stored.items():
        kind, _, channel = str(name).partition("/")
        data = json.loads(value)
        refusal = data.get("refusal")
        pauses.append(
            Pause(
                kind,
                channel,
                datetime.fromtimestamp(data["until"], UTC),
                str(data["reason"]),
                datetime.fromtimestamp(data["since"], UTC),
                None if refusal is None else Refusal(refusal),
            )
        )
    return sorted(pauses, key=lambda pause: (pause.kind, pause.channel))


@dataclass
class Gate:
    """The pauses as one batch sees them; asks Redis again only to take a probe."""

    pauses: Pauses
    current: dict[tuple[str, str], Pause]
    now: datetime
    probes: dict[tuple[str, str], bool] = field(default_factory=dict)

    def open(self, kind: str, channel: Channel) -> bool:
        """Whether a row of ``kind`` may use ``channel``: no pause, or it is this row's
        turn to probe (the first row of the batch, if no other worker has the probe)."""
        key = (kind, str(channel))
        pause = self.current.get(key)
        if pause is None:
            return True
        if pause.until > self.now or key in self.probes:
            return False
        self.probes[key] = self.pauses.take_probe(kind, channel)
        return self.probes[key]

    def probing(self, kind: str, channel: Channel) -> bool:
        """Whether a row that may use ``channel`` is the probe of a pause."""
        return (kind, str(channel)) in self.current

    def paused_kinds(self, channel: Channel) -> list[str]:
        """The kinds whose pause on ``channel`` has not ended."""
        return [
            kind
            for (kind, name), pause in self.current.items()
            if name == channel and pause.until > self.now
        ]

    def wait(self, kind: str) -> tuple[datetime, str]:
        """Until when a row of ``kind`` that found its channels paused waits, and why:
        the earliest probe, or :data:`PROBE_WAIT` from now when that is out already."""
        pauses = [pause for (name, _), pause in self.current.items() if name == kind]
        first = min(pauses, key=lambda pause: pause.until)
        until = first.until if first.until > self.now else self.now + PROBE_WAIT
        return until, f"{first.channel} sends of {kind} are paused: {first.reason}"
