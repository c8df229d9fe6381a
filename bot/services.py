"""The long-lived things a process needs, built once from the config.

Nothing is opened at import; :func:`build_services` is called by the app factory, the
CLI and the tests, each with its own config and clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Config
from bot.dedupe import DeliveryGuard
from bot.redis_conn import ThreadClients, connect_redis
from bot.sessions import RedisSessionStore
from handlers import build_router
from handlers.context import HandlerSettings, NeedCategory
from handlers.router import Router
from models.base import utcnow
from models.broadcasts import BroadcastSettings
from models.db import make_engine, make_session_factory

Clock = Callable[[], datetime]


@dataclass
class Services:
    config: Config
    engine: Engine
    session_factory: sessionmaker[Session]
    redis: redis.Redis
    router: Router
    sessions: RedisSessionStore
    guard: DeliveryGuard
    handler_settings: HandlerSettings
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
    client = connect_redis(config.redis.url)
    # The webhook's hot path: a connection per thread, shared by the guard and the flows.
    per_thread = ThreadClients(client)
    return Services(
        config=config,
        engine=engine,
        session_factory=make_session_factory(engine),
        redis=client,
        router=build_router(),
        sessions=RedisSessionStore(per_thread, config.bot.flow_ttl_s),
        guard=DeliveryGuard(
            per_thread, config.bot.reply_cache_ttl_s, config.wechat.timestamp_tolerance_s
        ),
        handler_settings=HandlerSettings(
            timezone=config.bot.tz,
            default_language=config.bot.default_language,
            flow_ttl_s=config.bot.flow_ttl_s,
            need_categories=tuple(
                NeedCategory(key=c.key, zh=c.zh, en=c.en) for c in config.needs.categories
            ),
            need_max_photos=config.needs.max_photos,
            need_max_text=config.needs.max_text,
        ),
        clock=clock,
    )


def broadcast_settings(config: Config) -> BroadcastSettings:
    """What broadcast fan-out needs from the config, for the CLI and the scheduler alike."""
    return BroadcastSettings(
        tz=config.bot.tz,
        account_type=config.wechat.account_type,
        default_language=config.bot.default_language,
    )
