"""The signed-in person's own account page (/console/account): linking their WeChat by a
one-time code sent to the Official Account, unlinking it, and the weekly report on or
off (only once linked). Every role may change these, as they change only the person's
own settings (bot/console/auth.py); each change is audited by models.accounts."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.context import account, now, request_db, services
from bot.link_codes import CODE_TTL_S, LinkCodes
from models.accounts.errors import AccountError
from models.accounts.operations import actor_for, set_weekly_report, unlink_wechat
from models.reports.week import Weekday

blueprint = Blueprint("my_account", __name__, url_prefix="/account")

WEEKDAY_TEXT_KEYS = {
    Weekday.MONDAY: "console_weekday_monday",
    Weekday.TUESDAY: "console_weekday_tuesday",
    Weekday.WEDNESDAY: "console_weekday_wednesday",
    Weekday.THURSDAY: "console_weekday_thursday",
    Weekday.FRIDAY: "console_weekday_friday",
    Weekday.SATURDAY: "console_weekday_saturday",
    Weekday.SUNDAY: "console_weekday_sunday",
}


def _page(code: str = "", error: str = "") -> str:
    reports = services().config.reports
    return render_template(
        "console/my_account.html",
        me=account(),
        code=code,
        code_minutes=CODE_TTL_S // 60,
        error=error,
        weekly_day=gettext(WEEKDAY_TEXT_KEYS[Weekday(reports.weekly_day)]),
        weekly_time=reports.weekly_time,
    )


@blueprint.get("/")
def index() -> str:
    return _page()


@blueprint.post("/code")
def code() -> ResponseReturnValue:
    """A new link code, shown on the page once (it is not kept anywhere the page reads)."""
    issued = LinkCodes(lambda: services().redis).issue(account().id)
    if issued is None:
        return _page(error=gettext("console_my_account_code_refused")), 429
    return _page(code=issued)


@blueprint.post("/unlink")
def unlink() -> ResponseReturnValue:
    db = request_db()
    me = account()
    try:
        unlink_wechat(db, actor_for(me), me, now())
    except AccountError as exc:
        db.rollback()
        return _page(error=exc.text(me.language)), 409
    db.commit()
    flash(gettext("console_my_account_unlinked"))
    return redirect(url_for("console.my_account.index"))


@blueprint.post("/weekly")
def weekly() -> ResponseReturnValue:
    db = request_db()
    me = account()
    wanted = request.form.get("weekly_report") == "on"
    try:
        set_weekly_report(db, actor_for(me), me, wanted, now())
    except AccountError as exc:
        db.rollback()
        return _page(error=exc.text(me.language)), 409
    db.commit()
    flash(gettext("console_my_account_weekly_on" if wanted else "console_my_account_weekly_off"))
    return redirect(url_for("console.my_account.index"))
