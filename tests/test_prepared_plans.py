"""Statements that run for every message or batch, as prepared statements: their plans
must find a resident's held pushes and open conversation through the partial indexes
kept for them, not by reading every push the resident was ever queued, and a claimed
batch's residents and a stored batch's senders by key, not by reading every resident."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Connection, Select, select, text
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg

from bot.services import Services
from models.inbound import LOOK_UP, store_batch_statement, store_batch_values
from models.push.claims import claim_statement
from models.push.policy import HELD_FOR_REPLY
from models.residents import Resident
from tests.helpers import plan_index_names
from tests.test_inbound_store import delivery


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("prepared statements' generic plans are PostgreSQL's")


def prepared_plan(
    connection: Connection,
    statement: Select[Any],
    values: dict[str, Any],
    *,
    generic: bool = True,
    analyze: bool = False,
    seqscan: bool = False,
) -> Any:
    """The plan of the statement prepared, generic (the one PostgreSQL may settle on after
    five executions) or custom (planned for the values, as the first five are), as JSON;
    run (``analyze``) inside a transaction that is rolled back. Sequential scans are off
    unless ``seqscan``, so that the test's near-empty tables do not make a scan the
    cheapest plan."""
    compiled = statement.compile(dialect=postgresql_psycopg.dialect(paramstyle="numeric_dollar"))
    bound = compiled.construct_params(values)
    arguments = sql.SQL(", ").join(
        sql.Literal(str(bound[name])) for name in compiled.positiontup or ()
    )
    options = sql.SQL("ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON")
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with connection.begin() as transaction:
        mode = "force_generic_plan" if generic else "force_custom_plan"
        connection.exec_driver_sql(f"SET LOCAL plan_cache_mode = {mode}")
        if not seqscan:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("PREPARE checked_plan AS " + compiled.string)
        explain = sql.SQL("EXPLAIN ({}) EXECUTE checked_plan({})").format(options, arguments)
        plan = connection.exec_driver_sql(explain.as_string(driver)).scalar_one()
        connection.exec_driver_sql("DEALLOCATE checked_plan")
        transaction.rollback()
    return plan


def generic_plan_indexes(
    connection: Connection, statement: Select[Any], values: dict[str, Any]
) -> set[str]:
    """The indexes the statement's generic plan reads."""
    return plan_index_names(prepared_plan(connection, statement, values))


def rows_read(node: Any, relation: str) -> float:
    """How many rows of ``relation`` the analyzed plan's scans read, filtered out or not."""
    if isinstance(node, list):
        return sum(rows_read(item, relation) for item in node)
    if not isinstance(node, dict):
        return 0
    own = 0.0
    if node.get("Relation Name") == relation:
        per_loop = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        own = per_loop * node.get("Actual Loops", 1)
    return own + sum(rows_read(value, relation) for value in node.values())


def test_the_arrival_look_up_reads_held_pushes_and_open_conversations_by_partial_index(
    services: Services,
) -> None:
    with services.engine.connect() as connection:
        indexes = generic_plan_indexes(
            connection, LOOK_UP, {"openid": "o-plan", "dedupe_key": "k-plan"}
        )
    assert {"ix_outbox_held_resident_id", "uq_conversation_open_resident_id"} <= indexes, indexes


def test_taking_held_pushes_for_a_reply_reads_them_by_partial_index(services: Services) -> None:
    values = {"resident_id": 1, "now": "2026-12-01T00:00:00+00:00", "limit": 3}
    with services.engine.connect() as connection:
        indexes = generic_plan_indexes(connection, HELD_FOR_REPLY, values)
    assert "ix_outbox_held_resident_id" in indexes, indexes


def test_a_claim_reads_its_batchs_residents_and_no_others(services: Services) -> None:
    """A plain join let the planner hash the batch and read every resident at each claim
    while the table held fewer than some tens of thousands of rows."""
    residents, batch = 2_000, 100
    now = services.clock()
    with services.engine.begin() as connection:
        _add_residents(connection, residents)
        connection.execute(
            text(
                "INSERT INTO outbox (resident_id, recipient_openid, kind, payload,"
                " idempotency_key, status, attempts, next_attempt_at, created_at)"
                " SELECT id, openid, 'need_status', '{}', 'need_status:' || id, 'pending', 0,"
                " :now, :now FROM resident ORDER BY id LIMIT :batch"
            ),
            {"now": now, "batch": batch},
        )
        connection.exec_driver_sql("ANALYZE resident")
        connection.exec_driver_sql("ANALYZE outbox")
    values = {
        "now": now,
        "limit": batch,
        "paused": [],
        "lease_until": now + timedelta(minutes=5),
    }
    for generic in (False, True):
        with services.engine.connect() as connection:
            plan = prepared_plan(
                connection,
                claim_statement(paused=False),
                values,
                generic=generic,
                analyze=True,
                seqscan=True,
            )
        assert rows_read(plan, "resident") <= batch, plan


def test_a_stored_batch_reads_its_senders_and_no_others(services: Services) -> None:
    """PostgreSQL expects 100 rows of a JSON record set; joined to a batch that large, the
    group store hashed it and read every resident twice a batch."""
    with services.engine.begin() as connection:
        _add_residents(connection, 2_000)
        connection.exec_driver_sql("ANALYZE resident")
        senders = connection.execute(
            select(Resident.openid, Resident.id).where(
                Resident.openid.in_(["o-7", "o-300", "o-1500"])
            )
        ).all()
    handled = [(delivery(openid, f"k-plan-{openid}"), id_, "") for openid, id_ in senders]
    assert len(handled) == 3
    for generic in (False, True):
        with services.engine.connect() as connection:
            plan = prepared_plan(
                connection,
                store_batch_statement(),
                store_batch_values(handled),
                generic=generic,
                analyze=True,
                seqscan=True,
            )
        # Each sender read twice: locked, then touched.
        assert rows_read(plan, "resident") <= 2 * len(handled), plan


def _add_residents(connection: Connection, count: int) -> None:
    """Residents o-1 .. o-``count``."""
    connection.execute(
        text(
            "INSERT INTO resident (openid, subscribed, language, broadcast_opt_out,"
            " created_at) SELECT 'o-' || g, true, 'zh', false, now()"
            " FROM generate_series(1, :count) g"
        ),
        {"count": count},
    )
