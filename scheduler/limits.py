"""What the workers keep in Redis about sending now, read for a preview in one round trip:
the customer-service windows whose allowance is spent (scheduler/windows.py) and the
quota pauses (scheduler/pauses.py), as the :class:`~models.push.channels.LiveLimits`
the channel rules of models/push/channels.py take. So the console and the CLI judge a
push by the worker's own rule without a Redis call per resident.

Without Redis the workers have no shared pauses or counts either: the limits are then
empty, and every window looks unspent and every channel open, as each worker sees them.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import redis

from bot.redis_conn import degradable
from models.push.channels import ChannelPause, LiveLimits
from scheduler.pauses import PAUSES_KEY, Pause, parse_pauses
from scheduler.windows import SPENT_KEY


def read_limits(client: redis.Redis, now: datetime, account_type: str) -> LiveLimits:
    """The spent windows still open at ``now`` and every pause, in one pipeline;
    ``account_type`` decides when a mass-send quota resets."""

    def read() -> tuple[list[str], dict[str, str]]:
        with client.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(SPENT_KEY, f"({int(now.timestamp())}", "+inf")
            pipe.hgetall(PAUSES_KEY)
            spent, pauses = pipe.execute()
        return cast(list[str], spent), cast(dict[str, str], pauses)

    nothing: tuple[list[str], dict[str, str]] = ([], {})
    members, stored = degradable("push limits", read, nothing)
    spent = frozenset(_window(member) for member in members)
    return LiveLimits(
        spent,
        {
            (pause.kind, pause.channel): _channel_pause(pause, account_type)
            for pause in parse_pauses(stored)
        },
    )


def _window(member: str) -> tuple[str, int]:
    openid, _, opened = member.rpartition(":")
    return openid, int(opened)


def _channel_pause(pause: Pause, account_type: str) -> ChannelPause:
    """A pause as the channel rules see it; its quota's reset is its probe when the
    refusal behind it is not known."""
    return ChannelPause(pause.until, pause.resets_at(account_type) or pause.until)
