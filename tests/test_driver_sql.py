"""The webhook's hot statements on psycopg's cursor behave as ``Connection.execute`` would.

A lost connection (retried by the webhook) is covered in tests/test_webhook.py; here the
rows, the bound values and the errors.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError, StatementError

from bot.services import Services
from models import driver_sql
from models.inbound import NewInbound, record_delivery, record_reply, stored_reply
from models.residents import Resident

NOW = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("driver_sql runs on PostgreSQL only; SQLite keeps Connection.execute")


def _delivery(
    openid: str, key: str, content: str | None = "帮助", at: datetime = NOW
) -> NewInbound:
    return NewInbound(
        openid=openid,
        interaction="message",
        dedupe_key=key,
        msg_id=None,
        msg_type="text",
        event=None,
        event_key=None,
        content=content,
        received_at=at,
    )


def test_a_delivery_and_its_reply_are_stored_with_every_value(services: Services) -> None:
    with services.engine.begin() as connection:
        contact, inbound_id = record_delivery(connection, _delivery("o-driver", "k1", None))
        assert inbound_id is not None
        record_reply(connection, inbound_id, "你好 & <welcome>")
    assert contact.openid == "o-driver"
    assert contact.language is None
    assert contact.has_held_pushes is False
    with services.engine.connect() as connection:
        assert stored_reply(connection, "k1") == "你好 & <welcome>"
        row = connection.execute(
            select(Resident.id, Resident.last_interaction_at).where(Resident.openid == "o-driver")
        ).one()
    assert row.id == contact.resident_id
    assert row.last_interaction_at == NOW


def test_a_resend_returns_the_same_resident_and_no_new_row(services: Services) -> None:
    with services.engine.begin() as connection:
        first, first_id = record_delivery(connection, _delivery("o-twice", "k2"))
    with services.engine.begin() as connection:
        again, again_id = record_delivery(connection, _delivery("o-twice", "k2"))
    assert first_id is not None
    assert again_id is None
    assert again.resident_id == first.resident_id


def test_a_database_error_is_sqlalchemys_and_leaves_the_connection_usable(
    services: Services,
) -> None:
    clash = update(Resident).where(Resident.id == bindparam("id")).values(openid=bindparam("to"))
    with services.engine.begin() as connection:
        a, _ = record_delivery(connection, _delivery("o-a", "k3"))
        record_delivery(connection, _delivery("o-b", "k4"))
    with services.engine.connect() as connection:
        with pytest.raises(IntegrityError) as raised:
            driver_sql.execute(connection, clash, {"id": a.resident_id, "to": "o-b"})
        assert not raised.value.connection_invalidated
        connection.rollback()
        assert stored_reply(connection, "k3") is None


def test_a_statement_that_returns_no_row_says_so(services: Services) -> None:
    nothing = select(Resident.id).where(Resident.openid == bindparam("openid"))
    with services.engine.connect() as connection, pytest.raises(LookupError):
        driver_sql.fetch_one(connection, nothing, {"openid": "nobody"})


def test_column_types_still_check_what_is_bound(services: Services) -> None:
    """UTCDateTime refuses a naive time on this path too, before anything is sent."""
    naive = _delivery("o-naive", "k5", at=NOW.replace(tzinfo=None))
    with services.engine.begin() as connection, pytest.raises(StatementError, match="naive"):
        record_delivery(connection, naive)
    with services.engine.connect() as connection:
        assert (
            connection.execute(select(Resident.id).where(Resident.openid == "o-naive")).all() == []
        )
