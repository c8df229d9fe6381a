"""Who sees which events: staff, admins, the foundation and viewers every one; a partner
only those its organisation co-hosts (event_partner), any other being "not found" to it
rather than "forbidden", which would tell it the event exists."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort

from bot.console.auth import requires
from bot.console.context import account, request_db, services
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.audit import Actor
from models.base import ID_MAX
from models.events.errors import EventError
from models.events.listing import kept_to, visible_to
from models.events.queries import get_event
from models.events.tables import Event

manages_events = requires(Permission.MANAGE_EVENTS)
checks_in = requires(Permission.CHECK_IN)


def partner_scope() -> int | None:
    """The organisation a partner account is kept to; None for every other role."""
    return kept_to(account())


def visible_event(event_id: int) -> Event:
    """The event the signed-in account may see, or 404."""
    if event_id > ID_MAX:
        abort(404)
    db = request_db()
    try:
        event = get_event(db, event_id)
    except EventError:
        abort(404)
    if not visible_to(db, event.id, account()):
        abort(404)
    return event


def club_tz() -> ZoneInfo:
    return services().config.bot.tz


def actor() -> Actor:
    """The audit log's author: the signed-in account."""
    return actor_for(account())
