"""``aixiang needs``: staff triage needs from the terminal.

Every change goes through models.needs, so the CLI obeys the same transition table,
writes the same history rows and queues the same pushes as any other caller. Mistakes
(unknown ref, status, category or partner; a refused transition) are one line, exit 2,
and leave the database untouched.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from bot.cli.actors import acting_account, as_option, os_user
from bot.cli.support import (
    StaffError,
    config_from_context,
    emit,
    emit_object,
    json_option,
    now_from_context,
    parse_local_time,
    printable,
    staff_session,
)
from bot.config.sections import Config
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.audit import Actor
from models.base import ID_MAX
from models.needs.errors import NeedError
from models.needs.queries import (
    change_pushes,
    count_needs,
    demand_counts,
    get_need,
    list_needs,
    need_history,
    need_photos,
    residents_told,
)
from models.needs.staff import NeedUpdate, may_update, update_need
from models.needs.tables import Need, NeedStatus, need_ref
from models.partners import Partner, PartnerError, get_partner, partner_name
from models.residents import Resident

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
SUMMARY_CHARS = 24
LIST_COLUMNS = (
    "ref",
    "category",
    "status",
    "partner",
    "demand",
    "created",
    "updated",
    "summary",
)


@click.group()
def needs() -> None:
    """Residents' needs: list, show and update them."""


@needs.command("list", short_help="Needs, newest first, a page at a time.")
@click.option("--status", help=f"Only this status: {', '.join(NeedStatus)}.")
@click.option("--category", help="Only this category (its key or its name).")
@click.option("--partner", help="Only needs assigned to this partner (name or id).")
@click.option("--since", help="Only needs submitted on or after this local date or time.")
@click.option("--limit", default=str(DEFAULT_LIMIT), show_default=True, help="Rows to show.")
@click.option(
    "--offset", default="0", show_default=True, help="Rows to skip: where the page starts."
)
@click.option(
    "--by-demand",
    is_flag=True,
    help="Most raised first (demand: the residents who raised it, merged needs included), "
    "then newest.",
)
@click.option(
    "--erased",
    is_flag=True,
    help="Also list needs whose resident erased their data (anonymous, kept for counts).",
)
@json_option(
    'Print {"rows": [...], "total": N, "offset": N} as JSON: total counts every need '
    "the filters match, so the next page starts at offset + len(rows) while that is "
    "below total."
)
@click.pass_context
def list_command(
    ctx: click.Context,
    status: str | None,
    category: str | None,
    partner: str | None,
    since: str | None,
    limit: str,
    offset: str,
    by_demand: bool,
    erased: bool,
    as_json: bool,
) -> None:
    """List needs, newest first, one page of --limit rows from --offset; the table ends
    with how many more there are and the --offset of the next page."""
    config = config_from_context(ctx)
    tz = config.bot.tz
    if status is not None:
        _check_status(status)
    category_key = _category_key(config, category) if category is not None else None
    since_at = (
        parse_local_time(since, tz, "--since", date_alone=True) if since is not None else None
    )
    page = _limit(limit)
    start = _offset(offset)
    with staff_session(ctx) as db:
        chosen = _partner(db, partner) if partner is not None else None
        rows = list_needs(
            db,
            status=status,
            category=category_key,
            partner=chosen,
            since=since_at,
            limit=page,
            offset=start,
            by_demand=by_demand,
            include_erased=erased,
        )
        total = count_needs(
            db,
            status=status,
            category=category_key,
            partner=chosen,
            since=since_at,
            include_erased=erased,
        )
        records = [
            {
                "ref": row.need.ref,
                "category": row.need.category,
                "status": row.need.status,
                "partner": row.partner,
                "demand": row.demand_count,
                "created": row.need.created_at,
                "updated": row.need.updated_at,
                "summary": _summary(row.need.description, cut=not as_json),
            }
            for row in rows
        ]
    if as_json:
        emit_object({"rows": records, "total": total, "offset": start}, as_json=True)
        return
    emit(records, as_json=False, columns=LIST_COLUMNS)
    more = total - start - len(records)
    if more > 0:
        click.echo(f"… {more} more; --offset {start + len(records)} for the next page")


@needs.command("show")
@click.argument("ref")
@json_option()
@click.pass_context
def show_command(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show one need, e.g. N-000123, with its photos and whole history (internal notes too)."""
    with staff_session(ctx) as db:
        need = _need(db, ref)
        details = _need_record(db, need)
        photos = [
            {
                "position": photo.position,
                "status": photo.status,
                "local_path": photo.local_path,
                "pic_url": photo.pic_url,
            }
            for photo in need_photos(db, need)
        ]
        history = [
            {
                "at": entry.created_at,
                "by": entry.by,
                "from": entry.from_status,
                "to": entry.to_status,
                "partner": partner_name(db, entry.partner_id),
                "duplicate_of": need_ref(entry.duplicate_of_id) if entry.duplicate_of_id else None,
                "note": entry.note,
                "public": entry.public,
            }
            for entry in need_history(db, need)
        ]
    if as_json:
        emit_object({**details, "photos": photos, "history": history}, True)
        return
    emit_object(details, False)
    if photos:
        click.echo("\nphotos:")
        emit(photos, False)
    click.echo("\nhistory:")
    emit(history, False)


@needs.command("update")
@click.argument("ref")
@click.option("--status", help=f"The new status: {', '.join(NeedStatus)}.")
@click.option(
    "--note", help="A note kept in the history (the reason, to decline or mark duplicate)."
)
@click.option(
    "--public",
    is_flag=True,
    help="Also send the note to the resident. Without it the note is internal: staff see "
    "it in 'needs show', the resident does not.",
)
@click.option("--assign", "assign", help="Assign the need to this partner (name or id).")
@click.option("--duplicate-of", help="The original need's ref: marks this one duplicate of it.")
@as_option
@json_option(
    "Print the need after the change as JSON, with the change and the pushes it queued "
    "(kind and recipient openid)."
)
@click.pass_context
def update_command(
    ctx: click.Context,
    ref: str,
    status: str | None,
    note: str | None,
    public: bool,
    assign: str | None,
    duplicate_of: str | None,
    as_account: str | None,
    as_json: bool,
) -> None:
    """Change a need's status, add a note, or assign it to a partner.

    Allowed moves: submitted -> acknowledged | declined | duplicate; acknowledged ->
    in_progress | resolved | declined | duplicate; in_progress -> resolved | declined |
    duplicate. Resolved, declined and duplicate are final. Declined and duplicate need
    a reason (--note); duplicate also needs --duplicate-of.

    The resident gets a push for every status change (with the note when --public), and
    for a --public note alone; residents whose needs were merged into this one get it
    too. Internal notes and partner assignments alone send nothing.
    """
    if status is not None:
        _check_status(status)
    with staff_session(ctx) as db:
        need = _need(db, ref)
        partner = _partner(db, assign) if assign is not None else None
        original = _need(db, duplicate_of) if duplicate_of is not None else None
        change = NeedUpdate(status, note, public, partner, original)
        actor = _needs_actor(db, as_account, need, change)
        before = need.status
        try:
            entry = update_need(db, actor, need, change, now_from_context(ctx))
        except NeedError as exc:
            raise StaffError(str(exc)) from None
        if as_json:
            emit_object(
                {
                    **_need_record(db, need),
                    "change": {"from": entry.from_status, "to": entry.to_status},
                    "note": entry.note,
                    "public": entry.public,
                    "pushes": [{"kind": k, "to": to} for k, to in change_pushes(db, entry)],
                },
                as_json=True,
            )
            return
        told = _told(residents_told(db, entry))
        moved = f"{before} -> {need.status}" if before != need.status else need.status
        extras = []
        if partner is not None:
            extras.append(f"assigned to {partner.name}")
        if need.duplicate_of_id is not None and entry.duplicate_of_id is not None:
            extras.append(f"duplicate of {need_ref(need.duplicate_of_id)}")
        if entry.note:
            extras.append("public note" if entry.public else "internal note")
        detail = f" ({', '.join(extras)})" if extras else ""
        click.echo(printable(f"{need.ref}: {moved}{detail}; {told}"))


def _need_record(db: Session, need: Need) -> dict[str, Any]:
    """A need as `needs show` and a change's JSON give it: what staff act on."""
    resident = db.get(Resident, need.resident_id) if need.resident_id is not None else None
    original = db.get(Need, need.duplicate_of_id) if need.duplicate_of_id else None
    return {
        "ref": need.ref,
        "category": need.category,
        "status": need.status,
        "partner": partner_name(db, need.partner_id),
        "demand_count": demand_counts(db, [need.id])[need.id],
        "duplicate_of": original.ref if original is not None else None,
        "resident_openid": resident.openid if resident is not None else None,
        "created": need.created_at,
        "updated": need.updated_at,
        "acknowledged": need.acknowledged_at,
        "resolved": need.resolved_at,
        "description": need.description,
        "place": need.place,
        "coordinates": f"{need.latitude}, {need.longitude}" if need.latitude is not None else None,
        "erased": need.erased_at,
    }


def _told(residents: int) -> str:
    if residents == 0:
        return "nothing is sent to the resident"
    if residents == 1:
        return "the resident will be told"
    return f"{residents} residents will be told"


def _needs_actor(db: Session, as_account: str | None, need: Need, change: NeedUpdate) -> Actor:
    """Who updates the need: the ``--as`` account (a partner's only for a need assigned
    to its organisation, and never to hand it to another), or the OS user."""
    if as_account is None:
        return os_user()
    account = acting_account(db, as_account, Permission.UPDATE_NEEDS)
    if not may_update(account.partner_id, need, change):
        raise StaffError(
            f"--as: a partner account updates only its own organisation's needs, and "
            f"assigns none; {need.ref} is not its to change"
        )
    return actor_for(account)


def _check_status(status: str) -> None:
    if status not in tuple(NeedStatus):
        raise StaffError(f"unknown status {status!r}; use one of {', '.join(NeedStatus)}")


def _category_key(config: Config, category: str) -> str:
    wanted = category.strip().lower()
    for option in config.needs.categories:
        if wanted in (option.key, option.zh, option.en.lower()):
            return option.key
    keys = ", ".join(option.key for option in config.needs.categories)
    raise StaffError(f"unknown category {category!r}; use one of {keys}")


def _limit(value: str) -> int:
    if not value.isdecimal() or not 1 <= int(value) <= MAX_LIMIT:
        raise StaffError(f"--limit must be a whole number from 1 to {MAX_LIMIT}, got {value!r}")
    return int(value)


def _offset(value: str) -> int:
    if not value.isdecimal() or int(value) > ID_MAX:
        raise StaffError(f"--offset must be a whole number from 0 to {ID_MAX}, got {value!r}")
    return int(value)


def _need(db: Session, ref: str) -> Need:
    try:
        return get_need(db, ref)
    except NeedError as exc:
        raise StaffError(str(exc)) from None


def _partner(db: Session, name: str) -> Partner:
    try:
        return get_partner(db, name)
    except PartnerError as exc:
        raise StaffError(str(exc)) from None


def _summary(description: str | None, *, cut: bool) -> str:
    """The resident's words on one line; cut to fit a table's column, whole in JSON (a
    script reading the output must never get a fragment)."""
    if description is None:
        return "(erased)"
    text = " ".join(description.split())
    return text if not cut or len(text) <= SUMMARY_CHARS else f"{text[:SUMMARY_CHARS]}…"
