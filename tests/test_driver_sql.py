"""The webhook's hot statements on psycopg's cursor behave as ``Connection.execute`` would.

A lost connection (retried by the webhook) is covered in tests/test_webhook.py; here the
rows, the bound values, the errors, and when a statement commits on its own.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import String, bindparam, literal_column, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from bot.services import Services
from models import driver_sql
from models.db import make_engine
from models.inbound import enrol, look_up
from models.residents import Resident
from tests.test_inbound_store import NOW, delivery


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("driver_sql runs on PostgreSQL only; SQLite keeps Connection.execute")


def test_a_statement_outside_a_transaction_sends_no_begin(services: Services) -> None:
    """Autocommitted: psycopg is idle afterwards, and back to opening transactions."""
    with services.engine.connect() as connection:
        enrol(connection, delivery("o-alone", "k-alone"))
        driver = connection.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert driver.autocommit is False


def test_a_database_error_is_sqlalchemys_and_leaves_the_connection_usable(
    services: Services,
) -> None:
    clash = (
        update(Resident)
        .where(Resident.id == bindparam("id"))
        .values(openid=bindparam("to"))
        .returning(Resident.id)
    )
    with services.engine.connect() as connection:
        a = enrol(connection, delivery("o-a", "k3"))
        enrol(connection, delivery("o-b", "k4"))
        with pytest.raises(IntegrityError) as raised:
            driver_sql.first_row(connection, clash, {"id": a.resident_id, "to": "o-b"})
        assert not raised.value.connection_invalidated
        assert look_up(connection, "o-a", "k3").contact == a


def test_a_statement_that_returns_no_row_says_so(services: Services) -> None:
    nothing = select(Resident.id).where(Resident.openid == bindparam("openid"))
    with services.engine.connect() as connection:
        assert driver_sql.first_row(connection, nothing, {"openid": "nobody"}) is None


def test_column_types_still_check_what_is_bound(services: Services) -> None:
    """UTCDateTime refuses a naive time on this path too, before anything is sent."""
    naive = delivery("o-naive", "k5", at=NOW.replace(tzinfo=None))
    with services.engine.connect() as connection, pytest.raises(StatementError, match="naive"):
        enrol(connection, naive)
    with services.engine.connect() as connection:
        assert (
            connection.execute(select(Resident.id).where(Resident.openid == "o-naive")).all() == []
        )


def test_a_failed_statement_never_shows_its_parameters(services: Services) -> None:
    """The engine hides parameters from its errors; the cursor path must too, or a failed
    store puts a resident's words and phone number in the logs."""
    failing = select(literal_column("1/0"), bindparam("words", type_=String))
    with services.engine.connect() as connection, pytest.raises(StatementError) as raised:
        driver_sql.first_row(connection, failing, {"words": "我家住3号楼502 手机13800001111"})
    assert "13800001111" not in str(raised.value)


def test_a_lost_connection_closes_the_pools_idle_connections(services: Services) -> None:
    """A restarted server dropped them all: they are closed with the pool, not left to
    hold their sockets until the garbage collector finds them."""
    engine = make_engine(services.config.database.url)
    with engine.connect() as lost:
        with engine.connect() as idle:  # back in the pool at the end of this block
            kept = idle.connection.dbapi_connection
        assert kept is not None and not kept.closed
        backend = lost.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        with services.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        nothing = select(Resident.id).where(Resident.openid == bindparam("openid"))
        with pytest.raises(DBAPIError) as raised:
            driver_sql.first_row(lost, nothing, {"openid": "nobody"})
    assert raised.value.connection_invalidated
    assert kept.closed
    engine.dispose()


def test_a_lost_connection_leaves_no_connection_outside_the_pool(services: Services) -> None:
    """A connection another thread had checked out when one was found lost goes back to
    the engine's pool, so closing the engine closes it; it is never left open for the
    garbage collector (psycopg's ResourceWarning, which fails a test that happens to be
    running then)."""
    engine = make_engine(services.config.database.url)
    busy = engine.connect()
    busy.execute(text("SELECT 1"))
    held = busy.connection.dbapi_connection
    with engine.connect() as lost:
        backend = lost.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        with services.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        nothing = select(Resident.id).where(Resident.openid == bindparam("openid"))
        with pytest.raises(DBAPIError):
            driver_sql.first_row(lost, nothing, {"openid": "nobody"})
    busy.close()
    engine.dispose()
    assert held is not None and held.closed
