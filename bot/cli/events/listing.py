"""``events list``: events with their places taken."""

from __future__ import annotations

import click

from bot.cli.events.options import event_session
from bot.cli.events.records import event_records
from bot.cli.support import emit, json_option, now_from_context
from models.events.queries import list_events

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
@json_option()
@click.pass_context
def list_command(ctx: click.Context, upcoming: bool, as_json: bool) -> None:
    """Events with their places taken, newest first (soonest first with --upcoming)."""
    with event_session(ctx) as db:
        rows = event_records(db, list_events(db, now_from_context(ctx), upcoming=upcoming))
    if as_json:
        emit(rows, as_json=True)
        return
    emit(
        rows,
        as_json=False,
        columns=LIST_COLUMNS,
        formatters={"tags": lambda value: ",".join(value)},
    )
