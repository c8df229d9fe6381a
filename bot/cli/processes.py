"""The long-running processes: ``serve`` (webhook), ``worker`` (outbox) and ``scheduler``."""

from __future__ import annotations

import signal
import sys
import threading

import click

from bot.cli.support import StaffError, config_from_context, open_database, wechat_process
from bot.config.errors import ConfigError
from bot.heap import freeze_startup_objects
from bot.ports import PortTaken, ensure_port_free
from scheduler.jobs import JobContext, run_all_once
from scheduler.process import run_scheduler
from scheduler.worker import Worker


def _stop_on_signals() -> threading.Event:
    """SIGTERM and Ctrl-C finish the current batch or job, then exit."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _require_database(ctx: click.Context) -> None:
    """A process whose database is unreachable or has no schema stops at start in one
    line, instead of logging a traceback per batch or job until someone looks."""
    open_database(config_from_context(ctx).database).dispose()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Run the webhook and the console under gunicorn (production).

    Run it behind a reverse proxy that buffers whole requests (nginx with
    proxy_request_buffering on; see docs/nginx.conf.example), not exposed directly
    with --host 0.0.0.0: slow clients would hold its threads.
    """
    config = config_from_context(ctx)
    try:
        config.require_wechat_credentials()
        config.require_console_secret()
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


@click.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.pass_context
def worker(ctx: click.Context, once: bool) -> None:
    """Deliver the outbox to WeChat (several may run at once)."""
    _require_database(ctx)
    with wechat_process(ctx) as (services, client):
        delivery = Worker(services, client)
        try:
            if once:
                click.echo(f"{delivery.run_once()} outbox rows handled")
            else:
                freeze_startup_objects()
                delivery.run_forever(_stop_on_signals())
        finally:
            delivery.close()


@click.command(short_help="Run the time-driven jobs (one leads).")
@click.option("--once", is_flag=True, help="Run every job once, then exit (for cron and tests).")
@click.pass_context
def scheduler(ctx: click.Context, once: bool) -> None:
    """Run time-driven jobs: reminders, event status, broadcasts, digest, expiry, media."""
    _require_database(ctx)
    with wechat_process(ctx) as (services, client):
        job_context = JobContext(services=services, client=client)
        if once:
            if not run_all_once(job_context):
                sys.exit(1)
            return
        freeze_startup_objects()
        run_scheduler(job_context, _stop_on_signals())
