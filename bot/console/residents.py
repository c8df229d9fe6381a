"""Residents, for the club's own staff (and the foundation, which reads everything): a
search by name, mobile or the end of an openid, a resident's page with what the club
holds about them, and erasing it when the resident asks staff to (the chat's 删除我的信息,
made for them). Partners and viewers do not browse residents: what residents confided
to the club is the club's to read."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.audit import ACTION_TEXT_KEYS
from bot.console.auth import requires
from bot.console.context import account, now, request_db
from bot.console.names import status_name
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.audit import AuditFilter, AuditObject, audit_page
from models.base import ID_MAX
from models.needs.erasure import erase_on_request
from models.resident_lookup import SEARCH_MIN, resident_record, search_residents
from models.residents import Resident
from models.villages.queries import all_villages

blueprint = Blueprint("residents", __name__, url_prefix="/residents")


@blueprint.get("/")
@requires(Permission.READ_RESIDENTS)
def index() -> str:
    asked = request.args.get("q", "").strip()
    village = request.args.get("village", "")
    village_id = int(village) if village.isdecimal() and int(village) <= ID_MAX else None
    db = request_db()
    return render_template(
        "console/residents/index.html",
        asked=asked,
        village_id=village_id,
        villages=all_villages(db),
        found=search_residents(db, asked, village_id),
        search_min=SEARCH_MIN,
    )


def _resident(resident_id: int) -> Resident:
    resident = request_db().get(Resident, resident_id) if resident_id <= ID_MAX else None
    if resident is None:
        abort(404)
    return resident


@blueprint.get("/<int:resident_id>")
@requires(Permission.READ_RESIDENTS)
def show(resident_id: int) -> str:
    resident = _resident(resident_id)
    db = request_db()
    return render_template(
        "console/residents/resident.html",
        record=resident_record(db, resident),
        audit=audit_page(db, AuditFilter(object_type=AuditObject.RESIDENT, object_id=resident.id)),
        actions=ACTION_TEXT_KEYS,
        status_name=status_name,
    )


@blueprint.get("/<int:resident_id>/erase")
@requires(Permission.READ_RESIDENTS)
def confirm_erase(resident_id: int) -> str:
    """Asks once more: erasing cannot be undone."""
    return render_template("console/residents/erase.html", resident=_resident(resident_id))


@blueprint.post("/<int:resident_id>/erase")
@requires(Permission.READ_RESIDENTS)
def erase(resident_id: int) -> ResponseReturnValue:
    resident = _resident(resident_id)
    db = request_db()
    erased = erase_on_request(db, actor_for(account()), resident, now())
    db.commit()
    flash(
        gettext("console_resident_erased").format(
            needs=erased.needs, photos=erased.photos, messages=erased.messages
        )
    )
    return redirect(url_for("console.residents.show", resident_id=resident.id))
