"""``aixiang outbox``: inspect and repair the outbox.

Repairs are audited (models/push); ``--as`` names an account allowed to run the service
(an admin)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import redis

from bot.cli.actors import acting, as_option
from bot.cli.support import (
    StaffError,
    config_from_context,
    emit,
    emit_object,
    json_option,
    now_from_context,
    parse_id,
    staff_session,
)
from bot.redis_conn import connect_redis
from bot.spool import Spool
from models.accounts.roles import Permission
from models.push import upkeep
from models.push.outbox import OutboxMessage
from models.push.pauses import release_paused
from models.push.registry import PushKind
from models.push.vocabulary import OutboxStatus
from scheduler.pauses import Pauses


@click.group(name="outbox")
def outbox_group() -> None:
    """Inspect and repair the outbox."""


@contextmanager
def _pauses(ctx: click.Context) -> Iterator[Pauses]:
    """The workers' quota pauses, in the configured Redis."""
    client = connect_redis(config_from_context(ctx).redis.url)
    try:
        yield Pauses(client)
    except redis.RedisError as exc:
        raise StaffError(f"Redis cannot be reached, so the pauses are unknown: {exc}") from None
    finally:
        client.close()


@outbox_group.command("stats", short_help="Counts, oldest pending push, pauses, spool.")
@json_option()
@click.pass_context
def outbox_stats(ctx: click.Context, as_json: bool) -> None:
    """Counts by kind and status, the age of the oldest pending push, the kinds whose
    sends on a channel are paused for a spent WeChat quota (until their next probe), and
    the deliveries waiting in this host's spool for the database (their replies are
    pushes to come)."""
    config = config_from_context(ctx)
    now = now_from_context(ctx)
    spooled = Spool(Path(config.bot.spool_dir)).depth()
    spool_age = None if spooled.oldest is None else (now - spooled.oldest).total_seconds()
    with staff_session(ctx) as db:
        groups = upkeep.stats(db)
    with _pauses(ctx) as pauses:
        paused = [
            {
                "kind": p.kind,
                "channel": p.channel,
                "reason": p.reason,
                "until": p.until,
                "since": p.since,
                "quota_resets": p.resets_at(config.wechat.account_type),
            }
            for p in pauses.all()
        ]
    rows = [
        {
            "kind": g.kind,
            "status": g.status,
            "count": g.count,
            "oldest": g.oldest,
        }
        for g in groups
    ]
    pending = [g.oldest for g in groups if g.status == OutboxStatus.PENDING and g.oldest]
    oldest_age = (now - min(pending)).total_seconds() if pending else None
    if as_json:
        spool = {"depth": spooled.records, "oldest_age_s": spool_age}
        emit_object(
            {
                "groups": rows,
                "oldest_pending_age_s": oldest_age,
                "paused": paused,
                "spool": spool,
            },
            as_json=True,
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
    if paused:
        click.echo(
            "paused (tried again from 'until', or `aixiang outbox resume --kind K`; "
            "WeChat's quota itself resets at 'quota_resets'):"
        )
        emit(paused, as_json=False)


@outbox_group.command("resume", short_help="Lift the quota pauses of a kind of push.")
@click.option("--kind", required=True, help="The kind of push whose sends may go again.")
@as_option
@json_option('Print {"kind": ..., "channels": [...], "released": N} as JSON.')
@click.pass_context
def outbox_resume(ctx: click.Context, kind: str, as_account: str | None, as_json: bool) -> None:
    """Lift every quota pause of a kind now (say, once WeChat raised the quota), and make
    its pushes that waited for the pause due at once."""
    _check_kind(kind)
    with staff_session(ctx) as db:
        actor = acting(db, as_account, Permission.RUN_SERVICE)
        with _pauses(ctx) as pauses:
            channels = [pause.channel for pause in pauses.resume(kind)]
        released = release_paused(db, actor, kind, channels, now_from_context(ctx))
    if as_json:
        emit_object({"kind": kind, "channels": channels, "released": released}, as_json=True)
        return
    what = ", ".join(channels) if channels else "nothing was paused"
    click.echo(f"{kind}: resumed ({what}); {released} waiting pushes due now")


def _check_kind(kind: str) -> None:
    """A kind of push as typed, refused in one line when there is no such kind (a typo
    would otherwise match no row and look like nothing to do)."""
    if kind not in set(PushKind):
        raise StaffError(f"unknown kind {kind!r}; kinds: {', '.join(PushKind)}")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {secs}s"


@outbox_group.command("retry", short_help="Give dead pushes fresh attempts.")
@click.option("--dead", is_flag=True, required=True, help="Retry dead-lettered pushes.")
@click.option("--kind", help="Only this kind of push.")
@as_option
@json_option('Print {"retried": N, "kind": ...} as JSON.')
@click.pass_context
def outbox_retry(
    ctx: click.Context, dead: bool, kind: str | None, as_account: str | None, as_json: bool
) -> None:
    """Give dead pushes a fresh set of attempts, once what killed them is fixed."""
    if kind is not None:
        _check_kind(kind)
    with staff_session(ctx) as db:
        actor = acting(db, as_account, Permission.RUN_SERVICE)
        count = upkeep.retry_dead(db, actor, now_from_context(ctx), kind)
    if as_json:
        emit_object({"retried": count, "kind": kind}, as_json=True)
        return
    click.echo(f"{count} dead pushes queued again")


@outbox_group.command("show")
@click.argument("row_ref")
@json_option()
@click.pass_context
def outbox_show(ctx: click.Context, row_ref: str, as_json: bool) -> None:
    """One push with its payload, status and last error."""
    row_id = parse_id(row_ref, "an outbox row", "outbox stats")
    with staff_session(ctx) as db:
        row = db.get(OutboxMessage, row_id)
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
                "created_at",
                "next_attempt_at",
                "sent_at",
                "expires_at",
                "lease_until",
            )
        }
    emit_object(record, as_json)
