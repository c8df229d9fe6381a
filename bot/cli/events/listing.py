"""``events list``: events with their places taken."""

from __future__ import annotations

import click

from bot.cli.events.options import event_session
from bot.cli.events.records import event_records
from bot.cli.support import emit, json_option, now_from_context
from models.events.queries import list_events
from models.villages.queries import find_village

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


@click.command("list", short_help="Events with their places taken.")
@click.option("--upcoming", is_flag=True, help="Only drafts and published events to come.")
@click.option("--village", help="Only those in this village (its groups included).")
@json_option()
@click.pass_context
def list_command(ctx: click.Context, upcoming: bool, village: str | None, as_json: bool) -> None:
    """Events with their places taken, newest first (soonest first with --upcoming)."""
    with event_session(ctx) as db:
        village_id = find_village(db, village).id if village is not None else None
        found = list_events(db, now_from_context(ctx), upcoming=upcoming, village_id=village_id)
        rows = event_records(db, found)
    if as_json:
        emit(rows, as_json=True)
        return
    emit(
        rows,
        as_json=False,
        columns=LIST_COLUMNS,
        formatters={"tags": lambda value: ",".join(value)},
    )
