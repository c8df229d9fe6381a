"""``events create``, ``update``, ``publish`` and ``cancel``: the commands that change an event."""

from __future__ import annotations

import click

from bot.cli.actors import acting, as_option
from bot.cli.events.options import (
    event_id_of,
    event_session,
    integer,
    local_tz,
    optional_time,
    time_or_none,
    village_id_of,
)
from bot.cli.events.records import event_record
from bot.cli.support import StaffError, emit_object, json_option, now_from_context, parse_local_time
from models.accounts.roles import Permission
from models.events.audit_entries import (
    audit_cancelled,
    audit_created,
    audit_published,
    audit_updated,
    audited_values,
)
from models.events.queries import get_event
from models.events.staff import cancel_event, create_event, publish_event, update_event


@click.command("create")
@click.option("--title", help="What residents see first.")
@click.option("--starts-at", help="Local start, within a year, e.g. 2026-06-01T09:30.")
@click.option("--capacity", help="Places (people), at least 1.")
@click.option("--ends-at", help="Local end, after the start and within a year.")
@click.option("--place", default="", help="Where it happens.")
@click.option("--description", default="", help="A few sentences for the detail view.")
@click.option("--deadline", help="Local time sign-up closes (default: the start).")
@click.option("--max-party", default="1", show_default=True, help="People per sign-up.")
@click.option("--require-contact", is_flag=True, help="Ask for name and mobile to sign up.")
@click.option(
    "--tag", "tags", multiple=True, help="A tag by either name, e.g. 长者 or elderly (repeat)."
)
@click.option("--partner", "partners", multiple=True, help="Co-hosting partner's name (repeat).")
@click.option("--publish", is_flag=True, help="Open it to residents at once.")
@click.option("--village", help="The village it is in, by name (a group: 朝阳村·一组).")
@as_option
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
    as_account: str | None,
    as_json: bool,
) -> None:
    """Create an event (a draft unless --publish) and print its id."""
    if title is None:
        raise StaffError("--title is required")
    if starts_at is None:
        raise StaffError("--starts-at is required")
    if capacity is None:
        raise StaffError("--capacity is required")
    tz = local_tz(ctx)
    with event_session(ctx) as db:
        actor = acting(db, as_account, Permission.MANAGE_EVENTS)
        now = now_from_context(ctx)
        event = create_event(
            db,
            title=title,
            starts_at=parse_local_time(starts_at, tz, "--starts-at"),
            capacity=integer(capacity, "--capacity"),
            now=now,
            ends_at=time_or_none(ends_at, tz, "--ends-at"),
            place=place,
            description=description,
            signup_deadline=time_or_none(deadline, tz, "--deadline"),
            max_party_size=integer(max_party, "--max-party"),
            contact_required=require_contact,
            tags=tags,
            partner_names=partners,
            publish=publish,
            village_id=village_id_of(db, village) if village is not None else None,
        )
        audit_created(db, actor, event, now)
        record = event_record(db, event)
    if as_json:
        emit_object(record, as_json=True)
    else:
        click.echo(record["id"])


@click.command("update", short_help="Change an event.")
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
@click.option("--tag", "tags", multiple=True, help="Replaces the tags, by either name (repeat).")
@click.option("--partner", "partners", multiple=True, help="Replaces the partners (repeat).")
@as_option
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
    as_account: str | None,
    as_json: bool,
) -> None:
    """Change an event; residents promoted by a larger capacity are told by push."""
    tz = local_tz(ctx)
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
        changes["ends_at"] = optional_time(ends_at, tz, "--ends-at")
    if deadline is not None:
        changes["signup_deadline"] = optional_time(deadline, tz, "--deadline")
    if capacity is not None:
        changes["capacity"] = integer(capacity, "--capacity")
    if max_party is not None:
        changes["max_party_size"] = integer(max_party, "--max-party")
    if require_contact is not None:
        changes["contact_required"] = require_contact
    if not changes and not tags and not partners and village is None:
        raise StaffError("nothing to change: give at least one option (see --help)")
    number = event_id_of(event_id)
    with event_session(ctx) as db:
        if village is not None:
            changes["village_id"] = village_id_of(db, village)
        actor = acting(db, as_account, Permission.MANAGE_EVENTS)
        now = now_from_context(ctx)
        lists = {"tags": tags, "partners": partners}
        edited = [*changes, *(name for name, value in lists.items() if value)]
        before = audited_values(get_event(db, number), edited)
        update = update_event(
            db,
            number,
            now,
            tz,
            tags=tags or None,
            partner_names=partners or None,
            **changes,
        )
        audit_updated(db, actor, update, before, now)
        count = len(update.promoted)
        record = event_record(db, update.event)
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


@click.command("publish")
@click.argument("event_id")
@as_option
@json_option("Print the event as JSON, with whether this call published it.")
@click.pass_context
def publish_command(
    ctx: click.Context, event_id: str, as_account: str | None, as_json: bool
) -> None:
    """Open a draft to residents."""
    number = event_id_of(event_id)
    with event_session(ctx) as db:
        actor = acting(db, as_account, Permission.MANAGE_EVENTS)
        now = now_from_context(ctx)
        changed = publish_event(db, number, now)
        if changed:
            audit_published(db, actor, number, now)
        record = event_record(db, get_event(db, number))
    if as_json:
        emit_object({**record, "published_now": changed}, as_json=True)
        return
    click.echo(f"published event {number}" if changed else f"event {number} is already published")


@click.command("cancel", short_help="Call an event off and tell residents.")
@click.argument("event_id")
@click.option("--reason", help="Told to everyone confirmed or waitlisted.")
@as_option
@json_option("Print the cancelled event as JSON, with how many residents will be told.")
@click.pass_context
def cancel_command(
    ctx: click.Context, event_id: str, reason: str | None, as_account: str | None, as_json: bool
) -> None:
    """Call an event off; every confirmed and waitlisted resident gets a push."""
    number = event_id_of(event_id)
    if reason is None or not reason.strip():
        raise StaffError("--reason is required: residents are told why")
    with event_session(ctx) as db:
        actor = acting(db, as_account, Permission.MANAGE_EVENTS)
        now = now_from_context(ctx)
        status = get_event(db, number).status
        told = cancel_event(db, number, reason, now, local_tz(ctx))
        event = get_event(db, number)
        audit_cancelled(db, actor, event, status, told, now)
        record = {**event_record(db, event), "cancel_reason": event.cancel_reason, "told": told}
    if as_json:
        emit_object(record, as_json=True)
        return
    click.echo(f"cancelled event {number}; {told} resident(s) will be told")
