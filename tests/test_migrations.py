"""Migrations read like history: one head, reversible, and matching the models."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect, text

from models import Base
from models.db import make_engine
from models.migrate import downgrade, heads, upgrade
from tests.databases import create_postgres_database, drop_postgres_database


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    server = os.environ.get("AIXIANG_TEST_DATABASE_URL")
    if server:
        url = create_postgres_database(server)
        yield url
        drop_postgres_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"


def test_single_head() -> None:
    assert len(heads()) == 1


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    upgrade(empty_database)
    downgrade(empty_database, "base")
    upgrade(empty_database)


def test_migrations_match_the_models(empty_database: str) -> None:
    upgrade(empty_database)
    engine = make_engine(empty_database)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_migrated_checks_match_the_models(empty_database: str) -> None:
    """Alembic's comparison leaves CHECK constraints out; the vocabulary checks are built
    from enums, so a new value must come with a migration. Compared by name and by the
    quoted values each allows (PostgreSQL rewrites the expression, SQLite keeps it)."""

    def allowed(sql: str) -> list[str]:
        return sorted(re.findall(r"'([^']*)'", sql))

    upgrade(empty_database)
    engine = make_engine(empty_database)
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        declared = {
            str(check.name): allowed(str(check.sqltext))
            for check in table.constraints
            if isinstance(check, CheckConstraint)
        }
        migrated = {
            str(check["name"]): allowed(check["sqltext"])
            for check in inspector.get_check_constraints(table.name)
        }
        assert migrated == declared, table.name
    engine.dispose()


def test_contact_consent_is_taken_from_the_time_recorded_before(empty_database: str) -> None:
    """0008 splits contact consent from the needs notice; residents who had contact
    details keep a consent time for them, the others get none."""
    upgrade(empty_database, "0007_held_index")
    engine = make_engine(empty_database)
    agreed = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO resident (openid, subscribed, broadcast_opt_out, name, mobile,"
                " privacy_consent_at, created_at) VALUES"
                " ('o-contact', true, false, '张三', '13812345678', :agreed, :agreed),"
                " ('o-needs-only', true, false, NULL, NULL, :agreed, :agreed)"
            ),
            {"agreed": agreed},
        )
    upgrade(empty_database)
    with engine.connect() as connection:
        rows = dict(
            connection.execute(text("SELECT openid, contact_consent_at FROM resident")).all()
        )
    engine.dispose()
    assert rows["o-needs-only"] is None
    stored = rows["o-contact"]
    stored = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    assert stored.replace(tzinfo=stored.tzinfo or UTC) == agreed


def test_down_and_up_again_with_rows_that_reference_each_other(empty_database: str) -> None:
    """SQLite rebuilds a table to change it; with rows pointing at it (a resident's
    messages), the rebuild must not trip over the foreign keys, and nothing is lost."""
    upgrade(empty_database)
    engine = make_engine(empty_database)
    now = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    with engine.begin() as connection:
        resident_id = connection.execute(
            text(
                "INSERT INTO resident (openid, subscribed, broadcast_opt_out, name, mobile,"
                " contact_consent_at, created_at) VALUES"
                " ('o-1', true, false, '张三', '13812345678', :now, :now) RETURNING id"
            ),
            {"now": now},
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO inbound_message (resident_id, dedupe_key, msg_type, received_at)"
                " VALUES (:resident, 'msg:1', 'text', :now)"
            ),
            {"resident": resident_id, "now": now},
        )
    engine.dispose()
    downgrade(empty_database, "0007_held_index")
    upgrade(empty_database)
    engine = make_engine(empty_database)
    with engine.connect() as connection:
        consent = connection.execute(text("SELECT contact_consent_at FROM resident")).scalar_one()
        messages = connection.execute(text("SELECT count(*) FROM inbound_message")).scalar_one()
    engine.dispose()
    assert consent is not None  # kept in the one consent column 0007 had, and taken back
    assert messages == 1


_OUTBOX = sa.table(
    "outbox",
    sa.column("id", sa.Integer),
    sa.column("recipient_openid", sa.String),
    sa.column("kind", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("idempotency_key", sa.String),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def test_queued_mass_rows_store_the_intent_instead_of_wechats_request(
    empty_database: str,
) -> None:
    """0012 turns a queued mass row's WeChat request into its intent, and back down; rows
    already sent keep the request they were sent with."""
    upgrade(empty_database, "0012_push_vocabulary")
    engine = make_engine(empty_database)
    texts = {"zh": "周六大扫除", "en": "Clean-up on Saturday"}
    fields = {"broadcast_id": 7, "event_id": None}
    tag_send = {
        "request": {
            "msgtype": "text",
            "text": {"content": "周六大扫除\n\nClean-up on Saturday"},
            "clientmsgid": "aixiang-b7-r1",
            "filter": {"is_to_all": False},
        },
        "text": texts,
        "fields": fields,
        "tag": {"name": "aixiang-20260501-b7", "openids": ["o-1", "o-2"]},
    }
    english_list = {
        "request": {
            "msgtype": "text",
            "text": {"content": "Clean-up on Saturday"},
            "clientmsgid": "aixiang-b7-r2",
            "touser": ["o-3", "o-4"],
        },
        "text": texts,
        "fields": fields,
    }
    sent = {**english_list, "request": {**english_list["request"], "clientmsgid": "x"}}
    at = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    with engine.begin() as connection:
        for number, (status, payload) in enumerate(
            [("pending", tag_send), ("failed", english_list), ("sent", sent)], start=1
        ):
            connection.execute(
                _OUTBOX.insert().values(
                    id=number,
                    recipient_openid="all",
                    kind="mass",
                    payload=payload,
                    idempotency_key=f"broadcast:7:mass:{number}",
                    status=status,
                    attempts=0,
                    next_attempt_at=at,
                    created_at=at,
                )
            )

    def payloads() -> dict[int, Any]:
        with engine.connect() as connection:
            return dict(connection.execute(sa.select(_OUTBOX.c.id, _OUTBOX.c.payload)).all())

    upgrade(empty_database)
    converted = payloads()
    assert converted[1] == {
        "text": texts,
        "fields": fields,
        "language": "both",
        "target": {"to": "tag", "tag": "aixiang-20260501-b7", "openids": ["o-1", "o-2"]},
        "send_id": "aixiang-b7-r1",
    }
    assert converted[2] == {
        "text": texts,
        "fields": fields,
        "language": "en",
        "target": {"to": "openids", "openids": ["o-3", "o-4"]},
        "send_id": "aixiang-b7-r2",
    }
    assert converted[3] == sent
    downgrade(empty_database, "0012_push_vocabulary")
    assert payloads() == {1: tag_send, 2: english_list, 3: sent}
    engine.dispose()


def test_the_migration_counts_needs_already_linked(empty_database: str) -> None:
    """0024 adds need.demand to a database with needs linked already: each original's
    other residents counted once, an erased need as one of its own."""
    upgrade(empty_database, "0021_console_search_indexes")
    engine = make_engine(empty_database)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as connection:
        for openid in ("o-a", "o-b"):
            connection.execute(
                text(
                    "INSERT INTO resident (openid, subscribed, broadcast_opt_out, created_at)"
                    " VALUES (:openid, true, false, :now)"
                ),
                {"openid": openid, "now": now},
            )
        # need 1 (o-a) and what was merged into it: o-a again, o-b twice, two erased needs
        rows = [(1, 1, None), (2, 1, 1), (3, 2, 1), (4, 2, 1), (5, None, 1), (6, None, 1)]
        for need_id, resident_id, duplicate_of_id in rows:
            connection.execute(
                text(
                    "INSERT INTO need (id, resident_id, category, status, duplicate_of_id,"
                    " updated_at, created_at) VALUES (:id, :resident, 'environment',"
                    " :status, :original, :now, :now)"
                ),
                {
                    "id": need_id,
                    "resident": resident_id,
                    "status": "duplicate" if duplicate_of_id else "submitted",
                    "original": duplicate_of_id,
                    "now": now,
                },
            )
    engine.dispose()
    upgrade(empty_database)
    engine = make_engine(empty_database)
    with engine.connect() as connection:
        demand = dict(connection.execute(text("SELECT id, demand FROM need")).all())
    engine.dispose()
    assert demand == {1: 4, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1}  # o-a, o-b and the two erased


def test_the_free_text_tags_are_carried_into_the_tag_list(empty_database: str) -> None:
    """0025 makes a tag of each distinct event tag: key and names its text, the four the
    chat translated keeping their Chinese name unless another tag is called so; events
    keep their tags, now referencing the list, and the documented query still groups
    by event_tag.tag."""
    upgrade(empty_database, "0024_need_demand")
    engine = make_engine(empty_database)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    tagged = {1: ["elderly", "长者"], 2: ["elderly", "women", "gardening"], 3: ["children"]}
    with engine.begin() as connection:
        for event_id, tags in tagged.items():
            connection.execute(
                text(
                    "INSERT INTO event (id, title, description, place, starts_at, capacity,"
                    " max_party_size, contact_required, status, created_at) VALUES (:id, 't',"
                    " '', '', :now, 5, 1, false, 'published', :now)"
                ),
                {"id": event_id, "now": now},
            )
            for tag in tags:
                connection.execute(
                    text("INSERT INTO event_tag (event_id, tag) VALUES (:id, :tag)"),
                    {"id": event_id, "tag": tag},
                )
    engine.dispose()
    upgrade(empty_database)
    engine = make_engine(empty_database)
    with engine.connect() as connection:
        carried = connection.execute(
            text("SELECT key, name_zh, name_en, active FROM tag ORDER BY key")
        ).all()
        grouped = connection.execute(
            text("SELECT tag, count(*) FROM event_tag GROUP BY tag ORDER BY tag")
        ).all()
        names = dict(
            connection.execute(
                text(
                    "SELECT t.key, string_agg(DISTINCT e.event_id::text, ',') FROM event_tag e"
                    " JOIN tag t ON t.key = e.tag GROUP BY t.key"
                    if engine.dialect.name == "postgresql"
                    else "SELECT t.key, group_concat(DISTINCT e.event_id) FROM event_tag e"
                    " JOIN tag t ON t.key = e.tag GROUP BY t.key"
                )
            ).all()
        )
    assert [tuple(row) for row in carried] == [
        ("children", "儿童", "children", True),
        # 长者 is a tag of its own already, so elderly keeps its text as its Chinese name.
        ("elderly", "elderly", "elderly", True),
        ("gardening", "gardening", "gardening", True),
        ("women", "女性", "women", True),
        ("长者", "长者", "长者", True),
    ]
    assert [tuple(row) for row in grouped] == [
        ("children", 1),
        ("elderly", 2),
        ("gardening", 1),
        ("women", 1),
        ("长者", 1),
    ]
    assert names["elderly"] == "1,2"
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO event_tag (event_id, tag) VALUES (3, 'nobody')"))
    engine.dispose()
    downgrade(empty_database, "0024_need_demand")
    engine = make_engine(empty_database)
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT count(*) FROM event_tag")).scalar_one()
    engine.dispose()
    assert kept == 6
