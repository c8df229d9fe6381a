"""``aixiang broadcast``: staff tell residents about an event, or anything, in one command.

Everything is checked before anything is written: exactly one of --event/--text, the
audience, the time, and for --mass WeChat's quotas. A mistake is one line and exit 2. A
dry run prints who would get the message (and who is left out and why) and the message
as residents will read it, in both languages; a real send records the broadcast and its
outbox rows in one transaction, which the worker then delivers. Sending, scheduling and
cancelling are audited with the broadcast; ``--as`` names an account allowed to send
broadcasts.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from bot.cli.actors import acting, as_option
from bot.cli.support import (
    StaffError,
    config_from_context,
    emit,
    emit_object,
    format_local,
    json_option,
    now_from_context,
    parse_id,
    parse_local_time,
    staff_session,
)
from bot.config.sections import Config
from bot.redis_conn import connect_redis
from bot.services import broadcast_settings
from models.accounts.roles import Permission
from models.broadcasts.audience import (
    AUDIENCE_HELP,
    Audience,
    AudienceCount,
    count_audience,
    resolve_audience,
)
from models.broadcasts.fanout import cancel_broadcast, check_send_at, create_broadcast, fan_out
from models.broadcasts.mass import MassMethod, MassPlan, check_mass_quota, plan_mass
from models.broadcasts.messages import (
    announceable_event,
    as_residents_see,
    event_announcement,
    text_message,
)
from models.broadcasts.preview import mass_split, preview_reach
from models.broadcasts.queries import recent_broadcasts
from models.broadcasts.records import Broadcast, BroadcastError
from models.push.channels import ChannelPause, LiveLimits
from models.push.reach import Reach
from scheduler.limits import read_limits

LANGUAGE_TITLES = (("zh", "中文"), ("en", "English"))


@click.command("broadcast", short_help="Send a message to residents.")
@click.option("--event", "event_id", help="Announce this event (its id, as `events list` shows).")
@click.option("--text", help="Your own message (Chinese, or one text for everyone).")
@click.option("--text-en", help="The English version of --text (default: --text itself).")
@click.option("--audience", help=f"Who gets it: {AUDIENCE_HELP}.")
@click.option(
    "--at", "at", help="Local time to send it, within a year, e.g. 2026-06-01T09:30 (default: now)."
)
@click.option("--dry-run", is_flag=True, help="Show the audience and the message; send nothing.")
@click.option("--mass", is_flag=True, help="Use WeChat's mass-send API (quotas apply).")
@as_option
@json_option()
@click.pass_context
def broadcast(
    ctx: click.Context,
    event_id: str | None,
    text: str | None,
    text_en: str | None,
    audience: str | None,
    at: str | None,
    dry_run: bool,
    mass: bool,
    as_account: str | None,
    as_json: bool,
) -> None:
    """Send a message to residents (unsubscribed and opted-out residents never get it)."""
    config = config_from_context(ctx)
    settings = broadcast_settings(config)
    if (event_id is None) == (text is None):
        raise StaffError("give exactly one of --event ID and --text TEXT")
    if text_en is not None and text is None:
        raise StaffError("--text-en goes with --text")
    if audience is None:
        raise StaffError(f"--audience is required: {AUDIENCE_HELP}")
    now = now_from_context(ctx)
    send_at = None if at is None else _send_at(at, settings.tz, now)
    categories = [category.key for category in config.needs.categories]
    try:
        with staff_session(ctx) as db:
            actor = acting(db, as_account, Permission.SEND_BROADCASTS)
            number = None if event_id is None else parse_id(event_id, "an event id", "events list")
            if number is not None:
                event = announceable_event(db, number, send_at or now)
                texts = event_announcement(db, event, settings.tz)
            else:
                assert text is not None
                texts = text_message(text, text_en)
            if dry_run and not mass:
                live = _live_limits(config, now)
                spec, reach = preview_reach(db, audience, settings, now, live, categories)
                _report_dry_run(_reach_summary(spec, reach, texts, send_at), as_json, settings.tz)
                return
            # A mass send plans its requests from the residents themselves; a normal one
            # needs only their number here, as its rows are written inside the database.
            found: Audience | AudienceCount = (
                resolve_audience(db, audience, now, categories)
                if mass
                else count_audience(db, audience, now, categories)
            )
            if found.size == 0 and send_at is None and not dry_run:
                raise StaffError(
                    f"nobody to send to: --audience {found.spec} matches no resident who "
                    f"follows and has not opted out ({found.excluded_unsubscribed} "
                    f"unsubscribed, {found.excluded_opted_out} opted out)"
                )
            plan = plan_mass(found, settings) if isinstance(found, Audience) else None
            if plan is not None:
                check_mass_quota(db, plan, settings, now, send_at=send_at)
            summary = _summary(found, plan, texts, send_at)
            if dry_run:
                assert plan is not None
                split = mass_split(db, plan, settings, now, _live_limits(config, now))
                summary["channels"] = {"mass": split.mass, **split.singles}
                summary.update(_pause_fields("mass_", split.mass_paused))
                summary.update(_pause_fields("", split.paused))
                _report_dry_run(summary, as_json, settings.tz)
                return
            record = create_broadcast(
                db,
                actor,
                texts=texts,
                audience=found.spec,
                now=now,
                scheduled_at=send_at,
                event_id=number,
                mass=mass,
            )
            summary = {"broadcast_id": record.id, **summary}
            if send_at is not None:
                _report_scheduled(summary, as_json, settings.tz, send_at)
                return
            with click.progressbar(
                length=found.size, label="queuing", file=sys.stderr, show_pos=True
            ) as bar:
                result = fan_out(db, record, now, settings, progress=bar.update)
    except BroadcastError as refusal:
        raise StaffError(str(refusal)) from None
    _report_sent({**summary, "status": "sent", "rows": result.rows}, as_json)


def _send_at(value: str, tz: ZoneInfo, now: datetime) -> datetime:
    """--at as staff typed it, refused before anything is counted when it is unusable."""
    moment = parse_local_time(value, tz, "--at")
    try:
        check_send_at(moment, now, tz)
    except BroadcastError as refusal:
        raise StaffError(str(refusal)) from None
    return moment


def _live_limits(config: Config, now: datetime) -> LiveLimits:
    """The spent allowances and quota pauses the workers keep in Redis (none without it)."""
    client = connect_redis(config.redis.url)
    try:
        return read_limits(client, now, config.wechat.account_type)
    finally:
        client.close()


def _pause_fields(prefix: str, pause: ChannelPause | None) -> dict[str, datetime]:
    """A quota pause's probe and its quota's reset, as the dry run names them."""
    if pause is None:
        return {}
    return {f"{prefix}paused_until": pause.until, f"{prefix}quota_resets_at": pause.resets_at}


def _reach_summary(
    spec: str, reach: Reach, texts: dict[str, str], send_at: datetime | None
) -> dict[str, Any]:
    """A normal broadcast's dry run, counted without reading its residents one by one."""
    return {
        "audience": spec,
        "recipients": reach.reached,
        "excluded_unsubscribed": reach.excluded_unsubscribed,
        "excluded_opted_out": reach.excluded_opted_out,
        "send_at": send_at,
        "mass": False,
        "text": as_residents_see(texts),
        "channels": reach.counts(),
        **_pause_fields("", reach.paused),
    }


def _summary(
    found: Audience | AudienceCount,
    plan: MassPlan | None,
    texts: dict[str, str],
    send_at: datetime | None,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "audience": found.spec,
        "recipients": found.size,
        "excluded_unsubscribed": found.excluded_unsubscribed,
        "excluded_opted_out": found.excluded_opted_out,
        "send_at": send_at,
        "mass": plan is not None,
        "text": as_residents_see(texts),
    }
    if plan is not None:
        summary["mass_requests"] = [
            {
                "target": request.target,
                "method": request.method,
                "language": request.language,
                "recipients": len(request.recipients),
            }
            for request in plan.requests
        ]
        summary["single_messages"] = len(plan.singles)
    return summary


def _how(request: dict[str, Any]) -> str:
    """How one mass request is addressed and in which language, as staff should read it."""
    if request["method"] == MassMethod.TO_ALL:
        how = "to every follower"
    elif request["method"] == MassMethod.BY_TAG:
        how = "by WeChat tag"
    else:
        how = f"by openid list {request['target']}"
    language = request["language"]
    words = "one message in both languages" if language == "both" else f"in {language}"
    return f"{how}, {request['recipients']} residents ({words})"


def _report_dry_run(summary: dict[str, Any], as_json: bool, tz: ZoneInfo) -> None:
    if as_json:
        emit_object({"dry_run": True, **summary}, as_json=True)
        return
    click.echo("dry run: nothing was queued")
    _echo_audience(summary)
    channels = summary["channels"]
    if "mass" in channels:
        click.echo(f"by WeChat's mass send: {channels['mass']}")
        _echo_pause("mass sends", summary, "mass_", tz)
    click.echo(
        f"now by customer-service message: {channels['custom']}, by template message: "
        f"{channels['template']}, by subscription notice: {channels['subscribe']}"
    )
    click.echo(f"put off by a quota pause: {channels['paused']}")
    _echo_pause("its channels", summary, "", tz)
    click.echo(
        f"held for their next message (never, if none comes before it expires): {channels['held']}"
    )
    for language, title in LANGUAGE_TITLES:
        click.echo(f"--- {title} ---")
        click.echo(summary["text"][language])


def _echo_pause(what: str, summary: dict[str, Any], prefix: str, tz: ZoneInfo) -> None:
    until = summary.get(f"{prefix}paused_until")
    if until is not None:
        click.echo(
            f"  {what} paused until {format_local(until, tz)}; WeChat's quota "
            f"resets {format_local(summary[f'{prefix}quota_resets_at'], tz)}"
        )


def _report_scheduled(
    summary: dict[str, Any], as_json: bool, tz: ZoneInfo, send_at: datetime
) -> None:
    if as_json:
        emit_object({**summary, "status": "scheduled"}, as_json=True)
        return
    click.echo(
        f"broadcast {summary['broadcast_id']} scheduled for {format_local(send_at, tz)} "
        f"({tz.key}); the audience is counted again when it is sent"
    )
    _echo_audience(summary)


def _report_sent(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_object(summary, as_json=True)
        return
    requests = summary.get("mass_requests")
    if requests is None:
        click.echo(f"broadcast {summary['broadcast_id']}: queued {summary['recipients']} messages")
    else:
        click.echo(
            f"broadcast {summary['broadcast_id']}: queued {len(requests)} mass-send "
            f"requests for {summary['recipients'] - summary['single_messages']} residents"
        )
    _echo_audience(summary)


def _echo_audience(summary: dict[str, Any]) -> None:
    click.echo(f"audience: {summary['audience']}")
    click.echo(f"recipients: {summary['recipients']}")
    click.echo(f"excluded, unsubscribed: {summary['excluded_unsubscribed']}")
    click.echo(f"excluded, opted out (退订): {summary['excluded_opted_out']}")
    for request in summary.get("mass_requests", []):
        click.echo(f"mass: {_how(request)}")
    singles = summary.get("single_messages", 0)
    if singles:
        click.echo(
            f"normal messages: {singles} (alone in their language, and WeChat's mass send "
            "needs at least 2 openids)"
        )


@click.group("broadcasts", short_help="List or cancel scheduled broadcasts.")
def broadcasts() -> None:
    """See scheduled broadcasts and cancel one before it goes out (send with `broadcast`)."""


@broadcasts.command("list", short_help="Scheduled broadcasts, soonest first.")
@click.option("--all", "everything", is_flag=True, help="Every status, newest first.")
@json_option()
@click.pass_context
def list_broadcasts(ctx: click.Context, everything: bool, as_json: bool) -> None:
    """Scheduled broadcasts, soonest first (with --all: the latest 50 of any status)."""
    with staff_session(ctx) as db:
        rows = [
            _listed(b, cut=not as_json)
            for b in recent_broadcasts(db, scheduled_only=not everything)
        ]
    emit(rows, as_json)


def _listed(broadcast: Broadcast, *, cut: bool) -> dict[str, Any]:
    """A broadcast as staff list it: its text's first line cut to fit a table's column,
    whole in JSON (a script must never get a fragment)."""
    return {
        "id": broadcast.id,
        "status": broadcast.status,
        "at": broadcast.scheduled_at,
        "audience": broadcast.audience,
        "mass": broadcast.mass,
        "event": broadcast.event_id,
        "recipients": broadcast.recipients if broadcast.sent_at is not None else None,
        "text": _headline(broadcast.text_zh) if cut else broadcast.text_zh,
        "note": broadcast.error,
    }


def _headline(text: str, most: int = 24) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= most else f"{line[: most - 1]}…"


@broadcasts.command("cancel", short_help="Cancel a broadcast before it goes out.")
@click.argument("broadcast_id")
@as_option
@json_option("Print the cancelled broadcast as JSON.")
@click.pass_context
def cancel(ctx: click.Context, broadcast_id: str, as_account: str | None, as_json: bool) -> None:
    """Cancel a scheduled broadcast; one that has gone out cannot be called back."""
    number = parse_id(broadcast_id, "a broadcast id", "broadcasts list")
    tz = config_from_context(ctx).bot.tz
    try:
        with staff_session(ctx) as db:
            actor = acting(db, as_account, Permission.SEND_BROADCASTS)
            cancelled = cancel_broadcast(db, actor, number, now_from_context(ctx))
            record = _listed(cancelled, cut=False)
    except BroadcastError as refusal:
        raise StaffError(str(refusal)) from None
    if as_json:
        emit_object(record, as_json=True)
        return
    click.echo(
        f"broadcast {number} cancelled; it was to go out {format_local(cancelled.scheduled_at, tz)}"
    )
