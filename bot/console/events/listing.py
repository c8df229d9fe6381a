"""The events list: upcoming, past or drafts, narrowed by tag and village (and, for a
partner, to its own events), each with its places taken. The filter form narrows the
list in place with htmx and the address keeps the filter."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import gettext

from bot.console.context import now, request_db, services
from bot.console.events.access import partner_scope
from bot.console.villages import chosen_village
from models.events.listing import EventFilter, EventListing, staff_events
from models.events.queries import occupancies
from models.events.tables import EventStatus
from models.tags.queries import all_tags
from models.villages.queries import active_villages, all_villages

LISTING_TEXT_KEYS = {
    EventListing.UPCOMING: "console_events_upcoming",
    EventListing.PAST: "console_events_past",
    EventListing.DRAFTS: "console_events_drafts",
}

STATUS_TEXT_KEYS = {
    EventStatus.DRAFT: "console_event_status_draft",
    EventStatus.PUBLISHED: "console_event_status_published",
    EventStatus.CANCELLED: "console_event_status_cancelled",
    EventStatus.FINISHED: "console_event_status_finished",
}


def event_names() -> dict[str, Any]:
    """What the events pages name in the reader's language (a context processor)."""
    return {
        "status_name": lambda status: gettext(STATUS_TEXT_KEYS[EventStatus(status)]),
        "config_zone": services().config.bot.timezone,
    }


def wanted_events() -> EventFilter:
    """The filter the address asks for; anything unknown narrows nothing."""
    listing = request.args.get("show", "")
    return EventFilter(
        listing=EventListing(listing) if listing in tuple(EventListing) else EventListing.UPCOMING,
        tag=request.args.get("tag", "").strip(),
        village_id=chosen_village(),
        partner_id=partner_scope(),
    )


def index() -> str:
    db = request_db()
    wanted = wanted_events()
    events = staff_events(db, wanted, now())
    return render_template(
        "console/events/list.html",
        events=events,
        taken=occupancies(db, events),
        wanted=wanted,
        listings=LISTING_TEXT_KEYS,
        tags=all_tags(db),
        villages=active_villages(db),
        village_names={entry.id: entry.label for entry in all_villages(db)},
    )
