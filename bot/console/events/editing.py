"""Creating, editing and publishing an event: the same domain operations as
``aixiang events create``, ``update`` and ``publish`` (models/events/staff.py), each
audited with the signed-in account in the transaction of the change.

A change of time or place tells everyone confirmed or waitlisted. Before such a change is
saved, the form comes back once more saying how many residents will be told (counted by
:func:`models.events.listing.residents_to_tell`), and is saved only when sent again with
that same count: if someone signed up meanwhile, the new count is shown instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.context import account, now, request_db
from bot.console.events.access import actor, club_tz, manages_events, visible_event
from bot.console.events.form import EventForm, blank_form, form_of, read_form
from bot.console.events.refusals import field_text, refusal_field, refusal_text
from models.events.audit_entries import (
    audit_created,
    audit_published,
    audit_updated,
    audited_values,
)
from models.events.errors import EventError
from models.events.listing import residents_to_tell
from models.events.staff import create_event, publish_event, update_event
from models.events.tables import Event
from models.partners import list_partners
from models.tags.errors import TagError
from models.tags.queries import all_tags
from models.villages.queries import active_villages

# What the form edits, as ``update_event`` names it.
EDITED = (
    "title",
    "description",
    "place",
    "starts_at",
    "ends_at",
    "signup_deadline",
    "capacity",
    "max_party_size",
    "contact_required",
    "village_id",
)


def _form_page(
    form: EventForm,
    event: Event | None = None,
    *,
    refused: EventError | TagError | None = None,
    to_tell: int | None = None,
) -> str:
    """The form, with each mistake next to its field; a refusal about no field is shown
    above the form. The tags offered are those in use and those the event has."""
    field_errors = {name: field_text(name, key) for name, key in form.errors.items()}
    error = ""
    if isinstance(refused, TagError):
        field_errors["tags"] = refused.text(account().language)
    elif refused is not None:
        field = refusal_field(refused)
        if field is None:
            error = refusal_text(refused)
        else:
            field_errors[field] = refusal_text(refused)
    return render_template(
        "console/events/form.html",
        form=form,
        event=event,
        partners=list_partners(request_db()),
        villages=active_villages(request_db()),
        tags=[tag for tag in all_tags(request_db()) if tag.active or tag.key in form.tags],
        field_errors=field_errors,
        error=error,
        to_tell=to_tell,
    )


def _refused(
    form: EventForm, error: EventError | TagError, event: Event | None = None
) -> tuple[str, int]:
    """The form again with the refusal; the request's changes are rolled back first, so
    nothing is half-saved."""
    request_db().rollback()
    return _form_page(form, event, refused=error), 400


def _differs(typed: object, stored: object) -> bool:
    """Whether a value read from the form changes the stored one; the pickers show times
    to the minute, so a time stored with seconds (from the CLI) is not moved by them."""
    if isinstance(typed, datetime) and isinstance(stored, datetime):
        return typed != stored.replace(second=0, microsecond=0)
    return typed != stored


def _check_village(form: EventForm, event: Event | None) -> None:
    """The village chosen must be one offered (or the event's own, retired since)."""
    chosen = form.values.get("village_id")
    if chosen is None or (event is not None and chosen == event.village_id):
        return
    if chosen not in {entry.id for entry in active_villages(request_db())}:
        form.errors["village"] = "console_event_error_village"


@manages_events
def new_form() -> str:
    return _form_page(blank_form())


@manages_events
def create() -> ResponseReturnValue:
    form = read_form(request.form, club_tz())
    _check_village(form, None)
    if form.errors:
        return _form_page(form), 400
    db = request_db()
    values = form.values
    publish = bool(request.form.get("publish"))
    try:
        event = create_event(
            db,
            title=values["title"],
            description=values["description"],
            place=values["place"],
            starts_at=values["starts_at"],
            ends_at=values["ends_at"],
            signup_deadline=values["signup_deadline"],
            capacity=values["capacity"],
            max_party_size=values["max_party_size"],
            contact_required=form.contact_required,
            tags=form.tags,
            partner_names=form.partners,
            publish=publish,
            village_id=values["village_id"],
            now=now(),
        )
    except (EventError, TagError) as error:
        return _refused(form, error)
    audit_created(db, actor(), event, now())
    db.commit()
    flash(gettext("console_event_created").format(number=event.id))
    return redirect(url_for("console.events.roster_page", event_id=event.id))


@manages_events
def edit_form(event_id: int) -> str:
    event = visible_event(event_id)
    return _form_page(form_of(event, club_tz()), event)


@dataclass(frozen=True)
class Edits:
    """What a posted form changes of an event, as ``update_event`` takes it: the fields
    whose value differs, and the tags and partners when they differ (else None)."""

    fields: dict[str, Any]
    tags: list[str] | None
    partners: list[str] | None

    @property
    def names(self) -> list[str]:
        """What changes, as the audit entry names it."""
        lists = {"tags": self.tags, "partners": self.partners}
        return [*self.fields, *(name for name, value in lists.items() if value is not None)]

    @property
    def moving(self) -> bool:
        """Whether the change tells residents: a new time or place."""
        return "starts_at" in self.fields or "place" in self.fields


def _edits(event: Event, form: EventForm) -> Edits:
    """The edits the form makes."""
    fields = {
        name: value
        for name, value in form.values.items()
        if name in EDITED and _differs(value, getattr(event, name))
    }
    tags = form.tags if sorted(form.tags) != sorted(event.tags) else None
    current = sorted(partner.name for partner in event.partners)
    partners = form.partners if sorted(form.partners) != current else None
    return Edits(fields, tags, partners)


@manages_events
def update(event_id: int) -> ResponseReturnValue:
    event = visible_event(event_id)
    form = read_form(request.form, club_tz())
    _check_village(form, event)
    if form.errors:
        return _form_page(form, event), 400
    edits = _edits(event, form)
    if not edits.names:
        flash(gettext("console_event_unchanged"))
        return redirect(url_for("console.events.roster_page", event_id=event.id))
    db = request_db()
    to_tell = residents_to_tell(db, event) if edits.moving else 0
    before = audited_values(event, edits.names)
    try:
        done = update_event(
            db,
            event.id,
            now(),
            club_tz(),
            tags=edits.tags,
            partner_names=edits.partners,
            **edits.fields,
        )
    except (EventError, TagError) as error:
        return _refused(form, error, event)
    if to_tell and request.form.get("told") != str(to_tell):
        # Every rule held: roll the change back and ask once more, with the count.
        db.rollback()
        return _form_page(form, visible_event(event_id), to_tell=to_tell)
    audit_updated(db, actor(), done, before, now())
    db.commit()
    flash(gettext("console_event_updated").format(number=event.id, count=len(done.told)))
    return redirect(url_for("console.events.roster_page", event_id=event.id))


@manages_events
def publish(event_id: int) -> ResponseReturnValue:
    event = visible_event(event_id)
    db = request_db()
    try:
        changed = publish_event(db, event.id, now())
    except EventError as error:
        db.rollback()
        flash(refusal_text(error))
        return redirect(url_for("console.events.roster_page", event_id=event_id))
    if changed:
        audit_published(db, actor(), event_id, now())
        db.commit()
        flash(gettext("console_event_published").format(number=event_id))
    return redirect(url_for("console.events.roster_page", event_id=event_id))
