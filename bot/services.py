"""The base services every process needs, built once from the config.

Nothing is opened at import; :func:`build_services` is called by the CLI, the worker, the
scheduler and the tests, each with its own config and clock. The webhook adds what only it
needs (the chat router, conversation state, the dedupe guard) in bot/webhook_services.py,
so the worker and scheduler never build a router.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Config
from bot.redis_conn import connect_redis
from models.base import utcnow
from models.broadcasts.records import BroadcastSettings
from models.db import make_engine, make_session_factory

Clock = Callable[[], datetime]


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
    config: Config, clock: Clock = utcnow, *, ping_connections: bool = True
) -> Services:
    """``ping_connections=False`` saves a round trip per transaction; only the webhook
    turns it off, and it retries a delivery whose pooled connection turns out dead."""
    engine = make_engine(config.database.url, pre_ping=ping_connections)
    return Services(
        config=config,
        engine=engine,
        session_factory=make_session_factory(engine),
        redis=connect_redis(config.redis.url),
        clock=clock,
    )


def broadcast_settings(config: Config) -> BroadcastSettings:
    """What broadcast fan-out needs from the config, for the CLI and the scheduler alike."""
    return BroadcastSettings(
        tz=config.bot.tz,
        account_type=config.wechat.account_type,
        default_language=config.bot.default_language,
    )
