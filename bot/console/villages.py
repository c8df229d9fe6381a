"""Villages, for admins: the list residents choose from, adding a village or a group
within one, renaming, retiring. Each change goes through models/villages, which writes
the audit entry in the same transaction."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.auth import requires
from bot.console.changes import change_or_refuse
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

    def change() -> str:
        db = request_db()
        within = get_village(db, _number(form["within"])) if form["within"] else None
        village = add_village(db, actor_for(account()), form["name"], now(), within=within)
        return gettext("console_village_added").format(name=_label(village.id))

    return _changed(change, form)


@blueprint.post("/<int:village_id>/rename")
@requires(Permission.MANAGE_VILLAGES)
def rename(village_id: int) -> ResponseReturnValue:
    def change() -> str:
        village = get_village(request_db(), village_id)
        name = request.form.get("name", "")
        rename_village(request_db(), actor_for(account()), village, name, now())
        return gettext("console_village_renamed").format(name=_label(village.id))

    return _changed(change)


@blueprint.post("/<int:village_id>/retire")
@requires(Permission.MANAGE_VILLAGES)
def retire(village_id: int) -> ResponseReturnValue:
    def change() -> str:
        village = get_village(request_db(), village_id)
        retire_village(request_db(), actor_for(account()), village, now())
        return gettext("console_village_was_retired").format(name=_label(village.id))

    return _changed(change)


def _changed(change: Callable[[], str], form: dict[str, str] | None = None) -> ResponseReturnValue:
    """The change made and the list shown again; refused, the page with the sentence and
    the add form as it was typed."""
    return change_or_refuse(
        change,
        lambda error: (_page(form or {}, error), 400),
        url_for("console.villages.index"),
        (VillageError,),
    )


def _label(village_id: int) -> str:
    entry = village_entry(request_db(), village_id)
    return entry.label if entry is not None else ""


def _number(value: str) -> int:
    """A village's number as a form's select sends it; anything else names no village."""
    if not value.isdecimal():
        raise VillageError("village_error_unknown", name=value)
    return int(value)
