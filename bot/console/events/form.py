"""The event form as staff fill it in: the typed fields read into an event's values, and
each mistake in reading them kept for the field it belongs to.

Times come from a date picker and a time picker (``type=date`` and ``type=time``) and
are read in the club's time zone, as the CLI reads ``--starts-at``. A date without a
time is refused rather than read as midnight; a time without a date too. The rules an
event keeps (a start in the future, a capacity of at least 1, ...) are the domain's
(models/events/staff.py): this module only turns text into values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from models.base import ID_MAX
from models.events.tables import Event

TEXT_FIELDS = ("title", "place", "description")
# The pickers of each time, by the form field they report to.
TIME_FIELDS = {"starts": "starts_at", "ends": "ends_at", "deadline": "signup_deadline"}


@dataclass
class EventForm:
    """What the form holds as typed (to show it again) and the values read from it."""

    typed: dict[str, str]
    partners: list[str]
    contact_required: bool
    # The keys of the tags ticked (models/tags).
    tags: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    # A field's name and the catalog key of what is wrong with it.
    errors: dict[str, str] = field(default_factory=dict)


def blank_form() -> EventForm:
    return EventForm(typed={"max_party": "1"}, partners=[], contact_required=False)


def form_of(event: Event, tz: ZoneInfo) -> EventForm:
    """The form filled in with an event as it is, its times in local time."""
    typed = {name: str(getattr(event, name)) for name in TEXT_FIELDS}
    typed.update(capacity=str(event.capacity), max_party=str(event.max_party_size))
    typed["village"] = str(event.village_id or "")
    for name, attribute in TIME_FIELDS.items():
        moment: datetime | None = getattr(event, attribute)
        if moment is not None:
            local = moment.astimezone(tz)
            typed[f"{name}_date"] = local.date().isoformat()
            typed[f"{name}_time"] = local.strftime("%H:%M")
    return EventForm(
        typed=typed,
        partners=[partner.name for partner in event.partners],
        contact_required=event.contact_required,
        tags=list(event.tags),
    )


def read_form(posted: MultiDict[str, str], tz: ZoneInfo) -> EventForm:
    """The posted form read into values; ``errors`` names each field that could not be."""
    names = (*TEXT_FIELDS, "capacity", "max_party", "village")
    typed = {name: posted.get(name, "").strip() for name in names}
    for name in TIME_FIELDS:
        typed[f"{name}_date"] = posted.get(f"{name}_date", "").strip()
        typed[f"{name}_time"] = posted.get(f"{name}_time", "").strip()
    form = EventForm(
        typed=typed,
        partners=[name for name in posted.getlist("partners") if name.strip()],
        contact_required=bool(posted.get("contact_required")),
        tags=[key for key in posted.getlist("tags") if key.strip()],
    )
    for name in TEXT_FIELDS:
        form.values[name] = typed[name]
    form.values["contact_required"] = form.contact_required
    _read_number(form, "capacity", "capacity", required=True)
    _read_number(form, "max_party", "max_party_size", required=True)
    for name, attribute in TIME_FIELDS.items():
        _read_time(form, name, attribute, tz, required=name == "starts")
    _read_village(form)
    return form


def _read_village(form: EventForm) -> None:
    """The village chosen (its id), or None for none; whether it exists is the view's to
    check against the villages offered."""
    text = form.typed["village"]
    if not text:
        form.values["village_id"] = None
    elif text.isdecimal() and text.isascii() and int(text) <= ID_MAX:
        form.values["village_id"] = int(text)
    else:
        form.errors["village"] = "console_event_error_village"


def _read_number(form: EventForm, name: str, attribute: str, *, required: bool) -> None:
    text = form.typed[name]
    if not text:
        if required:
            form.errors[name] = "console_event_error_required"
        return
    if not text.isdecimal() or not text.isascii():
        form.errors[name] = "console_event_error_number"
        return
    form.values[attribute] = int(text)


def _read_time(form: EventForm, name: str, attribute: str, tz: ZoneInfo, *, required: bool) -> None:
    """A local date and time of day into an aware datetime, or None when both are empty
    (and the time is optional)."""
    day_text, clock_text = form.typed[f"{name}_date"], form.typed[f"{name}_time"]
    if not day_text and not clock_text:
        if required:
            form.errors[name] = "console_event_error_required"
        else:
            form.values[attribute] = None
        return
    try:
        day = date.fromisoformat(day_text) if day_text else None
    except ValueError:
        form.errors[name] = "console_event_error_date"
        return
    try:
        clock = time.fromisoformat(clock_text) if clock_text else None
    except ValueError:
        form.errors[name] = "console_event_error_time"
        return
    if day is None:
        form.errors[name] = "console_event_error_no_date"
        return
    if clock is None:
        form.errors[name] = "console_event_error_no_time"
        return
    moment = datetime.combine(day, clock.replace(second=0, microsecond=0, tzinfo=None), tz)
    try:
        # Within hours of year 1 or 9999 a local time has no UTC form (how it is stored).
        moment.astimezone(UTC)
    except OverflowError:
        form.errors[name] = "console_event_error_date"
        return
    form.values[attribute] = moment
