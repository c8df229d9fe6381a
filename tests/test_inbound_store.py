"""Storing a delivery after it is handled, on either database: the look-up, the store with
its reply, autocommit outside a transaction, rollback inside one, and the second copy."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.services import Services
from models.inbound import NewInbound, enrol, look_up, store, stored_reply
from models.residents import Resident

NOW = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def delivery(
    openid: str,
    key: str,
    content: str | None = "帮助",
    at: datetime = NOW,
    interaction: str | None = "message",
) -> NewInbound:
    return NewInbound(
        openid=openid,
        interaction=interaction,
        dedupe_key=key,
        msg_id=None,
        msg_type="text",
        event=None,
        event_key=None,
        content=content,
        received_at=at,
    )


def test_a_delivery_and_its_reply_are_stored_with_every_value(services: Services) -> None:
    first = delivery("o-store", "k1", None)
    with services.engine.connect() as connection:
        assert look_up(connection, "o-store", "k1").contact is None
        contact = enrol(connection, first)
        assert store(connection, first, contact.resident_id, "你好 & <welcome>")
    assert (contact.openid, contact.language) == ("o-store", None)
    assert not contact.has_held_pushes
    assert not contact.has_open_conversation
    with services.engine.connect() as connection:
        arrival = look_up(connection, "o-store", "k1")
        assert arrival.contact == contact
        assert arrival.answered == "你好 & <welcome>"
        row = connection.execute(
            select(Resident.id, Resident.last_interaction_at).where(Resident.openid == "o-store")
        ).one()
    assert row.id == contact.resident_id
    assert row.last_interaction_at == NOW


def test_a_later_message_moves_the_last_interaction_but_unfollowing_does_not(
    services: Services,
) -> None:
    later = NOW.replace(hour=11)
    with services.engine.connect() as connection:
        contact = enrol(connection, delivery("o-window", "k1"))
        store(connection, delivery("o-window", "k2", at=later), contact.resident_id, "")
        gone = delivery("o-window", "k3", at=later.replace(hour=12), interaction=None)
        store(connection, gone, contact.resident_id, "")
        last = connection.execute(
            select(Resident.last_interaction_at).where(Resident.id == contact.resident_id)
        ).scalar_one()
    assert last == later


def test_outside_a_transaction_each_statement_commits_on_its_own(services: Services) -> None:
    """The webhook's usual message: nothing to commit afterwards, and yet it is kept."""
    alone = delivery("o-alone", "k-alone")
    with services.engine.connect() as connection:
        contact = enrol(connection, alone)
        assert not connection.in_transaction()
        assert store(connection, alone, contact.resident_id, "ok")
        assert not connection.in_transaction()
    with services.engine.connect() as connection:
        assert stored_reply(connection, "k-alone") == "ok"


def test_inside_a_transaction_a_store_is_rolled_back_with_it(services: Services) -> None:
    """How a handler's work and the message it answered commit or vanish together."""
    joined = delivery("o-tx", "k-tx")
    with services.engine.connect() as connection:
        contact = enrol(connection, joined)
        with connection.begin() as transaction:
            assert store(connection, joined, contact.resident_id, "kept?")
            transaction.rollback()
        assert look_up(connection, "o-tx", "k-tx").answered is None


def test_a_second_copy_is_not_stored_and_gets_the_first_reply(services: Services) -> None:
    copy = delivery("o-twice", "k2")
    with services.engine.connect() as connection:
        first = enrol(connection, copy)
        assert store(connection, copy, first.resident_id, "first")
        again = enrol(connection, copy)
        assert not store(connection, copy, again.resident_id, "second")
        assert again.resident_id == first.resident_id
        assert look_up(connection, "o-twice", "k2").answered == "first"
