"""Changes made from a need's page: a status, a note (public: pushed to the resident and
to everyone whose need was merged into this one; internal: staff only), a partner, the
original of a duplicate (picked from a search), and the category. A change goes through
models.needs.staff, exactly as ``aixiang needs update`` does; a refused one shows the
page again with the reason and changes nothing."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.auth import requires
from bot.console.context import now, request_db, services
from bot.console.needs.blueprint import blueprint
from bot.console.needs.common import actor, find_need, refusal, scope_partner_id
from bot.console.needs.page import render_need
from models.accounts.roles import Permission
from models.base import ID_MAX
from models.needs.details import visible_need
from models.needs.errors import NeedError
from models.needs.queries import residents_told
from models.needs.staff import NeedUpdate, change_category, may_update, update_need
from models.needs.tables import NeedStatus
from models.partners import Partner


@blueprint.post("/<ref>/update")
@requires(Permission.UPDATE_NEEDS)
def update(ref: str) -> ResponseReturnValue:
    need = find_need(ref)
    db = request_db()
    form = request.form
    status = form.get("status", "")
    partner_id = form.get("partner", "")
    original_ref = form.get("duplicate_of", "")
    partner = (
        db.get(Partner, int(partner_id))
        if partner_id.isdecimal() and int(partner_id) <= ID_MAX
        else None
    )
    original = visible_need(db, original_ref, scope_partner_id()) if original_ref else None
    if (partner_id and partner is None) or (original_ref and original is None):
        return render_need(need, gettext("console_need_pick_again"), 400)
    change = NeedUpdate(
        status or None,
        form.get("note", ""),
        form.get("public") == "1",
        partner,
        original,
    )
    if status and status not in tuple(NeedStatus):
        return render_need(need, gettext("console_need_pick_again"), 400)
    if not may_update(scope_partner_id(), need, change):
        abort(403)
    try:
        entry = update_need(db, actor(), need, change, now())
    except NeedError as exc:
        db.rollback()
        return render_need(need, refusal(exc), 409)
    told = residents_told(db, entry)
    db.commit()
    flash(gettext("console_need_changed").format(ref=need.ref, told=told))
    return redirect(url_for("console.needs.show", ref=need.ref))


@blueprint.post("/<ref>/category")
@requires(Permission.UPDATE_NEEDS)
def category(ref: str) -> ResponseReturnValue:
    """Filing a need under another category is the club's triage: a partner may not."""
    need = find_need(ref)
    if scope_partner_id() is not None:
        abort(403)
    db = request_db()
    known = services().config.needs.categories
    try:
        change_category(db, actor(), need, request.form.get("category", ""), known, now())
    except NeedError as exc:
        db.rollback()
        return render_need(need, refusal(exc), 400)
    db.commit()
    flash(gettext("console_need_category_changed").format(ref=need.ref))
    return redirect(url_for("console.needs.show", ref=need.ref))
