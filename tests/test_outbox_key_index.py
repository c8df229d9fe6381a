"""One unique index on the outbox's idempotency key, compared byte by byte, serves both
what needs the key unique (every enqueuer's ON CONFLICT) and a need's page, which finds
the pushes about the need by the key's prefix. A second index for the prefixes would be
one more index to update at every claim and outcome of every push."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.dialects import postgresql

from bot.services import Services
from models.needs.details import pushes_about_need
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.push.rows import enqueue_push
from tests.helpers import plan_index_names


@pytest.fixture
def postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the byte-wise operator class and its plans are PostgreSQL's")


@pytest.mark.usefixtures("postgresql_only")
def test_the_key_has_one_index_and_it_is_unique(services: Services) -> None:
    indexes = [
        index
        for index in inspect(services.engine).get_indexes("outbox")
        if index["column_names"] == ["idempotency_key"]
    ]
    assert [(index["name"], index["unique"]) for index in indexes] == [
        ("uq_outbox_idempotency_key", True)
    ]


@pytest.mark.usefixtures("postgresql_only")
def test_a_needs_pushes_are_found_by_the_keys_index(services: Services) -> None:
    statement = pushes_about_need(12).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    with services.engine.connect() as connection, connection.begin():
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}").scalar_one()
    assert "uq_outbox_idempotency_key" in plan_index_names(plan), plan


def test_a_key_is_queued_once(services: Services) -> None:
    push = {
        "recipient_openid": "o-key",
        "kind": PushKind.NEED_STATUS,
        "payload": {"text": {"zh": "好", "en": "OK"}},
        "idempotency_key": "need_status:12:1",
        "now": services.clock(),
    }
    with services.session_factory() as db, db.begin():
        first = enqueue_push(db, **push)
        again = enqueue_push(db, **push)
    assert first is not None and again is None
    with services.session_factory() as db:
        keys = db.scalars(select(OutboxMessage.idempotency_key)).all()
    assert keys == ["need_status:12:1"]
