"""The impact dashboard's pages: the charts with their tables, each table's CSV and XLSX
download, and the admin's switch of the public page.

Admin, staff, foundation and viewer accounts read the whole club's figures; a partner's
account reads only its own organisation's (the needs assigned to it and the events it
co-hosts), and no broadcast reach, which belongs to no partner."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.auth import requires
from bot.console.context import account, now, request_db, services
from bot.console.impact.choices import Choices, chosen_period, read_choices
from bot.console.impact.tables import ImpactTable, Inputs, impact_tables
from bot.console.needs.common import actor, category_names, deadlines
from bot.console.villages import chosen_village
from models.accounts.roles import Permission
from models.impact.period import PeriodError, PeriodKind
from models.impact.publication import public_impact_on, set_public_impact
from models.impact.scope import ImpactScope
from models.tags.queries import all_tags
from models.villages.queries import active_villages
from scheduler.exports.sheets import csv_bytes, xlsx_bytes

blueprint = Blueprint("impact", __name__, url_prefix="/impact")

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")
PERIOD_TEXT_KEYS = {
    PeriodKind.MONTH: "impact_period_month",
    PeriodKind.QUARTER: "impact_period_quarter",
    PeriodKind.YEAR: "impact_period_year",
    PeriodKind.CUSTOM: "impact_period_custom",
}


def _tables(choices: Choices) -> list[ImpactTable]:
    """The tables for the chosen period, village and tag, in the account's scope."""
    period = chosen_period(choices, now())
    scope = ImpactScope(
        period.start, period.end, chosen_village(), choices.tag, account().partner_id
    )
    names = category_names()
    inputs = Inputs(services().config.bot.tz, deadlines(), now(), lambda key: names.get(key, key))
    return impact_tables(request_db(), scope, inputs)


@blueprint.get("/")
@requires(Permission.READ_IMPACT)
def index() -> ResponseReturnValue:
    choices = read_choices(request.args, now())
    try:
        tables = _tables(choices)
        error = ""
    except PeriodError as exc:
        tables, error = [], exc.text(account().language)
    page = render_template(
        "console/impact.html",
        tables=tables,
        choices=choices,
        kinds=list(PeriodKind),
        period_names={kind: gettext(key) for kind, key in PERIOD_TEXT_KEYS.items()},
        villages=active_villages(request_db()),
        tags=all_tags(request_db()),
        error=error,
        public_on=public_impact_on(request_db()),
    )
    return (page, 400) if error else page


@blueprint.get("/<key>.<fmt>")
@requires(Permission.READ_IMPACT)
def download(key: str, fmt: str) -> Response:
    if fmt not in FORMATS:
        abort(404)
    try:
        tables = _tables(read_choices(request.args, now()))
    except PeriodError:
        abort(400)
    table = next((table for table in tables if table.key == key), None)
    if table is None:
        abort(404)
    name = f"impact-{table.key}.{fmt}"
    if fmt == "csv":
        body, kind = csv_bytes(table.headers, table.rows), "text/csv; charset=utf-8"
    else:
        body, kind = xlsx_bytes(table.key, table.headers, table.rows), XLSX_TYPE
    return Response(
        body, content_type=kind, headers={"Content-Disposition": f"attachment; filename={name}"}
    )


@blueprint.post("/public")
@requires(Permission.PUBLISH_IMPACT)
def publish() -> ResponseReturnValue:
    """Turn the public page on (``on=1``) or off (anything else)."""
    on = request.form.get("on") == "1"
    db = request_db()
    set_public_impact(db, actor(), on, now())
    db.commit()
    flash(gettext("impact_public_turned_on" if on else "impact_public_turned_off"))
    return redirect(url_for("console.impact.index"))
