"""Villages, for admins: the list residents choose from, adding a village or a group
within one, renaming, retiring. Each change goes through models/villages, which writes
the audit entry in the same transaction."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.auth import requires
from bot.console.context import account, now, request_db
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.villages.errors import VillageError
from models.villages.operations import add_village, rename_village, retire_village
from models.villages.queries import all_villages, get_village, village_entry

blueprint = Blueprint("villages", __name__, url_prefix="/villages")


def chosen_village() -> int | None:
    """The village ``?village=`` names (empty: all); a number naming none is a 404. The
    landing page and the inbox narrow their lists to it."""
    value = request.args.get("village", "")
    if not value:
        return None
    if not value.isdecimal():
        abort(400)
    try:
        return get_village(request_db(), int(value)).id
    except VillageError:
        abort(404)


def _page(form: dict[str, str], error: str = "") -> str:
    entries = all_villages(request_db())
    return render_template(
        "console/villages.html",
        entries=entries,
        parents=[entry for entry in entries if entry.group is None and not entry.retired],
        form=form,
        error=error,
    )


@blueprint.get("/")
@requires(Permission.MANAGE_VILLAGES)
def index() -> str:
    return _page({})


@blueprint.post("/")
@requires(Permission.MANAGE_VILLAGES)
def add() -> ResponseReturnValue:
    form = {name: request.form.get(name, "").strip() for name in ("name", "within")}
    db = request_db()
    try:
        within = get_village(db, _number(form["within"])) if form["within"] else None
        village = add_village(db, actor_for(account()), form["name"], now(), within=within)
        label = _label(village.id)
    except VillageError as exc:
        db.rollback()
        return _page(form, exc.text(account().language)), 400
    db.commit()
    flash(gettext("console_village_added").format(name=label))
    return redirect(url_for("console.villages.index"))


@blueprint.post("/<int:village_id>/rename")
@requires(Permission.MANAGE_VILLAGES)
def rename(village_id: int) -> ResponseReturnValue:
    db = request_db()
    try:
        village = get_village(db, village_id)
        rename_village(db, actor_for(account()), village, request.form.get("name", ""), now())
        label = _label(village.id)
    except VillageError as exc:
        db.rollback()
        return _page({}, exc.text(account().language)), 400
    db.commit()
    flash(gettext("console_village_renamed").format(name=label))
    return redirect(url_for("console.villages.index"))


@blueprint.post("/<int:village_id>/retire")
@requires(Permission.MANAGE_VILLAGES)
def retire(village_id: int) -> ResponseReturnValue:
    db = request_db()
    try:
        village = get_village(db, village_id)
        retire_village(db, actor_for(account()), village, now())
        label = _label(village.id)
    except VillageError as exc:
        db.rollback()
        return _page({}, exc.text(account().language)), 400
    db.commit()
    flash(gettext("console_village_was_retired").format(name=label))
    return redirect(url_for("console.villages.index"))


def _label(village_id: int) -> str:
    entry = village_entry(request_db(), village_id)
    return entry.label if entry is not None else ""


def _number(value: str) -> int:
    """A village's number as a form's select sends it; anything else names no village."""
    if not value.isdecimal():
        raise VillageError("village_error_unknown", name=value)
    return int(value)
