"""Processes that push (`worker`, `scheduler`), the outbox tools, and `menu push`."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click

from bot.cli_support import (
    StaffError,
    config_from_context,
    emit,
    emit_object,
    format_local,
    parse_id,
    staff_session,
)
from bot.config import ConfigError
from bot.services import Services, build_services
from bot.wechat_client import AixiangWeChatClient, WeChatAPIError, build_wechat_client, push_menu
from models import outbox
from models.base import utcnow
from scheduler.jobs import JobContext, run_all_once
from scheduler.process import run_scheduler
from scheduler.worker import Worker


@contextmanager
def _wechat_process(ctx: click.Context) -> Iterator[tuple[Services, AixiangWeChatClient]]:
    config = config_from_context(ctx)
    try:
        config.require_wechat_credentials()
    except ConfigError as exc:
        raise StaffError(f"config: {exc}") from None
    services = build_services(config)
    client = build_wechat_client(config, services.redis)
    try:
        yield services, client
    finally:
        client.close()
        services.close()


def _stop_on_signals() -> threading.Event:
    """SIGTERM and Ctrl-C finish the current batch or job, then exit."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@click.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.pass_context
def worker(ctx: click.Context, once: bool) -> None:
    """Deliver the outbox to WeChat (several may run at once)."""
    with _wechat_process(ctx) as (services, client):
        delivery = Worker(services, client)
        try:
            if once:
                click.echo(f"{delivery.run_once()} outbox rows handled")
            else:
                delivery.run_forever(_stop_on_signals())
        finally:
            delivery.close()


@click.command()
@click.option("--once", is_flag=True, help="Run every job once, then exit (for cron and tests).")
@click.pass_context
def scheduler(ctx: click.Context, once: bool) -> None:
    """Run time-driven jobs: reminders, event status, broadcasts, digest, expiry, media."""
    with _wechat_process(ctx) as (services, client):
        job_context = JobContext(services=services, client=client)
        if once:
            if not run_all_once(job_context):
                sys.exit(1)
            return
        run_scheduler(job_context, _stop_on_signals())


@click.group(name="outbox")
def outbox_group() -> None:
    """Inspect and repair the outbox."""


@outbox_group.command("stats")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox_stats(ctx: click.Context, as_json: bool) -> None:
    """Counts by kind and status, and the age of the oldest pending push."""
    tz = config_from_context(ctx).bot.tz
    now = utcnow()
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
        emit_object({"groups": rows, "oldest_pending_age_s": oldest_age}, as_json=True)
        return
    emit(rows, as_json=False)
    if oldest_age is not None:
        click.echo(f"oldest pending push waiting {_duration(oldest_age)}")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {secs}s"


@outbox_group.command("retry")
@click.option("--dead", is_flag=True, required=True, help="Retry dead-lettered pushes.")
@click.option("--kind", help="Only this kind of push.")
@click.pass_context
def outbox_retry(ctx: click.Context, dead: bool, kind: str | None) -> None:
    """Give dead pushes a fresh set of attempts, once what killed them is fixed."""
    with staff_session(ctx) as db:
        count = outbox.retry_dead(db, utcnow(), kind)
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


@click.group()
def menu() -> None:
    """The account's custom menu."""


@menu.command("push")
@click.pass_context
def menu_push(ctx: click.Context) -> None:
    """Create the custom menu in WeChat from the [menu] config."""
    with _wechat_process(ctx) as (services, client):
        try:
            push_menu(client, services.config.menu)
        except WeChatAPIError as exc:
            raise StaffError(
                f"WeChat refused the menu: {exc.errmsg} (errcode {exc.errcode})"
            ) from None
    click.echo(f"menu with {len(services.config.menu.buttons)} buttons pushed to WeChat")
