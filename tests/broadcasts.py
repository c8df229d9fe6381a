"""Residents for a broadcast's preview: one in each state the channel that would reach
them depends on, and two its audience leaves out."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.services import Services
from models.push.consents import record_consents
from models.residents import Resident
from tests.pushes import add_resident

# The subscription notice the consenting resident accepted.
SUBSCRIBE_TEMPLATE = "SUB-B"


def residents(services: Services, now_at: datetime) -> None:
    """One resident in each state a channel depends on, and two the audience leaves out."""
    add_resident(services, "o-wrote", last_seen=now_at - timedelta(hours=1))
    add_resident(services, "o-tapped", last_seen=now_at - timedelta(seconds=20), kind="tap")
    add_resident(services, "o-tapped-long-ago", last_seen=now_at - timedelta(minutes=5), kind="tap")
    add_resident(services, "o-away", last_seen=now_at - timedelta(days=3))
    consenting = add_resident(services, "o-consented", last_seen=now_at - timedelta(days=3))
    add_resident(services, "o-gone", last_seen=now_at, subscribed=False)
    quiet = add_resident(services, "o-quiet", last_seen=now_at)
    with services.session_factory() as db, db.begin():
        record_consents(db, consenting, [SUBSCRIBE_TEMPLATE], now_at - timedelta(days=3))
        db.get_one(Resident, quiet).broadcast_opt_out = True
