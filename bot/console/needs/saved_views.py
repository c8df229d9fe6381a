"""The reader's own saved views of the needs queue: save the filters and sort on the page
under a name, open one, rename or delete it, through models/needs/saved_views.py (each
change audited).

Saving a view changes only the reader's own settings, so a read-only role may keep views
too (bot/console/auth.py lists these endpoints as own settings); nobody sees or touches
another account's views (a 404, as if they did not exist). A view opens as an address
of the queue, so the page, its filters form and its links work as for any filter.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from bot.console.changes import change_or_refuse
from bot.console.context import account, now, request_db
from bot.console.needs.blueprint import blueprint
from bot.console.needs.common import actor, category_names, scope_partner_id
from bot.console.needs.queue import address_filter, render_queue
from models.base import ID_MAX
from models.needs.errors import NeedError
from models.needs.queue import FilterKey, filter_values
from models.needs.saved_views import (
    delete_view,
    open_view,
    own_view,
    rename_view,
    save_view,
    saved_views,
)
from models.needs.tables import SavedView

# The label each filter has on the queue's form, for saying which ones a view lost.
FILTER_TEXT_KEYS = {
    FilterKey.STATUS: "console_status",
    FilterKey.CATEGORY: "console_needs_category",
    FilterKey.VILLAGE: "console_needs_village",
    FilterKey.PARTNER: "console_partner",
    FilterKey.TEXT: "console_needs_search",
    FilterKey.AGE: "console_needs_min_age",
    FilterKey.OVER_TIME: "console_needs_over_time",
    FilterKey.SORT: "console_needs_sort",
}


@blueprint.post("/views")
def view_save() -> ResponseReturnValue:
    """Save the filters the queue showed (its address, in ``back``) under ``name``."""
    back = request.form.get("back", "")
    wanted = address_filter(MultiDict(parse_qsl(back)))
    name = request.form.get("name", "")

    def change() -> str:
        view = save_view(request_db(), actor(), account().id, name, wanted, now())
        return gettext("console_needs_view_saved").format(name=view.name)

    return change_or_refuse(
        change,
        lambda error: render_queue(wanted, 1, status=400, view_name=name, view_error=error),
        f"{url_for('console.needs.index')}?{back}",
        (NeedError,),
    )


@blueprint.get("/views/<int:view_id>")
def view_open(view_id: int) -> ResponseReturnValue:
    """The queue with the view's filters, saying which of them no longer apply."""
    opened = open_view(_own(view_id), category_names(), scope_partner_id())
    lost = [gettext(FILTER_TEXT_KEYS[key]) for key in opened.dropped]
    if opened.unknown:
        lost.append(gettext("console_needs_view_unknown_filter"))
    if lost:
        flash(
            gettext("console_needs_view_dropped").format(
                filters=gettext("push_digest_list_separator").join(lost)
            )
        )
    return redirect(f"{url_for('console.needs.index')}?{urlencode(filter_values(opened.wanted))}")


@blueprint.get("/views")
def view_list() -> ResponseReturnValue:
    return _manage_page()


@blueprint.post("/views/<int:view_id>/rename")
def view_rename(view_id: int) -> ResponseReturnValue:
    view = _own(view_id)
    name = request.form.get("name", "")

    def change() -> str:
        rename_view(request_db(), actor(), view, name, now())
        return gettext("console_needs_view_renamed").format(name=view.name)

    return change_or_refuse(
        change,
        lambda error: (_manage_page(view_id, name, error), 400),
        url_for("console.needs.view_list"),
        (NeedError,),
    )


@blueprint.post("/views/<int:view_id>/delete")
def view_delete(view_id: int) -> ResponseReturnValue:
    view = _own(view_id)
    name = view.name
    db = request_db()
    delete_view(db, actor(), view, now())
    db.commit()
    flash(gettext("console_needs_view_deleted").format(name=name))
    return redirect(url_for("console.needs.view_list"))


def _own(view_id: int) -> SavedView:
    """The reader's view ``view_id``; anyone else's is a 404."""
    view = own_view(request_db(), account().id, view_id) if view_id <= ID_MAX else None
    if view is None:
        abort(404)
    return view


def _manage_page(refused_id: int | None = None, name: str = "", error: str = "") -> str:
    """The reader's views, each with its rename and delete forms; a refused rename is
    shown next to its field with what was typed."""
    return render_template(
        "console/needs/saved_views.html",
        views=saved_views(request_db(), account().id),
        refused_id=refused_id,
        name=name,
        error=error,
    )
