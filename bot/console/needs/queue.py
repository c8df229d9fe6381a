"""The needs queue at ``/console/needs/``: filters, sorts, pages, the built-in views and
the reader's own saved ones (bot/console/needs/saved_views.py), and bulk changes to the
needs ticked on it.

A bulk change is asked twice: the first POST shows what will happen to which needs, the
second (``confirmed``) makes it, each need through the same
:func:`~models.needs.staff.update_need` as ``aixiang needs update``, all in one
transaction: if one need refuses, none changes and the page says which one and why.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from bot.console.auth import requires
from bot.console.context import account, now, request_db
from bot.console.names import status_name
from bot.console.needs.blueprint import blueprint
from bot.console.needs.common import (
    actor,
    category_names,
    deadlines,
    find_need,
    refusal,
    scope_partner_id,
)
from models.accounts.roles import Permission
from models.base import is_id
from models.needs.errors import NeedError
from models.needs.queries import residents_told
from models.needs.queue import (
    UNASSIGNED,
    QueueFilter,
    QueueSort,
    filter_values,
    queue_page,
    read_filter,
)
from models.needs.saved_views import saved_views
from models.needs.staff import NeedUpdate, may_update, update_needs
from models.needs.tables import NeedStatus
from models.partners import Partner, list_partners
from models.villages.queries import all_villages

# The built-in views: a name, the filter it stands for, and its label's text key.
BUILT_IN_VIEWS: dict[str, tuple[QueueFilter, str]] = {
    "open": (QueueFilter(), "console_needs_view_open"),
    "new": (QueueFilter(status=NeedStatus.SUBMITTED), "console_needs_view_new"),
    "over_time": (QueueFilter(over_time=True), "console_needs_view_over_time"),
    "unassigned": (QueueFilter(partner=UNASSIGNED), "console_needs_view_unassigned"),
    "most_raised": (QueueFilter(sort=QueueSort.DEMAND), "console_needs_view_most_raised"),
}
SORT_TEXT_KEYS = {
    QueueSort.WAITING: "console_needs_sort_waiting",
    QueueSort.NEWEST: "console_needs_sort_newest",
    QueueSort.DEMAND: "console_needs_sort_demand",
}
# The statuses a bulk change moves needs to: marking duplicates names each one's original,
# which is done on the need's own page.
BULK_STATUSES = [s for s in NeedStatus if s not in (NeedStatus.SUBMITTED, NeedStatus.DUPLICATE)]


def address_filter(args: MultiDict[str, str]) -> QueueFilter:
    """The queue's filter from the address, in the reader's scope; a value that is not
    one of the choices narrows nothing, so an edited address shows a page, never an
    error."""
    return read_filter(args, category_names(), scope_partner_id()).wanted


def _view_args() -> dict[str, dict[str, str]]:
    return {name: filter_values(wanted) for name, (wanted, _) in BUILT_IN_VIEWS.items()}


def render_queue(
    wanted: QueueFilter,
    page_number: int,
    error: str = "",
    status: int = 200,
    *,
    view_name: str = "",
    view_error: str = "",
) -> tuple[str, int]:
    """The queue page; ``view_name`` and ``view_error`` fill the save-a-view form again
    when its name was refused."""
    db = request_db()
    page = queue_page(db, wanted, deadlines(), now(), page_number)
    return render_template(
        "console/needs/queue.html",
        page=page,
        wanted=wanted,
        args=filter_values(wanted),
        views=BUILT_IN_VIEWS,
        view_args=_view_args(),
        my_views=saved_views(db, account().id),
        view_name=view_name,
        view_error=view_error,
        sorts=SORT_TEXT_KEYS,
        statuses=list(NeedStatus),
        bulk_statuses=BULK_STATUSES,
        categories=category_names(),
        partners=list_partners(db),
        villages=all_villages(db),
        status_name=status_name,
        error=error,
        partner_scoped=scope_partner_id() is not None,
    ), status


@blueprint.get("/")
def index() -> ResponseReturnValue:
    page = request.args.get("page", "1")
    return render_queue(address_filter(request.args), int(page) if is_id(page) else 1)


@blueprint.post("/bulk")
@requires(Permission.UPDATE_NEEDS)
def bulk() -> ResponseReturnValue:
    """Tick needs, choose an action, confirm: see the module's docstring."""
    db = request_db()
    form = request.form
    back = form.get("back", "")
    wanted = address_filter(MultiDict(parse_qsl(back)))
    needs = [find_need(ref) for ref in dict.fromkeys(form.getlist("need"))]
    try:
        change = _bulk_change(form)
        if not needs:
            raise NeedError(gettext("console_needs_bulk_none"))
    except NeedError as exc:
        return render_queue(wanted, 1, str(exc), 400)
    if not all(may_update(scope_partner_id(), need, change) for need in needs):
        abort(403)
    if form.get("confirmed") != "1":
        return render_template(
            "console/needs/bulk_confirm.html",
            needs=needs,
            change=change,
            action=form.get("action"),
            form=form,
            back=back,
            status_name=status_name,
        )
    try:
        entries = update_needs(db, actor(), needs, change, now())
    except NeedError as exc:
        db.rollback()
        return render_queue(
            wanted,
            1,
            refusal(exc),
            409,
        )
    told = sum(residents_told(db, entry) for entry in entries)
    db.commit()
    flash(gettext("console_needs_bulk_done").format(count=len(entries), told=told))
    return redirect(f"{url_for('console.needs.index')}?{back}")


def _bulk_change(form: MultiDict[str, str]) -> NeedUpdate:
    """The change the bulk form asks for; a form that asks for nothing clear is refused."""
    action = form.get("action", "")
    note = form.get("note", "").strip() or None
    public = form.get("public") == "1"
    if action == "acknowledge":
        return NeedUpdate(NeedStatus.ACKNOWLEDGED, note, public)
    if action == "assign":
        partner_id = form.get("partner", "")
        partner = request_db().get(Partner, int(partner_id)) if is_id(partner_id) else None
        if partner is None:
            raise NeedError(gettext("console_needs_bulk_pick_partner"))
        return NeedUpdate(None, note, public, partner)
    if action == "status" and form.get("status") in tuple(NeedStatus):
        return NeedUpdate(form["status"], note, public)
    raise NeedError(gettext("console_needs_bulk_pick_action"))
