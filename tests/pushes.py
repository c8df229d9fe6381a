"""Fixtures for the push pipeline: services aimed at the fake WeChat API, a worker factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import Services, build_services
from bot.wechat.client import build_wechat_client
from bot.wechat.fake_api.server import FakeWeChatServer
from models.push.outbox import OutboxMessage
from models.push.rows import enqueue_push
from models.residents import Resident, get_or_create_resident, mark_unsubscribed
from scheduler.worker import Worker
from tests.conftest import FakeClock, make_test_config

MakePushServices = Callable[..., Services]


@pytest.fixture
def make_push_services(
    database_url: str,
    redis_url: str,
    services: Services,
    clock: FakeClock,
    fake_wechat: FakeWeChatServer,
) -> Iterator[MakePushServices]:
    """Services whose config points at the fake WeChat API; ``push=``/``wechat=`` override."""
    built: list[Services] = []

    def make(**sections: dict[str, Any]) -> Services:
        wechat = {
            "api_base_url": fake_wechat.base_url,
            "http_timeout_s": 1.0,
            **sections.pop("wechat", {}),
        }
        push = {"rate_per_s": 0, "backoff_base_s": 10, **sections.pop("push", {})}
        config = make_test_config(database_url, redis_url, wechat=wechat, push=push, **sections)
        made = build_services(config, clock=clock)
        built.append(made)
        return made

    yield make
    for made in built:
        made.close()


@pytest.fixture
def make_worker(make_push_services: MakePushServices) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def make(services: Services | None = None, **sections: dict[str, Any]) -> Worker:
        target = services or make_push_services(**sections)
        worker = Worker(target, build_wechat_client(target.config, target.redis))
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


def seen_resident(db: Session, openid: str, when: datetime, kind: str = "message") -> Resident:
    """A resident whose last message (or tap) was at ``when``, as the webhook records it."""
    resident = get_or_create_resident(db, openid, when)
    resident.last_interaction_at = when
    resident.last_interaction_kind = kind
    return resident


def add_resident(
    services: Services,
    openid: str,
    *,
    last_seen: datetime | None = None,
    kind: str = "message",
    language: str | None = None,
    subscribed: bool = True,
) -> int:
    with services.session_factory() as db, db.begin():
        if last_seen is None:
            resident = get_or_create_resident(db, openid, services.clock())
        else:
            resident = seen_resident(db, openid, last_seen, kind)
        resident.language = language
        if not subscribed:  # unfollowed, as the webhook or a 43004 records it
            mark_unsubscribed(resident, services.clock())
        return resident.id


def queue(
    services: Services,
    openid: str,
    key: str,
    *,
    kind: str = "need_status",
    zh: str = "您的需求已受理",
    en: str = "Your need was acknowledged",
    expires_in: timedelta | None = None,
    fields: dict[str, Any] | None = None,
) -> int:
    now = services.clock()
    with services.session_factory() as db, db.begin():
        resident = db.execute(select(Resident).where(Resident.openid == openid)).scalar_one()
        row_id = enqueue_push(
            db,
            recipient_openid=openid,
            kind=kind,
            payload={"text": {"zh": zh, "en": en}, "fields": fields or {}},
            idempotency_key=key,
            now=now,
            resident_id=resident.id,
            expires_at=now + expires_in if expires_in else None,
        )
        assert row_id is not None
        return row_id


def queue_to_new_residents(
    services: Services, seen: datetime, prefix: str, count: int
) -> list[int]:
    """``count`` residents seen at ``seen`` (so within their customer-service window), one
    queued push each; the rows' ids, in order."""
    rows = []
    for number in range(count):
        add_resident(services, f"o-{prefix}{number}", last_seen=seen)
        rows.append(queue(services, f"o-{prefix}{number}", f"{prefix}-{number}"))
    return rows


def outbox_row(services: Services, row_id: int) -> OutboxMessage:
    with services.session_factory() as db:
        row = db.get(OutboxMessage, row_id)
        assert row is not None
        return row


def sent_to(fake: FakeWeChatServer, endpoint: str) -> list[dict[str, Any]]:
    """The calls to ``endpoint`` the fake WeChat API accepted (errcode 0 or none)."""
    return [
        call
        for call in fake.calls(endpoint)
        if isinstance(call["result"], dict) and not call["result"].get("errcode")
    ]
