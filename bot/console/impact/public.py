"""The public summary at ``/impact``, for the foundation's reports: this year's headline
figures so far, counts only (no name, no title, nothing a resident wrote), and a 404
unless an admin turned it on in the console. No sign-in; the page opens no console
session."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import get_locale

from bot.console.context import close_request_db, now, request_db, services
from bot.console.views import DOMAIN
from models.impact.headline import headline
from models.impact.period import PeriodKind, current_value, period_bounds
from models.impact.publication import public_impact_on
from models.impact.scope import ImpactScope

blueprint = Blueprint("public_impact", __name__)
blueprint.teardown_request(close_request_db)


@blueprint.before_request
def _texts() -> None:
    DOMAIN.as_default()


@blueprint.get("/impact")
def summary() -> str:
    db = request_db()
    if not public_impact_on(db):
        abort(404)
    tz = services().config.bot.tz
    year = current_value(PeriodKind.YEAR, now().astimezone(tz).date())
    period = period_bounds(PeriodKind.YEAR, year, tz).until(now())
    figures = headline(db, ImpactScope(period.start, period.end), tz)
    return render_template(
        "console/impact_public.html",
        figures=figures,
        year=year,
        language=str(get_locale().language),
    )
