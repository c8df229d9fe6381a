"""``aixiang outbox``: inspect and repair the outbox."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from bot.cli.support import (
    StaffError,
    config_from_context,
    emit,
    emit_object,
    format_local,
    now_from_context,
    parse_id,
    staff_session,
)
from bot.spool import Spool
from models import outbox


@click.group(name="outbox")
def outbox_group() -> None:
    """Inspect and repair the outbox."""


@outbox_group.command("stats")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox_stats(ctx: click.Context, as_json: bool) -> None:
    """Counts by kind and status, oldest pending push, spool on this host.

    The spool holds deliveries kept while the database was down; their replies are
    pushes still to come."""
    config = config_from_context(ctx)
    tz = config.bot.tz
    now = now_from_context(ctx)
    spooled = Spool(Path(config.bot.spool_dir)).depth()
    spool_age = None if spooled.oldest is None else (now - spooled.oldest).total_seconds()
    with staff_session(ctx) as db:
        groups = outbox.stats(db)
    rows = [
        {
            "kind": g.kind,
            "status": g.status,
            "count": g.count,
            "oldest": format_local(g.oldest, tz) if not as_json else g.oldest,
        }
        for g in groups
    ]
    pending = [g.oldest for g in groups if g.status == outbox.PENDING and g.oldest]
    oldest_age = (now - min(pending)).total_seconds() if pending else None
    if as_json:
        spool = {"depth": spooled.records, "oldest_age_s": spool_age}
        emit_object(
            {"groups": rows, "oldest_pending_age_s": oldest_age, "spool": spool}, as_json=True
        )
        return
    emit(rows, as_json=False)
    if oldest_age is not None:
        click.echo(f"oldest pending push waiting {_duration(oldest_age)}")
    if spool_age is not None:
        click.echo(
            f"{spooled.records} deliveries spooled on this host, "
            f"the oldest waiting {_duration(spool_age)}"
        )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {secs}s"


@outbox_group.command("retry", short_help="Give dead pushes fresh attempts.")
@click.option("--dead", is_flag=True, required=True, help="Retry dead-lettered pushes.")
@click.option("--kind", help="Only this kind of push.")
@click.pass_context
def outbox_retry(ctx: click.Context, dead: bool, kind: str | None) -> None:
    """Give dead pushes a fresh set of attempts, once what killed them is fixed."""
    with staff_session(ctx) as db:
        count = outbox.retry_dead(db, now_from_context(ctx), kind)
    click.echo(f"{count} dead pushes queued again")


@outbox_group.command("show")
@click.argument("row_ref")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox_show(ctx: click.Context, row_ref: str, as_json: bool) -> None:
    """One push with its payload, status and last error."""
    row_id = parse_id(row_ref, "an outbox row", "outbox stats")
    tz = config_from_context(ctx).bot.tz
    with staff_session(ctx) as db:
        row = db.get(outbox.OutboxMessage, row_id)
        if row is None:
            raise StaffError(f"no outbox row {row_id}")
        record: dict[str, Any] = {
            column: getattr(row, column)
            for column in (
                "id",
                "kind",
                "recipient_openid",
                "resident_id",
                "status",
                "channel",
                "attempts",
                "idempotency_key",
                "last_error",
                "payload",
            )
        }
        for column in ("created_at", "next_attempt_at", "sent_at", "expires_at", "lease_until"):
            value: datetime | None = getattr(row, column)
            record[column] = value if as_json else format_local(value, tz)
    emit_object(record, as_json)
