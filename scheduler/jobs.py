"""Every time-driven job, declared once with a stable id.

Each job is an idempotent sweep over the shared tables (the outbox, reminders, broadcasts),
so running one twice, late, or from `aixiang scheduler --once` under cron does no harm,
and a standby scheduler taking over needs no hand-over of state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config.sections import Config
from bot.services import Services, broadcast_settings
from bot.wechat.client import AixiangWeChatClient
from models import digest, reminders
from models.broadcasts.fanout import send_due_broadcasts
from models.events.staff import finish_past_events
from models.push.upkeep import expire_stale
from models.reports.week import ReportWeek, Weekday, is_late, latest_week, parse_time
from models.reports.weekly import queue_weekly_reports
from scheduler.exports.runs import ExportSettings, run_export_jobs
from scheduler.leader import Deposed, Fence
from scheduler.media import run_media_sweep

log = logging.getLogger(__name__)


def _summary(count: int, text: str) -> str:
    """A job's log line, or nothing when it found nothing to do (it runs every minute)."""
    return text if count else ""


@dataclass(frozen=True)
class JobContext:
    """What jobs run with. Under a leader, ``fence`` is its lead's fencing token and
    ``services.session_factory`` its fenced sessions (``Fence.sessions``); `aixiang
    scheduler --once` and the demo run without one."""

    services: Services
    client: AixiangWeChatClient
    fence: Fence | None = None


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[JobContext], str]
    trigger: Callable[[Config], BaseTrigger]
    # Whether a scheduler taking the lead at ``now`` must run the job at once: a daily
    # job whose time passed while nobody led would otherwise wait for tomorrow's.
    missed: Callable[[Config, datetime], bool] = lambda config, now: False


def _every(minutes: int) -> Callable[[Config], BaseTrigger]:
    return lambda config: IntervalTrigger(minutes=minutes, timezone=config.bot.tz)


def _digest_time(config: Config) -> BaseTrigger:
    hour, minute = (int(part) for part in config.push.digest_time.split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=config.bot.tz)


def _digest_missed(config: Config, now: datetime) -> bool:
    """Whether today's digest time has passed: a leader starting then (a standby taking
    over, a restart) catches up today's digest instead of skipping to tomorrow. Running
    it cannot send it twice: :func:`models.digest.queue_digest` keys each staff
    member's digest by local date, so a digest already queued today is not queued again."""
    local = now.astimezone(config.bot.tz)
    return local >= digest.digest_due_at(local.date(), config.push.digest_time, config.bot.tz)


def _report_week(config: Config, now: datetime) -> ReportWeek:
    reports = config.reports
    return latest_week(
        now, config.bot.tz, Weekday(reports.weekly_day), parse_time(reports.weekly_time)
    )


def _weekly_time(config: Config) -> BaseTrigger:
    at = parse_time(config.reports.weekly_time)
    day = Weekday(config.reports.weekly_day).number
    return CronTrigger(day_of_week=day, hour=at.hour, minute=at.minute, timezone=config.bot.tz)


def _weekly_missed(config: Config, now: datetime) -> bool:
    """Whether the latest weekly report is still worth catching up (up to a day after it
    was due): a leader starting then queues it at once. It cannot go twice: each
    account's report is keyed by week (models/reports/weekly.py)."""
    return not is_late(_report_week(config, now), now)


def queue_reminders(ctx: JobContext) -> str:
    services = ctx.services
    with services.session_factory() as db, db.begin():
        sweep = reminders.queue_due_reminders(
            db, services.clock(), services.config.push.reminder_offsets_h, services.config.bot.tz
        )
    return _summary(
        sweep.queued + sweep.skipped, f"{sweep.queued} reminders queued, {sweep.skipped} skipped"
    )


def finish_events(ctx: JobContext) -> str:
    with ctx.services.session_factory() as db, db.begin():
        finished = finish_past_events(db, ctx.services.clock())
    return _summary(finished, f"{finished} events finished")


def send_scheduled_broadcasts(ctx: JobContext) -> str:
    with ctx.services.session_factory() as db, db.begin():
        sent = send_due_broadcasts(
            db, ctx.services.clock(), broadcast_settings(ctx.services.config)
        )
    return _summary(sent, f"{sent} scheduled broadcasts sent")


def queue_staff_digest(ctx: JobContext) -> str:
    config = ctx.services.config
    with ctx.services.session_factory() as db, db.begin():
        queued = digest.queue_digest(
            db,
            ctx.services.clock(),
            config.bot.tz,
            config.push.digest_openids,
            config.push.digest_time,
            config.needs.categories,
        )
    return _summary(queued, f"{queued} staff digests queued")


def queue_weekly_report(ctx: JobContext) -> str:
    config = ctx.services.config
    now = ctx.services.clock()
    with ctx.services.session_factory() as db, db.begin():
        queued = queue_weekly_reports(
            db,
            _report_week(config, now),
            now,
            config.ack_deadlines,
            config.console.public_url,
            config.bot.tz,
        )
    return _summary(queued, f"{queued} weekly reports queued")


def expire_pushes(ctx: JobContext) -> str:
    """Pushes past their validity end; flow drafts expire by themselves (Redis TTL)."""
    with ctx.services.session_factory() as db, db.begin():
        expired = expire_stale(db, ctx.services.clock())
    return _summary(expired, f"{expired} pushes expired")


def run_exports(ctx: JobContext) -> str:
    """Exports too large for a web request, queued by the console, and expired files."""
    services = ctx.services
    ran = run_export_jobs(
        services.session_factory, ExportSettings.of(services.config), services.clock
    )
    return _summary(ran, f"{ran} exports written")


def fetch_media(ctx: JobContext) -> str:
    result = run_media_sweep(ctx.services, ctx.client)
    done = result.fetched + result.retrying + result.failed + result.erased
    return _summary(done, str(result))


JOBS: tuple[Job, ...] = (
    Job("reminders", queue_reminders, _every(1)),
    Job("event-status", finish_events, _every(5)),
    Job("scheduled-broadcasts", send_scheduled_broadcasts, _every(1)),
    Job("staff-digest", queue_staff_digest, _digest_time, _digest_missed),
    Job("weekly-report", queue_weekly_report, _weekly_time, _weekly_missed),
    Job("expire-pushes", expire_pushes, _every(5)),
    Job("fetch-media", fetch_media, _every(1)),
    Job("exports", run_exports, _every(1)),
)


def run_job(job: Job, ctx: JobContext) -> bool:
    """Run one job, logging what it did; a failing job never stops the others. Under a
    leader, a job starts only while the lead is sure, and stops at its next transaction
    once it is not."""
    try:
        if ctx.fence is not None:
            ctx.fence.check()
        summary = job.run(ctx)
    except Deposed as exc:
        log.warning("job %s not run to the end: %s", job.id, exc)
        return False
    except Exception:
        log.exception("job %s failed; it runs again at its next time", job.id)
        return False
    if summary:
        log.info("job %s: %s", job.id, summary)
    return True


def run_all_once(ctx: JobContext) -> bool:
    """Every job once, in order (``aixiang scheduler --once``); False if any failed."""
    results = [run_job(job, ctx) for job in JOBS]
    return all(results)
