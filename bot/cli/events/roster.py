"""``events roster``: who is confirmed, who waits and who came, on screen and as CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from bot.cli.events.options import event_id_of, event_session, local_tz
from bot.cli.support import StaffError, emit, emit_object, format_local, json_option, printable
from models.events.queries import roster
from models.events.tables import Attendance, Signup
from scheduler.exports.sheets import spreadsheet_text

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


@click.command("roster")
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
    tz = local_tz(ctx)
    number = event_id_of(event_id)
    if csv_path is not None and not csv_path.parent.is_dir():
        raise StaffError(f"--csv: folder {str(csv_path.parent)!r} does not exist")
    with event_session(ctx) as db:
        found = roster(db, number)
        checked_in = {row.resident_id: row for row in found.attendance}
        confirmed = [_signup_row(s, checked_in.get(s.resident_id)) for s in found.confirmed]
        waitlist = [_signup_row(s, None) for s in found.waitlist]
        attendance = [attendance_row(row) for row in found.attendance]
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


def attendance_row(attendance: Attendance) -> dict[str, Any]:
    """A check-in as the roster lists it; a walk-in staff added by hand has no openid."""
    resident = attendance.resident
    return {
        "openid": resident.openid if resident is not None else None,
        "name": attendance.name,
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
