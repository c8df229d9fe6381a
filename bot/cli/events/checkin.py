"""At the door: ``events checkin`` (a resident, by code or openid) and ``events walk-in``
(someone who came without signing up and is not a follower, by the name they give)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli.actors import acting_account, as_option, os_user
from bot.cli.events.options import event_id_of, event_session, integer, local_tz
from bot.cli.events.roster import attendance_row
from bot.cli.support import (
    StaffError,
    emit_object,
    format_local,
    json_option,
    now_from_context,
    printable,
)
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.audit import Actor
from models.events.audit_entries import audit_checked_in
from models.events.checkin import CheckInResult, add_walk_in, check_in, check_in_by_code
from models.events.listing import visible_to
from models.events.tables import WALK_IN_NAME_MAX, CheckinMethod
from models.residents import Resident


@click.command("checkin")
@click.argument("event_id")
@click.option("--code", help="The check-in code the resident shows.")
@click.option("--openid", help="Or: the resident's openid, e.g. from the roster.")
@as_option
@json_option("Print the attendance as JSON (first_time: false when already checked in).")
@click.pass_context
def checkin_command(
    ctx: click.Context,
    event_id: str,
    code: str | None,
    openid: str | None,
    as_account: str | None,
    as_json: bool,
) -> None:
    """Check a resident in at the door; doing it twice changes nothing."""
    number = event_id_of(event_id)
    if (code is None) == (openid is None):
        raise StaffError("give exactly one of --code and --openid")
    tz = local_tz(ctx)
    with event_session(ctx) as db:
        actor = _checking_in(db, number, as_account)
        now = now_from_context(ctx)
        if code is not None:
            result = check_in_by_code(db, number, code, now)
        else:
            result = check_in(db, number, _resident(db, openid or ""), CheckinMethod.STAFF, now)
        audit_checked_in(db, actor, result, now)
        if as_json:
            emit_object(
                {
                    "event_id": number,
                    **attendance_row(result.attendance),
                    "first_time": result.first_time,
                },
                as_json=True,
            )
        else:
            click.echo(printable(_checkin_line(result, tz)))


@click.command("walk-in")
@click.argument("event_id")
@click.option(
    "--name", required=True, help=f"The name they give (1 to {WALK_IN_NAME_MAX} characters)."
)
@click.option("--phone", default="", help="A mainland mobile number, if they give one.")
@click.option("--party", default="1", show_default=True, help="How many came together.")
@as_option
@json_option("Print the attendance as JSON.")
@click.pass_context
def walk_in_command(
    ctx: click.Context,
    event_id: str,
    name: str,
    phone: str,
    party: str,
    as_account: str | None,
    as_json: bool,
) -> None:
    """Add a walk-in with no sign-up and no WeChat.

    They take free places and are counted as walked in, as when added on the console's
    roster."""
    number = event_id_of(event_id)
    party_size = integer(party, "--party")
    with event_session(ctx) as db:
        actor = _checking_in(db, number, as_account)
        now = now_from_context(ctx)
        result = add_walk_in(db, number, name, phone, party_size, now)
        audit_checked_in(db, actor, result, now)
        if as_json:
            emit_object({"event_id": number, **attendance_row(result.attendance)}, as_json=True)
        else:
            attendance = result.attendance
            click.echo(
                printable(f"added walk-in {attendance.name} (party of {attendance.party_size})")
            )


def _checking_in(db: Session, event_id: int, as_account: str | None) -> Actor:
    """Who checks in: the ``--as`` account (a partner's only at its own events, any other
    being unknown to it, as in the console), else the OS user."""
    if as_account is None:
        return os_user()
    account = acting_account(db, as_account, Permission.CHECK_IN)
    if not visible_to(db, event_id, account):
        raise StaffError(f"there is no event {event_id}")
    return actor_for(account)


def _resident(db: Session, openid: str) -> Resident:
    resident = db.execute(
        select(Resident).where(Resident.openid == openid.strip())
    ).scalar_one_or_none()
    if resident is None:
        raise StaffError(f"no resident has openid {openid.strip()!r}")
    return resident


def _checkin_line(result: CheckInResult, tz: ZoneInfo) -> str:
    attendance = result.attendance
    who = attendance.name or (attendance.resident.openid if attendance.resident else "")
    if not result.first_time:
        return f"{who} already checked in at {format_local(attendance.checked_in_at, tz)}"
    if attendance.walk_in:
        return f"checked in {who} as a walk-in (not signed up)"
    return f"checked in {who} (party of {attendance.party_size})"
