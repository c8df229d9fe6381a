"""An event's roster at the door: who is confirmed (party size, contact details where
given), the waitlist in order, who came and who walked in, by name where known; and
checking people in from a phone, by the 6-digit code a resident shows, by tapping their
row, or several rows at once, and adding a walk-in who is not a follower by hand. Each
check-in is ``aixiang events checkin``'s operation (models/events/checkin.py, a walk-in
by hand ``add_walk_in``), audited with the signed-in account.

A check-in answers htmx with the roster's lists drawn again (so counts and rows stay
true), and a plain form post with the page. Several rows at once go in together or not at
all: a refused one names the resident and leaves everyone as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.orm import Session

from bot.console.context import now, request_db
from bot.console.events.access import actor, checks_in, visible_event
from bot.console.events.refusals import refusal_field, refusal_text
from models.accounts.roles import Permission
from models.base import ID_MAX
from models.events.audit_entries import audit_checked_in
from models.events.checkin import CheckInResult, add_walk_in, check_in, check_in_by_code
from models.events.errors import EventError
from models.events.queries import occupancy, roster
from models.events.tables import CHECKIN_CODE_DIGITS, CheckinMethod, Event, Signup
from models.villages.queries import village_entry

# The walk-in form's fields, as the form names them.
WALK_IN_FIELDS = ("walk_in_name", "walk_in_phone", "walk_in_party")


def _lists(event: Event) -> dict[str, Any]:
    """What the roster's lists show of ``event``."""
    db = request_db()
    found = roster(db, event.id)
    return {
        "event": found.event,
        "roster": found,
        "checked_in": {row.resident_id: row for row in found.attendance},
        "walk_ins": [row for row in found.attendance if row.walk_in],
        "taken": occupancy(db, found.event),
        "show_contact": current_user.can(Permission.CHECK_IN),
        "village": village_entry(db, found.event.village_id),
    }


def roster_page(event_id: int) -> str:
    return render_template("console/events/roster.html", **_lists(visible_event(event_id)))


def _answer(
    event_id: int, message: str, *, refused: bool, field_errors: dict[str, str] | None = None
) -> ResponseReturnValue:
    """The lists again with what happened (htmx), or the page with it (a plain post). A
    mistake in the walk-in form (a plain post) is said on the page next to its field, with
    what was typed kept."""
    if field_errors:
        values = {field: request.form.get(field, "") for field in WALK_IN_FIELDS}
        page = render_template(
            "console/events/roster.html",
            field_errors=field_errors,
            walk_in=values,
            **_lists(visible_event(event_id)),
        )
        return page, 400
    if request.headers.get("HX-Request"):
        lists = render_template(
            "console/events/roster_lists.html",
            message=message,
            refused=refused,
            **_lists(visible_event(event_id)),
        )
        return lists, 409 if refused else 200
    flash(message)
    return redirect(url_for("console.events.roster_page", event_id=event_id))


def _said(result: CheckInResult) -> str:
    attendance = result.attendance
    who = attendance.name or (attendance.resident.openid if attendance.resident else "")
    if not result.first_time:
        return gettext("console_checkin_already").format(name=who)
    if attendance.walk_in:
        return gettext("console_checkin_walk_in").format(name=who)
    return gettext("console_checkin_done").format(name=who, party=attendance.party_size)


def _signup_of(event: Event, signup_id: int) -> Signup:
    """A sign-up of this event (one of another event is not found here)."""
    signup = request_db().get(Signup, signup_id) if signup_id <= ID_MAX else None
    if signup is None or signup.event_id != event.id:
        abort(404)
    return signup


@checks_in
def check_in_row(event_id: int, signup_id: int) -> ResponseReturnValue:
    """A tap on a row of the confirmed list or of the waitlist."""
    event = visible_event(event_id)
    signup = _signup_of(event, signup_id)
    return _checked_in(
        event_id, lambda db: check_in(db, event.id, signup.resident, CheckinMethod.STAFF, now())
    )


@checks_in
def check_in_code(event_id: int) -> ResponseReturnValue:
    """The code a resident shows, typed at the door."""
    event = visible_event(event_id)
    code = request.form.get("code", "").strip()
    if len(code) != CHECKIN_CODE_DIGITS or not code.isdecimal() or not code.isascii():
        return _answer(event_id, gettext("console_checkin_code_bad"), refused=True)
    return _checked_in(event_id, lambda db: check_in_by_code(db, event.id, code, now()))


def _checked_in(event_id: int, attempt: Callable[[Session], CheckInResult]) -> ResponseReturnValue:
    """One check-in, audited under the account and committed, answered with what
    happened; a refusal rolls back and changes nothing."""
    db = request_db()
    try:
        result = attempt(db)
    except EventError as error:
        db.rollback()
        return _answer(event_id, refusal_text(error), refused=True)
    audit_checked_in(db, actor(), result, now())
    db.commit()
    return _answer(event_id, _said(result), refused=False)


@checks_in
def add_walk_in_by_hand(event_id: int) -> ResponseReturnValue:
    """Someone who came without signing up and is not a follower: their name, phone if
    they give one, and how many came together."""
    event = visible_event(event_id)
    form = request.form
    party = form.get("walk_in_party", "1").strip()
    db = request_db()
    try:
        result = add_walk_in(
            db,
            event.id,
            form.get("walk_in_name", ""),
            form.get("walk_in_phone", ""),
            int(party) if party.isdecimal() and len(party) <= len(str(ID_MAX)) else 0,
            now(),
        )
    except EventError as error:
        db.rollback()
        field = refusal_field(error)
        if field is not None:
            return _answer(event_id, "", refused=True, field_errors={field: refusal_text(error)})
        return _answer(event_id, refusal_text(error), refused=True)
    audit_checked_in(db, actor(), result, now())
    db.commit()
    added = gettext("console_walk_in_added").format(
        name=result.attendance.name, party=result.attendance.party_size
    )
    return _answer(event_id, added, refused=False)


@checks_in
def check_in_selected(event_id: int) -> ResponseReturnValue:
    """The ticked rows, together or not at all."""
    event = visible_event(event_id)
    numbers = request.form.getlist("signup")
    if not numbers:
        return _answer(event_id, gettext("console_checkin_none_selected"), refused=True)
    if not all(number.isdecimal() and number.isascii() for number in numbers):
        abort(400)
    db = request_db()
    signups = [_signup_of(event, int(number)) for number in dict.fromkeys(numbers)]
    came = 0
    for signup in signups:
        try:
            result = check_in(db, event.id, signup.resident, CheckinMethod.STAFF, now())
        except EventError as error:
            db.rollback()
            who = signup.resident.name or signup.resident.openid
            message = gettext("console_checkin_selected_refused").format(
                name=who, reason=refusal_text(error)
            )
            return _answer(event_id, message, refused=True)
        audit_checked_in(db, actor(), result, now())
        came += int(result.first_time)
    db.commit()
    return _answer(event_id, gettext("console_checkin_selected").format(count=came), refused=False)
