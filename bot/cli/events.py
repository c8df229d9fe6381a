"""``aixiang events``: staff publish events, follow sign-ups and check people in.

Every change goes through models/events/, under the same event lock the chat uses, so
a staff edit and residents signing up at that moment cannot overbook. Times are typed
and shown in the configured time zone and stored in UTC. A mistake (past start, end
before start, capacity below 1, unknown id or partner) is one line, exit 2, and leaves
the database untouched.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from bot.cli.support import (
    StaffError,
    config_from_context,
    emit,
    emit_object,
    format_local,
    json_option,
    now_from_context,
    parse_id,
    parse_local_time,
    printable,
    staff_session,
)
from bot.config import Config, ConfigError
from bot.exports import spreadsheet_text
from bot.redis_conn import connect_redis
from bot.wechat.api import WeChatAPI
from bot.wechat.client import build_wechat_client
from models.events.checkin import QR_SCENE_PREFIX, CheckInResult, check_in, check_in_by_code
from models.events.errors import EventError
from models.events.queries import get_event, list_events, occupancies, roster
from models.events.staff import cancel_event, create_event, publish_event, update_event
from models.events.tables import Attendance, CheckinMethod, Event, EventStatus, Signup
from models.residents import Resident
from models.villages.errors import VillageError
from models.villages.queries import all_villages, find_village

LIST_COLUMNS = (
    "id",
    "status",
    "starts_at",
    "title",
    "place",
    "capacity",
    "confirmed",
    "waitlisted",
    "walk_ins",
    "tags",
)
CONFIRMED_COLUMNS = ("openid", "name", "mobile", "party", "code", "signed_up", "checked_in")
WAITLIST_COLUMNS = ("position", "openid", "name", "mobile", "party", "signed_up")
ATTENDANCE_COLUMNS = ("openid", "name", "party", "method", "walk_in", "checked_in")
CSV_COLUMNS = (
    "section",
    "position",
    "openid",
    "name",
    "mobile",
    "party_size",
    "checkin_code",
    "signed_up_at",
    "checked_in_at",
    "method",
    "walk_in",
)
NONE_WORDS = frozenset({"none", ""})


class WeChatUnavailable(StaffError):
    """WeChat refused or did not answer: one line, but exit 1, since no argument was wrong."""

    exit_code = 1


@click.group(short_help="Co-building events and their check-in.")
def events() -> None:
    """Co-building events: create, publish, cancel, list, roster, check-in, QR codes."""


@contextmanager
def _session(ctx: click.Context) -> Iterator[Session]:
    """A staff session where a refused rule becomes a one-line error (and a rollback)."""
    try:
        with staff_session(ctx) as db:
            yield db
    except (EventError, VillageError) as error:
        raise StaffError(str(error)) from None


def _village_id(db: Session, name: str) -> int | None:
    """The village ``--village`` names (a group as 朝阳村·一组), or None for 'none'."""
    if name.strip().lower() in NONE_WORDS:
        return None
    return find_village(db, name).id


def _tz(ctx: click.Context) -> ZoneInfo:
    return config_from_context(ctx).bot.tz


def _event_id(value: str) -> int:
    return parse_id(value, "an event id", "events list")


def _integer(value: str, option: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise StaffError(f"{option}: {value!r} is not a whole number") from None


def _time(value: str | None, tz: ZoneInfo, option: str) -> datetime | None:
    return None if value is None else parse_local_time(value, tz, option)


def _event_record(db: Session, event: Event) -> dict[str, Any]:
    """One event as `events list` gives it: what a change command prints as JSON."""
    [record] = _event_records(db, [event])
    return record


def _event_records(db: Session, found: list[Event]) -> list[dict[str, Any]]:
    """Events as `events list` gives them, with their places taken (one query for all)
    and their villages' names (one more)."""
    taken = occupancies(db, found)
    labels = {entry.id: entry.label for entry in all_villages(db)}
    return [
        {
            **_summary(
                event,
                taken[event.id].confirmed,
                taken[event.id].waitlisted,
                taken[event.id].walk_ins,
            ),
            "village": labels.get(event.village_id) if event.village_id is not None else None,
        }
        for event in found
    ]


def _summary(event: Event, confirmed: int, waitlisted: int, walk_ins: int) -> dict[str, Any]:
    return {
        "id": event.id,
        "status": event.status,
        "title": event.title,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "place": event.place,
        "capacity": event.capacity,
        "deadline": event.signup_deadline,
        "max_party": event.max_party_size,
        "require_contact": event.contact_required,
        "confirmed": confirmed,
        "waitlisted": waitlisted,
        "walk_ins": walk_ins,
        "tags": event.tags,
        "partners": [partner.name for partner in event.partners],
    }


# create / update / publish / cancel ---------------------------------------------------------


@events.command("create")
@click.option("--title", help="What residents see first.")
@click.option("--starts-at", help="Local start, within a year, e.g. 2026-06-01T09:30.")
@click.option("--capacity", help="Places (people), at least 1.")
@click.option("--ends-at", help="Local end, after the start and within a year.")
@click.option("--place", default="", help="Where it happens.")
@click.option("--description", default="", help="A few sentences for the detail view.")
@click.option("--deadline", help="Local time sign-up closes (default: the start).")
@click.option("--max-party", default="1", show_default=True, help="People per sign-up.")
@click.option("--require-contact", is_flag=True, help="Ask for name and mobile to sign up.")
@click.option("--tag", "tags", multiple=True, help="Audience, e.g. women, children (repeat).")
@click.option("--partner", "partners", multiple=True, help="Co-hosting partner's name (repeat).")
@click.option("--publish", is_flag=True, help="Open it to residents at once.")
@click.option("--village", help="The village it is in, by name (a group: 朝阳村·一组).")
@json_option("Print the new event as JSON (its id, times, places and partners).")
@click.pass_context
def create_command(
    ctx: click.Context,
    title: str | None,
    starts_at: str | None,
    capacity: str | None,
    ends_at: str | None,
    place: str,
    description: str,
    deadline: str | None,
    max_party: str,
    require_contact: bool,
    tags: tuple[str, ...],
    partners: tuple[str, ...],
    publish: bool,
    village: str | None,
    as_json: bool,
) -> None:
    """Create an event (a draft unless --publish) and print its id."""
    if title is None:
        raise StaffError("--title is required")
    if starts_at is None:
        raise StaffError("--starts-at is required")
    if capacity is None:
        raise StaffError("--capacity is required")
    tz = _tz(ctx)
    with _session(ctx) as db:
        event = create_event(
            db,
            title=title,
            starts_at=parse_local_time(starts_at, tz, "--starts-at"),
            capacity=_integer(capacity, "--capacity"),
            now=now_from_context(ctx),
            ends_at=_time(ends_at, tz, "--ends-at"),
            place=place,
            description=description,
            signup_deadline=_time(deadline, tz, "--deadline"),
            max_party_size=_integer(max_party, "--max-party"),
            contact_required=require_contact,
            tags=tags,
            partner_names=partners,
            publish=publish,
            village_id=_village_id(db, village) if village is not None else None,
        )
        record = _event_record(db, event)
    if as_json:
        emit_object(record, as_json=True)
    else:
        click.echo(record["id"])


@events.command("update", short_help="Change an event.")
@click.argument("event_id")
@click.option("--title")
@click.option("--starts-at", help="Local start, within a year.")
@click.option("--ends-at", help="Local end, or 'none' to remove it.")
@click.option("--place")
@click.option("--description")
@click.option("--capacity", help="Places; a larger capacity confirms waitlisted residents.")
@click.option("--deadline", help="Local time sign-up closes, or 'none' for the start.")
@click.option("--max-party", help="People per sign-up.")
@click.option("--require-contact/--no-require-contact", default=None)
@click.option("--tag", "tags", multiple=True, help="Replaces the tags (repeat).")
@click.option("--partner", "partners", multiple=True, help="Replaces the partners (repeat).")
@click.option("--village", help="The village it is in, by name, or 'none'.")
@json_option("Print the event after the change as JSON, with how many were promoted.")
@click.pass_context
def update_command(
    ctx: click.Context,
    event_id: str,
    title: str | None,
    starts_at: str | None,
    ends_at: str | None,
    place: str | None,
    description: str | None,
    capacity: str | None,
    deadline: str | None,
    max_party: str | None,
    require_contact: bool | None,
    tags: tuple[str, ...],
    partners: tuple[str, ...],
    village: str | None,
    as_json: bool,
) -> None:
    """Change an event; residents promoted by a larger capacity are told by push."""
    tz = _tz(ctx)
    changes: dict[str, object] = {}
    if title is not None:
        changes["title"] = title
    if description is not None:
        changes["description"] = description
    if place is not None:
        changes["place"] = place
    if starts_at is not None:
        changes["starts_at"] = parse_local_time(starts_at, tz, "--starts-at")
    if ends_at is not None:
        changes["ends_at"] = _optional_time(ends_at, tz, "--ends-at")
    if deadline is not None:
        changes["signup_deadline"] = _optional_time(deadline, tz, "--deadline")
    if capacity is not None:
        changes["capacity"] = _integer(capacity, "--capacity")
    if max_party is not None:
        changes["max_party_size"] = _integer(max_party, "--max-party")
    if require_contact is not None:
        changes["contact_required"] = require_contact
    if not changes and not tags and not partners and village is None:
        raise StaffError("nothing to change: give at least one option (see --help)")
    number = _event_id(event_id)
    with _session(ctx) as db:
        if village is not None:
            changes["village_id"] = _village_id(db, village)
        update = update_event(
            db,
            number,
            now_from_context(ctx),
            tz,
            tags=tags or None,
            partner_names=partners or None,
            **changes,
        )
        count = len(update.promoted)
        record = _event_record(db, update.event)
    if as_json:
        told = {"signups": len(update.told), "people": update.people_told}
        emit_object({**record, "promoted": count, "told_of_change": told}, as_json=True)
        return
    click.echo(f"updated event {number}")
    if update.told:
        click.echo(
            f"{len(update.told)} sign-up(s) ({update.people_told} people) will be told the new "
            "time or place"
        )
    if count:
        click.echo(f"{count} waitlisted sign-up(s) confirmed; they will be told")


def _optional_time(value: str, tz: ZoneInfo, option: str) -> datetime | None:
    if value.strip().lower() in NONE_WORDS:
        return None
    return parse_local_time(value, tz, option)


@events.command("publish")
@click.argument("event_id")
@json_option("Print the event as JSON, with whether this call published it.")
@click.pass_context
def publish_command(ctx: click.Context, event_id: str, as_json: bool) -> None:
    """Open a draft to residents."""
    number = _event_id(event_id)
    with _session(ctx) as db:
        changed = publish_event(db, number, now_from_context(ctx))
        record = _event_record(db, get_event(db, number))
    if as_json:
        emit_object({**record, "published_now": changed}, as_json=True)
        return
    click.echo(f"published event {number}" if changed else f"event {number} is already published")


@events.command("cancel", short_help="Call an event off and tell residents.")
@click.argument("event_id")
@click.option("--reason", help="Told to everyone confirmed or waitlisted.")
@json_option("Print the cancelled event as JSON, with how many residents will be told.")
@click.pass_context
def cancel_command(ctx: click.Context, event_id: str, reason: str | None, as_json: bool) -> None:
    """Call an event off; every confirmed and waitlisted resident gets a push."""
    number = _event_id(event_id)
    if reason is None or not reason.strip():
        raise StaffError("--reason is required: residents are told why")
    with _session(ctx) as db:
        told = cancel_event(db, number, reason, now_from_context(ctx), _tz(ctx))
        event = get_event(db, number)
        record = {**_event_record(db, event), "cancel_reason": event.cancel_reason, "told": told}
    if as_json:
        emit_object(record, as_json=True)
        return
    click.echo(f"cancelled event {number}; {told} resident(s) will be told")


# list / roster ---------------------------------------------------------------------------


@events.command("list", short_help="Events with their places taken.")
@click.option("--upcoming", is_flag=True, help="Only drafts and published events to come.")
@click.option("--village", help="Only those in this village (its groups included).")
@json_option()
@click.pass_context
def list_command(ctx: click.Context, upcoming: bool, village: str | None, as_json: bool) -> None:
    """Events with their places taken, newest first (soonest first with --upcoming)."""
    with _session(ctx) as db:
        village_id = find_village(db, village).id if village is not None else None
        found = list_events(db, now_from_context(ctx), upcoming=upcoming, village_id=village_id)
        rows = _event_records(db, found)
    if as_json:
        emit(rows, as_json=True)
        return
    emit(
        rows,
        as_json=False,
        columns=LIST_COLUMNS,
        formatters={"tags": lambda value: ",".join(value)},
    )


@events.command("roster")
@click.argument("event_id")
@json_option("Print JSON instead of tables.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every row (confirmed, waitlist, attendance) to this CSV file.",
)
@click.pass_context
def roster_command(ctx: click.Context, event_id: str, as_json: bool, csv_path: Path | None) -> None:
    """Who is confirmed, who waits (in order), and who came."""
    tz = _tz(ctx)
    number = _event_id(event_id)
    if csv_path is not None and not csv_path.parent.is_dir():
        raise StaffError(f"--csv: folder {str(csv_path.parent)!r} does not exist")
    with _session(ctx) as db:
        found = roster(db, number)
        checked_in = {row.resident_id: row for row in found.attendance}
        confirmed = [_signup_row(s, checked_in.get(s.resident_id)) for s in found.confirmed]
        waitlist = [_signup_row(s, None) for s in found.waitlist]
        attendance = [_attendance_row(row) for row in found.attendance]
        event = found.event
        header = (
            f"event {event.id}: {event.title} — {format_local(event.starts_at, tz)}"
            f"{' at ' + event.place if event.place else ''} — {event.status}, "
            f"capacity {event.capacity}"
        )
    if csv_path is not None:
        _write_csv(csv_path, tz, confirmed, waitlist, attendance)
    if as_json:
        emit_object(
            {
                "event": {"id": number, "title": event.title, "status": event.status},
                "confirmed": confirmed,
                "waitlist": waitlist,
                "attendance": attendance,
            },
            as_json=True,
        )
    else:
        click.echo(printable(header))
        for title, rows, columns in (
            (
                f"confirmed ({sum(r['party'] for r in confirmed)} people)",
                confirmed,
                CONFIRMED_COLUMNS,
            ),
            (f"waitlist ({len(waitlist)})", waitlist, WAITLIST_COLUMNS),
            (
                f"attendance ({sum(r['party'] for r in attendance)} people)",
                attendance,
                ATTENDANCE_COLUMNS,
            ),
        ):
            click.echo(f"\n{title}:")
            emit(rows, as_json=False, columns=columns)
    if csv_path is not None:
        rows_written = len(confirmed) + len(waitlist) + len(attendance)
        click.echo(f"wrote {rows_written} rows to {csv_path}", err=as_json)


def _signup_row(signup: Signup, attendance: Attendance | None) -> dict[str, Any]:
    resident = signup.resident
    return {
        "position": signup.waitlist_position,
        "openid": resident.openid,
        "name": resident.name,
        "mobile": resident.mobile,
        "party": signup.party_size,
        "code": signup.checkin_code,
        "signed_up": signup.created_at,
        "checked_in": attendance.checked_in_at if attendance else None,
    }


def _attendance_row(attendance: Attendance) -> dict[str, Any]:
    resident = attendance.resident
    return {
        "openid": resident.openid,
        "name": resident.name,
        "party": attendance.party_size,
        "method": attendance.method,
        "walk_in": attendance.walk_in,
        "checked_in": attendance.checked_in_at,
    }


def _write_csv(
    path: Path,
    tz: ZoneInfo,
    confirmed: list[dict[str, Any]],
    waitlist: list[dict[str, Any]],
    attendance: list[dict[str, Any]],
) -> None:
    """One file, one row per person and section; UTF-8 with a BOM so Excel reads Chinese."""
    try:
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for section, rows in (("confirmed", confirmed), ("waitlist", waitlist)):
                for row in rows:
                    _write_safe_row(
                        writer,
                        {
                            "section": section,
                            "position": row["position"],
                            "openid": row["openid"],
                            "name": row["name"],
                            "mobile": row["mobile"],
                            "party_size": row["party"],
                            "checkin_code": row["code"],
                            "signed_up_at": format_local(row["signed_up"], tz),
                            "checked_in_at": format_local(row["checked_in"], tz),
                        },
                    )
            for row in attendance:
                _write_safe_row(
                    writer,
                    {
                        "section": "attendance",
                        "openid": row["openid"],
                        "name": row["name"],
                        "party_size": row["party"],
                        "checked_in_at": format_local(row["checked_in"], tz),
                        "method": row["method"],
                        "walk_in": row["walk_in"],
                    },
                )
    except OSError as exc:
        raise StaffError(f"--csv: cannot write {str(path)!r}: {exc.strerror}") from None


def _write_safe_row(writer: csv.DictWriter[str], row: dict[str, Any]) -> None:
    """Write a row whose text cells cannot run as spreadsheet formulas."""
    writer.writerow({column: spreadsheet_text(value) for column, value in row.items()})


# check-in / QR ------------------------------------------------------------------------------


@events.command("checkin")
@click.argument("event_id")
@click.option("--code", help="The check-in code the resident shows.")
@click.option("--openid", help="Or: the resident's openid, e.g. from the roster.")
@json_option("Print the attendance as JSON (first_time: false when already checked in).")
@click.pass_context
def checkin_command(
    ctx: click.Context, event_id: str, code: str | None, openid: str | None, as_json: bool
) -> None:
    """Check a resident in at the door; doing it twice changes nothing."""
    number = _event_id(event_id)
    if (code is None) == (openid is None):
        raise StaffError("give exactly one of --code and --openid")
    tz = _tz(ctx)
    with _session(ctx) as db:
        if code is not None:
            result = check_in_by_code(db, number, code, now_from_context(ctx))
        else:
            result = check_in(
                db, number, _resident(db, openid or ""), CheckinMethod.STAFF, now_from_context(ctx)
            )
        if as_json:
            emit_object(
                {
                    "event_id": number,
                    **_attendance_row(result.attendance),
                    "first_time": result.first_time,
                },
                as_json=True,
            )
        else:
            click.echo(printable(_checkin_line(result, tz)))


def _resident(db: Session, openid: str) -> Resident:
    resident = db.execute(
        select(Resident).where(Resident.openid == openid.strip())
    ).scalar_one_or_none()
    if resident is None:
        raise StaffError(f"no resident has openid {openid.strip()!r}")
    return resident


def _checkin_line(result: CheckInResult, tz: ZoneInfo) -> str:
    attendance = result.attendance
    who = attendance.resident.name or attendance.resident.openid
    if not result.first_time:
        return f"{who} already checked in at {format_local(attendance.checked_in_at, tz)}"
    if attendance.walk_in:
        return f"checked in {who} as a walk-in (not signed up)"
    return f"checked in {who} (party of {attendance.party_size})"


@events.command("qr", short_help="Save the check-in QR code as PNG.")
@click.argument("event_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to save the PNG, e.g. event-12.png.",
)
@json_option('Print {"event_id", "scene", "out"} as JSON.')
@click.pass_context
def qr_command(ctx: click.Context, event_id: str, out: Path | None, as_json: bool) -> None:
    """Save the event's check-in QR code (a permanent WeChat code, scene checkin:<id>)."""
    number = _event_id(event_id)
    if out is None:
        raise StaffError("--out is required, e.g. --out event.png")
    if out.suffix.lower() != ".png":
        raise StaffError(f"--out: {str(out)!r} should end in .png (WeChat sends a PNG)")
    if not out.parent.is_dir():
        raise StaffError(f"--out: folder {str(out.parent)!r} does not exist")
    with _session(ctx) as db:
        event = get_event(db, number)
        if event.status in (EventStatus.CANCELLED, EventStatus.FINISHED):
            raise StaffError(f"event {number} is {event.status}; it needs no check-in code")
    config = config_from_context(ctx)
    try:
        config.require_wechat_credentials()
    except ConfigError as exc:
        raise StaffError(f"config: {exc}") from None
    scene = f"{QR_SCENE_PREFIX}{number}"
    image = _fetch_qr(config, scene)
    try:
        out.write_bytes(image)
    except OSError as exc:
        raise StaffError(f"--out: cannot write {str(out)!r}: {exc.strerror}") from None
    if as_json:
        emit_object({"event_id": number, "scene": scene, "out": str(out)}, as_json=True)
        return
    click.echo(f"saved the check-in QR code for event {number} to {out}")


def _fetch_qr(config: Config, scene: str) -> bytes:
    """Ask WeChat for a permanent QR code with ``scene``, then download its image."""
    redis_client = connect_redis(config.redis.url)
    client = build_wechat_client(config, redis_client)
    api = WeChatAPI(client)
    try:
        try:
            ticket = api.qrcode.create_permanent(scene)
        except WeChatClientException as exc:
            raise WeChatUnavailable(f"WeChat refused the QR code: {_one_line(exc)}") from None
        if not ticket:
            raise WeChatUnavailable("WeChat created no QR code ticket")
        try:
            return api.qrcode.image(ticket)
        except WeChatClientException as exc:
            raise WeChatUnavailable(
                f"could not download the QR code image: {_one_line(exc)}"
            ) from None
    finally:
        client.close()
        redis_client.close()


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
