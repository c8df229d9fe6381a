"""The base services every process needs, built once from the config.

Nothing is opened at import; :func:`build_services` is called by the CLI, the worker, the
scheduler and the tests, each with its own config and clock. The webhook adds what only it
needs (the chat router, conversation state, the dedupe guard) in bot/webhook_services.py,
so the worker and scheduler never build a router.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config.errors import ConfigError
from bot.config.sections import Config
from bot.redis_conn import connect_redis
from models.base import utcnow
from models.broadcasts.records import BroadcastSettings
from models.db import make_engine, make_session_factory
from models.push.registry import PushKind

Clock = Callable[[], datetime]
# Ten years: far past any demo, and far from where a timedelta overflows.
MAX_CLOCK_OFFSET_S = 10 * 366 * 86_400


@dataclass
class Services:
    config: Config
    engine: Engine
    session_factory: sessionmaker[Session]
    redis: redis.Redis
    clock: Clock

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()


def build_services(
    config: Config,
    clock: Clock | None = None,
    *,
    ping_connections: bool = True,
    keep_connections: int | None = None,
) -> Services:
    """``clock`` defaults to the config's (:func:`clock_for`). ``ping_connections=False``
    saves a round trip per transaction; only the webhook turns it off, and it retries a
    delivery whose pooled connection turns out dead. ``keep_connections``: see
    ``models.db.make_engine``."""
    engine = make_engine(
        config.database.url,
        pre_ping=ping_connections,
        timeouts=config.database.timeouts,
        keep_connections=keep_connections,
    )
    return Services(
        config=config,
        engine=engine,
        session_factory=make_session_factory(engine),
        redis=connect_redis(config.redis.url),
        clock=clock or clock_for(config),
    )


def clock_for(config: Config) -> Clock:
    """The time as the config's processes share it: real time, or, with
    ``bot.clock_offset_file`` (the demo's config names one), real time plus the offset that
    file holds, read at every call, so a staff command run against the demo agrees with
    the demo's page even after the page moves the clock."""
    path = config.bot.clock_offset_file
    if not path:
        return utcnow
    offset_file = Path(path)
    read_clock_offset(offset_file)  # a broken file stops the command here, in one line
    return lambda: utcnow() + read_clock_offset(offset_file)


def read_clock_offset(path: Path) -> timedelta:
    """How far ahead of real time the clock in ``path`` runs; no file yet means none."""
    try:
        ahead_s = json.loads(path.read_text())["ahead_s"]
    except FileNotFoundError:
        return timedelta()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"bot.clock_offset_file {path} cannot be read: {exc}") from None
    if isinstance(ahead_s, bool) or not isinstance(ahead_s, int | float):
        raise ConfigError(f"bot.clock_offset_file {path} holds no offset in seconds")
    if not 0 <= ahead_s <= MAX_CLOCK_OFFSET_S:  # also refuses NaN
        raise ConfigError(f"bot.clock_offset_file {path}: {ahead_s!r} s is out of range")
    return timedelta(seconds=ahead_s)


def write_clock_offset(path: Path, offset: timedelta) -> None:
    """Replace the file whole, so a reader never sees half of it."""
    partial = path.with_name(f"{path.name}.partial")
    partial.write_text(json.dumps({"ahead_s": offset.total_seconds()}))
    os.replace(partial, path)


def broadcast_settings(config: Config) -> BroadcastSettings:
    """What broadcast fan-out and its preview need from the config, for the CLI, the
    console and the scheduler alike."""
    subscribe = config.push.subscribe_templates.get(PushKind.BROADCAST)
    return BroadcastSettings(
        tz=config.bot.tz,
        account_type=config.wechat.account_type,
        default_language=config.bot.default_language,
        sends_templates=config.sends_templates_of(PushKind.BROADCAST),
        subscribe_template_id=None if subscribe is None else subscribe.template_id,
    )
