"""The `aixiang` command: processes (serve, worker, scheduler, demo) and staff tools.

Each staff area keeps its commands in its own module (bot/cli_*.py) and is added here.
"""

from __future__ import annotations

import logging
import os
import sys

import click
from alembic.util import CommandError
from sqlalchemy.exc import OperationalError

from bot.cli_broadcast import broadcast, broadcasts
from bot.cli_demo import demo, fake_wechat
from bot.cli_events import events
from bot.cli_needs import needs, partners
from bot.cli_push import menu, outbox_group, scheduler, worker
from bot.cli_support import StaffError, config_from_context
from bot.config import ConfigError
from bot.ports import PortTaken, ensure_port_free
from models import migrate


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """Aixiang (爱乡): the WeChat front door of a community co-building club."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create or migrate the database schema."""
    config = config_from_context(ctx)
    try:
        migrate.upgrade(config.database.url, revision)
    except CommandError as exc:
        raise StaffError(f"db upgrade: {exc}") from None
    except OperationalError as exc:
        # The driver's own words, not SQLAlchemy's: those repeat the URL and its password.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        raise StaffError(f"db upgrade: cannot reach the database: {reason}") from None
    click.echo(f"database at {revision}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Run the webhook under gunicorn (production)."""
    config = config_from_context(ctx)
    try:
        config.require_wechat_credentials()
    except ConfigError as exc:
        raise StaffError(f"config: {exc}") from None
    if config.uses_embedded_redis and workers > 1:
        raise StaffError(
            "config: redis.url is the in-process substitute, which cannot be shared by "
            "several workers; set redis.url or use --workers 1"
        )
    try:
        ensure_port_free(host, port, "--port")
    except PortTaken as exc:
        raise StaffError(str(exc)) from None
    from bot.gunicorn_app import run_gunicorn

    run_gunicorn(config, host=host, port=port, workers=workers)


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


def run() -> None:
    """Entry point that keeps `python -m bot` and the console script identical."""
    main(prog_name=os.path.basename(sys.argv[0]) if "aixiang" in sys.argv[0] else "aixiang")
