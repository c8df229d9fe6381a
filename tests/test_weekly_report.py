"""The weekly report (models/reports/): the week it covers, figures equal to the impact
dashboard's for the dates its link opens, once per account and week however often the
job runs, only to active accounts that turned it on with WeChat linked, in the account's
language in both texts, and delivered by the worker through the fake WeChat API."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, url_for
from sqlalchemy import select

from bot.config.errors import ConfigError
from bot.config.loader import load_config
from bot.services import Services
from bot.wechat.client import build_wechat_client
from bot.wechat.fake_api.server import FakeWeChatServer
from models.accounts.operations import (
    disable_account,
    link_wechat,
    set_weekly_report,
    unlink_wechat,
)
from models.accounts.tables import Account
from models.audit import Actor
from models.impact.events import held_event_rows, total
from models.impact.headline import headline
from models.impact.needs import over_deadline
from models.impact.period import period_bounds
from models.impact.scope import ImpactScope
from models.needs.queue import AckDeadlines
from models.needs.submission import create_need
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.reports.week import Weekday, latest_week
from models.reports.weekly import (
    DASHBOARD_PATH,
    WeeklyFigures,
    dashboard_link,
    render_report,
    weekly_figures,
)
from models.residents import get_or_create_resident
from scheduler.jobs import JOBS, Job, JobContext, run_job
from tests.conftest import FakeClock
from tests.console import MakeAccount
from tests.impact import Club, day
from tests.pushes import MakePushServices, seen_resident

TZ = ZoneInfo("Asia/Shanghai")
AT = time(8, 30)
# Monday 9 March 2026, 09:00 in Shanghai: the report for 2 to 8 March is due since 08:30.
REPORT_DAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
DEADLINES = AckDeadlines({"education": 2}, 3)
ADMIN = Actor.os_user("test")
PUBLIC_URL = "https://aixiang.example.org/"


def weekly_job() -> Job:
    return next(job for job in JOBS if job.id == "weekly-report")


def opt_in(services: Services, account_id: int, openid: str) -> None:
    with services.session_factory() as db, db.begin():
        account = db.get_one(Account, account_id)
        link_wechat(db, ADMIN, account, openid, services.clock())
        set_weekly_report(db, ADMIN, account, True, services.clock())


def report_rows(services: Services) -> list[OutboxMessage]:
    with services.session_factory() as db:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.kind == PushKind.WEEKLY_REPORT)
            .order_by(OutboxMessage.id)
        )
        return list(db.execute(query).scalars())


def test_the_week_is_the_seven_local_days_before_the_report_s_day() -> None:
    due = datetime(2026, 3, 9, 0, 30, tzinfo=UTC)  # Monday 08:30 in Shanghai
    week = latest_week(due, TZ, Weekday.MONDAY, AT)
    assert (week.first.isoformat(), week.last.isoformat()) == ("2026-03-02", "2026-03-08")
    assert week.start == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2 March 00:00 local
    assert week.end == datetime(2026, 3, 8, 16, 0, tzinfo=UTC)
    assert (week.due, week.next_due) == (due, due + timedelta(days=7))
    assert week.label == "2026-03-02 – 2026-03-08"
    # A minute before it is due, the latest report is the week before's.
    earlier = latest_week(due - timedelta(minutes=1), TZ, Weekday.MONDAY, AT)
    assert earlier.first.isoformat() == "2026-02-23"
    # Due on Friday evening: the seven days before that Friday, whatever today is.
    friday = latest_week(due, TZ, Weekday.FRIDAY, time(18, 0))
    assert (friday.first.isoformat(), friday.last.isoformat()) == ("2026-02-27", "2026-03-05")


def test_the_figures_equal_the_dashboard_s_for_the_dates_its_link_opens(
    services: Services, club: Club, clock: FakeClock
) -> None:
    """A need left waiting in the week makes the over-deadline figure count."""
    with services.session_factory() as db, db.begin():
        waiting = get_or_create_resident(db, "o-waiting", day(-20))
        waiting.privacy_consent_at = day(-20)
        create_need(db, resident=waiting, category="education", description="书", now=day(6))
    clock.set(REPORT_DAY)
    week = latest_week(REPORT_DAY, TZ, Weekday.MONDAY, AT)
    dates = parse_qs(urlsplit(dashboard_link(PUBLIC_URL, week)).query)
    period = period_bounds("custom", "", TZ, dates["start"][0], dates["end"][0])
    dashboard = ImpactScope(period.start, period.end)
    with services.session_factory() as db:
        figures = weekly_figures(db, ImpactScope(week.start, week.end), DEADLINES, REPORT_DAY, TZ)
        shown = headline(db, dashboard, TZ)
        events = total(held_event_rows(db, dashboard))
        late = sum(over_deadline(db, dashboard, DEADLINES, REPORT_DAY).values())
    assert figures == WeeklyFigures(
        activities=shown.activities,
        residents_served=shown.residents_served,
        signed_up=events.confirmed,
        attended=shown.attended,
        walk_ins=events.walk_ins,
        needs_raised=shown.needs_raised,
        needs_resolved=shown.needs_resolved,
        over_deadline=late,
    )
    # The garden event (4 confirmed; 3 came with a sign-up, 1 walk-in), the lamp raised
    # three times and resolved, and the book still waiting past its two days.
    assert figures == WeeklyFigures(1, 4, 4, 4, 1, 4, 1, 1)


def test_a_partner_s_report_holds_its_own_organisation_s_figures(
    services: Services,
    club: Club,
    clock: FakeClock,
    make_account: MakeAccount,
    partners: dict[str, int],
) -> None:
    """As its dashboard does: the needs assigned to it and the events it co-hosts."""
    opt_in(services, make_account("town", "partner", partner="镇建设办"), "o-town")
    opt_in(services, make_account("li", "staff"), "o-li")
    clock.set(REPORT_DAY)
    ctx = JobContext(services, build_wechat_client(services.config, services.redis))
    assert run_job(weekly_job(), ctx)
    fields = {row.recipient_openid: row.payload["fields"] for row in report_rows(services)}
    week = latest_week(REPORT_DAY, TZ, Weekday.MONDAY, AT)
    own = ImpactScope(week.start, week.end, partner_id=partners["镇建设办"])
    with services.session_factory() as db:
        figures = weekly_figures(db, own, services.config.ack_deadlines, REPORT_DAY, TZ)
    assert (fields["o-town"]["needs_raised"], fields["o-town"]["activities"]) == (1, 1)
    assert fields["o-town"]["needs_raised"] == figures.needs_raised
    assert fields["o-town"]["residents_served"] == figures.residents_served
    assert fields["o-li"]["needs_raised"] == 3


def test_the_link_opens_the_console_s_dashboard(console_app: Flask) -> None:
    with console_app.test_request_context():
        assert url_for("console.impact.index") == f"/{DASHBOARD_PATH}"
    week = latest_week(REPORT_DAY, TZ, Weekday.MONDAY, AT)
    assert dashboard_link("https://aixiang.example.org/club", week) == (
        "https://aixiang.example.org/club/console/impact/"
        "?period=custom&start=2026-03-02&end=2026-03-08"
    )
    assert dashboard_link("", week) == ""


def test_the_report_says_the_week_in_both_languages() -> None:
    week = latest_week(REPORT_DAY, TZ, Weekday.MONDAY, AT)
    text = render_report(WeeklyFigures(3, 40, 25, 22, 2, 6, 4, 1), week, "https://x.org/d")
    assert text.zh.splitlines() == [
        "爱乡周报 2026-03-02 – 2026-03-08",
        "活动 3 场：报名 25 人，到场 22 人（含现场报名 2 人）",
        "服务居民 40 人",
        "需求：新提 6 件，已解决 4 件，超时未受理 1 件",
        "数据看板：https://x.org/d",
    ]
    assert text.en.splitlines() == [
        "Aixiang weekly report 2026-03-02 – 2026-03-08",
        "Activities: 3; 25 signed up, 22 came (2 walk-ins)",
        "Residents served: 40",
        "Needs: 6 raised, 4 resolved, 1 unacknowledged past their deadline",
        "Dashboard: https://x.org/d",
    ]
    assert "看板" not in render_report(WeeklyFigures(0, 0, 0, 0, 0, 0, 0, 0), week, "").zh


def test_one_report_per_account_and_week_however_often_the_job_runs(
    make_push_services: MakePushServices, clock: FakeClock, make_account: MakeAccount
) -> None:
    services = make_push_services(console={"public_url": PUBLIC_URL})
    ctx = JobContext(services, build_wechat_client(services.config, services.redis))
    opt_in(services, make_account("li", "staff"), "o-li")
    clock.set(REPORT_DAY - timedelta(hours=1))  # 08:00: not due yet
    assert run_job(weekly_job(), ctx)
    assert report_rows(services) == []
    clock.set(REPORT_DAY)
    assert run_job(weekly_job(), ctx)
    clock.advance(minutes=2)  # run again, as a new leader catching up would
    assert weekly_job().missed(services.config, clock())
    assert run_job(weekly_job(), ctx)
    [row] = report_rows(services)
    assert row.recipient_openid == "o-li"
    assert row.idempotency_key.startswith("weekly:2026-03-02:")
    assert row.expires_at == datetime(2026, 3, 16, 0, 30, tzinfo=UTC)
    assert row.payload["fields"]["url"].startswith(f"{PUBLIC_URL}{DASHBOARD_PATH}?")
    # A day after it was due the week's report is no longer caught up; next week's is new.
    clock.set(REPORT_DAY + timedelta(days=1))
    assert not weekly_job().missed(services.config, clock())
    clock.set(REPORT_DAY + timedelta(days=7))
    assert run_job(weekly_job(), ctx)
    assert [r.idempotency_key[:18] for r in report_rows(services)] == [
        "weekly:2026-03-02:",
        "weekly:2026-03-09:",
    ]


def test_only_active_accounts_that_turned_it_on_with_wechat_linked_get_it(
    services: Services, clock: FakeClock, make_account: MakeAccount
) -> None:
    wanted = make_account("wanted", "staff", language="en")
    opt_in(services, wanted, "o-wanted")
    gone = make_account("gone", "viewer")
    opt_in(services, gone, "o-gone")
    unasked = make_account("unasked", "staff")
    make_account("unlinked", "staff")
    with services.session_factory() as db, db.begin():
        link_wechat(db, ADMIN, db.get_one(Account, unasked), "o-unasked", clock.now)
        disable_account(db, ADMIN, db.get_one(Account, gone), clock.now)
    clock.set(REPORT_DAY)
    ctx = JobContext(services, build_wechat_client(services.config, services.redis))
    assert run_job(weekly_job(), ctx)
    [row] = report_rows(services)
    assert row.recipient_openid == "o-wanted"
    assert row.payload["language"] == "en"
    assert set(row.payload["text"]) == {"zh", "en"}


def test_the_worker_delivers_it_in_the_account_s_language(
    make_worker, clock: FakeClock, fake_wechat: FakeWeChatServer, make_account: MakeAccount
) -> None:
    """The follower last wrote in Chinese; the account reads English, and so does its
    report. Without a customer-service window it goes as the kind's template."""
    template = {"template_id": "TPL-weekly", "fields": {"first": "{week}", "remark": "{url}"}}
    worker = make_worker(
        push={"templates": {"weekly_report": template}}, console={"public_url": PUBLIC_URL}
    )
    services = worker._services
    opt_in(services, make_account("li", "staff", language="en"), "o-li")
    opt_in(services, make_account("wang", "staff", language="zh"), "o-wang")
    clock.set(REPORT_DAY)
    with services.session_factory() as db, db.begin():
        seen_resident(db, "o-li", REPORT_DAY - timedelta(hours=1)).language = "zh"
    ctx = JobContext(services, build_wechat_client(services.config, services.redis))
    assert run_job(weekly_job(), ctx)
    assert worker.run_once() == 2
    [custom] = fake_wechat.calls("message/custom/send")
    assert custom["body"]["touser"] == "o-li"
    assert custom["body"]["text"]["content"].startswith("Aixiang weekly report 2026-03-02")
    [sent] = fake_wechat.calls("message/template/send")
    assert sent["body"]["touser"] == "o-wang"
    assert sent["body"]["data"]["first"]["value"] == "2026-03-02 – 2026-03-08"
    assert sent["body"]["data"]["remark"]["value"].startswith(f"{PUBLIC_URL}{DASHBOARD_PATH}")
    assert {row.status for row in report_rows(services)} == {"sent"}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("weekly_day", "mon", "reports.weekly_day must be one of monday, tuesday"),
        ("weekly_time", "8:30", "reports.weekly_time must be HH:MM"),
        ("public_url", "aixiang.example.org", "console.public_url must be empty or an http"),
    ],
)
def test_config_refuses_a_report_setting_it_cannot_use(
    tmp_path: Path, setting: str, value: str, message: str
) -> None:
    section = "console" if setting == "public_url" else "reports"
    path = tmp_path / "config.toml"
    path.write_text(f'[{section}]\n{setting} = "{value}"\n')
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


def test_the_report_s_day_and_time_come_from_config_or_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[reports]\nweekly_day = "friday"\n')
    config = load_config(path, environ={"AIXIANG_REPORTS_WEEKLY_TIME": "17:45"})
    assert (config.reports.weekly_day, config.reports.weekly_time) == ("friday", "17:45")
    trigger = str(weekly_job().trigger(config))
    assert "day_of_week='4'" in trigger and "hour='17'" in trigger and "minute='45'" in trigger


def test_a_queued_report_is_not_sent_once_its_account_stops_getting_it(
    services: Services, clock: FakeClock, make_account: MakeAccount
) -> None:
    """Turned off, unlinked, linked to another WeChat or disabled: skipped at once."""
    logins = {"off": "o-off", "unlinked": "o-unlinked", "moved": "o-moved", "gone": "o-gone"}
    ids = {login: make_account(login, "staff") for login in [*logins, "kept"]}
    for login, openid in {**logins, "kept": "o-kept"}.items():
        opt_in(services, ids[login], openid)
    clock.set(REPORT_DAY)
    ctx = JobContext(services, build_wechat_client(services.config, services.redis))
    assert run_job(weekly_job(), ctx)
    with services.session_factory() as db, db.begin():
        account = {login: db.get_one(Account, ids[login]) for login in logins}
        set_weekly_report(db, ADMIN, account["off"], False, clock.now)
        unlink_wechat(db, ADMIN, account["unlinked"], clock.now)
        link_wechat(db, ADMIN, account["moved"], "o-moved-new", clock.now)
        disable_account(db, ADMIN, account["gone"], clock.now)
    status = {row.recipient_openid: (row.status, row.last_error) for row in report_rows(services)}
    stopped = ("skipped", "the account no longer gets the weekly report on this WeChat")
    assert status == {
        "o-off": stopped,
        "o-unlinked": stopped,
        "o-moved": stopped,
        "o-gone": stopped,
        "o-kept": ("pending", None),
    }
