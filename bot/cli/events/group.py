"""The ``aixiang events`` group, with each of its commands added by name."""

from __future__ import annotations

import click

from bot.cli.events.changes import (
    cancel_command,
    create_command,
    publish_command,
    update_command,
)
from bot.cli.events.checkin import checkin_command, walk_in_command
from bot.cli.events.listing import list_command
from bot.cli.events.qr import qr_command
from bot.cli.events.roster import roster_command


@click.group(short_help="Co-building events and their check-in.")
def events() -> None:
    """Co-building events: create, publish, cancel, list, roster, check-in, walk-ins, QR codes."""


for command in (
    create_command,
    update_command,
    publish_command,
    cancel_command,
    list_command,
    roster_command,
    checkin_command,
    walk_in_command,
    qr_command,
):
    events.add_command(command)
