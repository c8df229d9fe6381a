"""The weekly report: the week's figures in a few lines, pushed on WeChat to each active
console account that turned it on and linked its WeChat.

The figures are the impact dashboard's, read by the same queries (models/impact/) over
the same scope: the week's local days, and for a partner's account its own
organisation's work only. A test holds them equal to the dashboard's for those dates.

Each account gets one report a week: the outbox key ``weekly:<first day>:<account id>``
makes a second run of the job (twice, late, after a restart, on a standby) queue nothing.
The report is read in the account's language (the payload's ``language``), not the one
its WeChat last spoke in, and expires when the next one is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urljoin
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts.tables import Account
from models.impact.events import held_event_rows, total
from models.impact.needs import over_deadline, raised_need_counts
from models.impact.residents import residents_served
from models.impact.scope import ImpactScope
from models.needs.queue import AckDeadlines
from models.needs.tables import NeedStatus
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.push.rows import enqueue_push
from models.reports.week import ReportWeek, is_late
from models.residents import get_or_create_resident
from texts.catalog import LINES, Both, both

# The impact dashboard's page under the console's public address (the console mounts it
# at /console/impact/; tests/test_weekly_report.py holds the two together).
DASHBOARD_PATH = "console/impact/"


@dataclass(frozen=True)
class WeeklyFigures:
    """The week's figures, each as the impact dashboard counts it."""

    activities: int
    residents_served: int
    # People confirmed for the week's events, and people who came (walk-ins included).
    signed_up: int
    attended: int
    walk_ins: int
    needs_raised: int
    needs_resolved: int
    # Needs raised in the week still unacknowledged past their category's deadline now.
    over_deadline: int


def weekly_figures(
    db: Session, scope: ImpactScope, deadlines: AckDeadlines, now: datetime, tz: ZoneInfo
) -> WeeklyFigures:
    events = total(held_event_rows(db, scope))
    needs = raised_need_counts(db, scope, tz)
    return WeeklyFigures(
        activities=events.events,
        residents_served=residents_served(db, scope),
        signed_up=events.confirmed,
        attended=events.attended + events.walk_ins,
        walk_ins=events.walk_ins,
        needs_raised=needs.total,
        needs_resolved=needs.in_status(NeedStatus.RESOLVED),
        over_deadline=sum(over_deadline(db, scope, deadlines, now).values()),
    )


def dashboard_link(public_url: str, week: ReportWeek) -> str:
    """The dashboard narrowed to the week's dates, or "" with no public address set."""
    if not public_url:
        return ""
    query = urlencode(
        {"period": "custom", "start": week.first.isoformat(), "end": week.last.isoformat()}
    )
    base = public_url if public_url.endswith("/") else f"{public_url}/"
    return f"{urljoin(base, DASHBOARD_PATH)}?{query}"


def render_report(figures: WeeklyFigures, week: ReportWeek, link: str) -> Both:
    lines = [
        both("push_weekly_title", week=week.label),
        both(
            "push_weekly_events",
            activities=figures.activities,
            signed_up=figures.signed_up,
            attended=figures.attended,
            walk_ins=figures.walk_ins,
        ),
        both("push_weekly_residents", count=figures.residents_served),
        both(
            "push_weekly_needs",
            raised=figures.needs_raised,
            resolved=figures.needs_resolved,
            over_deadline=figures.over_deadline,
        ),
    ]
    if link:
        lines.append(both("push_weekly_link", url=link))
    return LINES.join(lines)


def report_payload(
    figures: WeeklyFigures, week: ReportWeek, link: str, language: str
) -> dict[str, Any]:
    """The report's texts, the language its account reads, and its template values
    (models/push/registry.py)."""
    return {
        "text": render_report(figures, week, link).as_dict(),
        "language": language,
        "fields": {
            "week": week.label,
            "activities": figures.activities,
            "residents_served": figures.residents_served,
            "signed_up": figures.signed_up,
            "attended": figures.attended,
            "needs_raised": figures.needs_raised,
            "needs_resolved": figures.needs_resolved,
            "over_deadline": figures.over_deadline,
            "url": link,
        },
    }


def report_key(week: ReportWeek, account_id: int) -> str:
    return f"weekly:{week.first.isoformat()}:{account_id}"


def report_recipients(db: Session) -> list[Account]:
    """The accounts that get the report: active, with it turned on and WeChat linked."""
    return list(
        db.execute(
            select(Account)
            .where(
                Account.active.is_(True),
                Account.weekly_report.is_(True),
                Account.wechat_openid.is_not(None),
            )
            .order_by(Account.id)
        ).scalars()
    )


def queue_weekly_reports(
    db: Session,
    week: ReportWeek,
    now: datetime,
    deadlines: AckDeadlines,
    public_url: str,
    tz: ZoneInfo,
) -> int:
    """Queue ``week``'s report to each account that gets it and has none yet; returns how
    many were queued. Nothing before the report is due or a day after it was."""
    if now < week.due or is_late(week, now):
        return 0
    wanted = {report_key(week, account.id): account for account in report_recipients(db)}
    queued = set(
        db.execute(
            select(OutboxMessage.idempotency_key).where(
                OutboxMessage.idempotency_key.in_(list(wanted))
            )
        ).scalars()
    )
    link = dashboard_link(public_url, week)
    figures: dict[int | None, WeeklyFigures] = {}
    count = 0
    for key, account in wanted.items():
        if key in queued or account.wechat_openid is None:
            continue
        partner_id = account.partner_id
        if partner_id not in figures:
            scope = ImpactScope(week.start, week.end, partner_id=partner_id)
            figures[partner_id] = weekly_figures(db, scope, deadlines, now, tz)
        resident = get_or_create_resident(db, account.wechat_openid, now, followed=False)
        row = enqueue_push(
            db,
            recipient_openid=account.wechat_openid,
            kind=PushKind.WEEKLY_REPORT,
            payload=report_payload(figures[partner_id], week, link, account.language),
            idempotency_key=key,
            now=now,
            resident_id=resident.id,
            expires_at=week.next_due,
        )
        count += row is not None
    return count
