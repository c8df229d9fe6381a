"""Calling an event off from the console: the page asking for the reason says how many
residents will be told (the confirmation), and the cancellation goes through only with
that count, as ``aixiang events cancel`` does it (models/events/staff.py cancel_event)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.context import now, request_db
from bot.console.events.access import actor, club_tz, manages_events, visible_event
from bot.console.events.refusals import refusal_field, refusal_text
from models.events.audit_entries import audit_cancelled
from models.events.errors import EventError
from models.events.listing import residents_to_tell
from models.events.staff import cancel_event
from models.events.tables import Event


def _page(event: Event, reason: str = "", error: str = "", reason_error: str = "") -> str:
    return render_template(
        "console/events/cancel.html",
        event=event,
        reason=reason,
        to_tell=residents_to_tell(request_db(), event),
        error=error,
        reason_error=reason_error,
    )


@manages_events
def cancel_form(event_id: int) -> str:
    return _page(visible_event(event_id))


@manages_events
def cancel(event_id: int) -> ResponseReturnValue:
    event = visible_event(event_id)
    reason = request.form.get("reason", "").strip()
    db = request_db()
    status = event.status
    if request.form.get("told") != str(residents_to_tell(db, event)):
        # Someone signed up or cancelled since the page was shown: ask again with the count.
        return _page(event, reason, error=gettext("console_event_count_changed")), 409
    try:
        told = cancel_event(db, event.id, reason, now(), club_tz())
    except EventError as error:
        db.rollback()
        event = visible_event(event_id)
        if refusal_field(error) == "reason":
            return _page(event, reason, reason_error=refusal_text(error)), 400
        return _page(event, reason, error=refusal_text(error)), 400
    audit_cancelled(db, actor(), visible_event(event_id), status, told, now())
    db.commit()
    flash(gettext("console_event_cancelled").format(number=event_id, count=told))
    return redirect(url_for("console.events.roster_page", event_id=event_id))
