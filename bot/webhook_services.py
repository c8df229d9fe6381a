"""The webhook's services: the base ones plus the chat router, conversation state, the
dedupe guard, the spool and the group commit, which only the process that answers WeChat
needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from bot.batches import Batches
from bot.config.sections import Config
from bot.dedupe import DeliveryGuard
from bot.link_codes import LinkCodes
from bot.outage import DatabaseGate, RecentLanguages
from bot.redis_conn import ThreadClients
from bot.services import Clock, Services, build_services
from bot.sessions import RedisSessionStore
from bot.spool import Spool
from handlers import build_router
from handlers.context import Context, FlowState, HandlerSettings, NeedCategory, SessionStore
from handlers.router import Router
from models.base import utcnow
from models.inbound import Contact, Handled, store_together

# Deliveries one commit may hold; a leader never waits for a batch to fill.
GROUP_COMMIT_MAX = 64
# PostgreSQL connections a worker may hold, as many as SQLAlchemy's default pool opens
# (5 kept, 10 more closed as they come back), but all of them kept: with 16 deliveries
# in flight over 2 workers (bench/webhook.py), a worker's sixth to eighth at a time each
# opened a backend and closed it again, 132 connections for 3,000 messages.
WEBHOOK_CONNECTIONS = 15


@dataclass
class WebhookServices(Services):
    router: Router
    sessions: RedisSessionStore
    link_codes: LinkCodes
    guard: DeliveryGuard
    handler_settings: HandlerSettings
    spool: Spool
    gate: DatabaseGate
    languages: RecentLanguages
    # The group commit of deliveries whose handler changed nothing (bot/batches.py).
    committer: Batches[Connection, Handled, bool]

    def context(
        self,
        db: Session,
        contact: Contact,
        now: datetime,
        flow: FlowState | None,
        flows: SessionStore,
    ) -> Context:
        """What a handler is given for one message: the conversation's shared parts (the
        texts, the settings) with this message's session, sender, time, flow and the
        store its flow changes go to (bot/sessions.py HeldFlow)."""
        return Context(
            db=db,
            contact=contact,
            sessions=flows,
            link_codes=self.link_codes,
            catalog=self.router.catalog,
            settings=self.handler_settings,
            now=now,
            flow=flow,
        )


def build_webhook_services(
    config: Config, clock: Clock = utcnow, *, ping_connections: bool = True
) -> WebhookServices:
    """The base services, with the router and a Redis connection per thread for the
    guard and the flows (the webhook's hot path)."""
    base = build_services(
        config, clock, ping_connections=ping_connections, keep_connections=WEBHOOK_CONNECTIONS
    )
    per_thread = ThreadClients(base.redis)
    return WebhookServices(
        config=base.config,
        engine=base.engine,
        session_factory=base.session_factory,
        redis=base.redis,
        clock=base.clock,
        router=build_router(),
        sessions=RedisSessionStore(per_thread, config.bot.flow_ttl_s),
        link_codes=LinkCodes(per_thread),
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
        spool=Spool(Path(config.bot.spool_dir)),
        gate=DatabaseGate(),
        languages=RecentLanguages(),
        committer=Batches(store_together, GROUP_COMMIT_MAX),
    )
