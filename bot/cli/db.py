"""``aixiang db``: create or migrate the database schema."""

from __future__ import annotations

import click
from alembic.util import CommandError
from sqlalchemy.exc import OperationalError

from bot.cli.support import StaffError, config_from_context, unreachable
from models import migrate


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create or migrate the database schema."""
    config = config_from_context(ctx)
    try:
        migrate.upgrade(config.database.url, revision, config.database.connect_timeout_s)
    except CommandError as exc:
        raise StaffError(f"db upgrade: {exc}") from None
    except OperationalError as exc:
        raise StaffError(f"db upgrade: {unreachable(exc).message}") from None
    click.echo(f"database at {revision}")
