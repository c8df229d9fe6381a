"""Statements that run for every message, as prepared statements: their generic plans
must find a resident's held pushes and open conversation through the partial indexes
kept for them, not by reading every push the resident was ever queued."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Connection, Select
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg

from bot.services import Services
from models.inbound import LOOK_UP
from models.push.policy import HELD_FOR_REPLY
from tests.helpers import plan_index_names


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("prepared statements' generic plans are PostgreSQL's")


def generic_plan_indexes(
    connection: Connection, statement: Select[Any], values: dict[str, Any]
) -> set[str]:
    """The indexes the statement's generic plan reads, with sequential scans off so that
    the test's near-empty tables do not make a scan the cheapest plan."""
    compiled = statement.compile(dialect=postgresql_psycopg.dialect(paramstyle="numeric_dollar"))
    bound = compiled.construct_params(values)
    arguments = sql.SQL(", ").join(
        sql.Literal(str(bound[name])) for name in compiled.positiontup or ()
    )
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with connection.begin():
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("PREPARE checked_plan AS " + compiled.string)
        explain = sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE checked_plan({})").format(arguments)
        plan = connection.exec_driver_sql(explain.as_string(driver)).scalar_one()
        connection.exec_driver_sql("DEALLOCATE checked_plan")
    return plan_index_names(plan)


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
