"""The `aixiang` command: the processes and the staff tools, one module per command group.

``python -m bot`` and the ``aixiang`` console script both call :func:`run`.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from bot.cli.accounts import accounts
from bot.cli.arguments import StaffGroup
from bot.cli.broadcasts import broadcast, broadcasts
from bot.cli.db import db
from bot.cli.demo import demo, fake_wechat
from bot.cli.events.group import events
from bot.cli.export import export
from bot.cli.menu import menu
from bot.cli.needs import needs
from bot.cli.outbox import outbox_group
from bot.cli.partners import partners
from bot.cli.processes import scheduler, serve, worker
from bot.cli.tags import tags
from bot.cli.villages import villages
from bot.config.paths import PROJECT_ROOT


@click.group(
    cls=StaffGroup,
    epilog="Config: built-in defaults < the TOML file at AIXIANG_CONFIG, else ./config.toml "
    "< AIXIANG_<SECTION>_<KEY> variables. Relative paths in the file (the embedded SQLite "
    "database, needs.media_dir) are read from the file's folder; without a file, from the "
    f"project's, so by default every command uses {PROJECT_ROOT / 'instance' / 'aixiang.db'} "
    "whatever folder it runs in.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """Aixiang (爱乡): the WeChat front door of a community co-building club."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


main.add_command(db)
main.add_command(serve)
main.add_command(demo)
main.add_command(fake_wechat)
main.add_command(events)
main.add_command(needs)
main.add_command(partners)
main.add_command(broadcast)
main.add_command(broadcasts)
main.add_command(worker)
main.add_command(scheduler)
main.add_command(outbox_group)
main.add_command(menu)
main.add_command(accounts)
main.add_command(villages)
main.add_command(tags)
main.add_command(export)


def run() -> None:
    """Entry point that keeps `python -m bot` and the console script identical."""
    main(prog_name=os.path.basename(sys.argv[0]) if "aixiang" in sys.argv[0] else "aixiang")
