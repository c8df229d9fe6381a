"""A need's page, ``/console/needs/<ref>``: the resident's words, photos, place, status
history, the needs merged into it, the pushes sent about it and its audit entries; and
the forms that change it (bot/console/needs/actions.py), each shown only to who may use
it. Also the htmx pieces the page asks for: the note box filled from a response
template, and the search for the original of a duplicate."""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from bot.console.audit import ACTION_TEXT_KEYS
from bot.console.context import account, request_db, services
from bot.console.names import status_name
from bot.console.needs.blueprint import blueprint
from bot.console.needs.common import (
    category_names,
    deadlines,
    find_need,
    scope_partner_id,
)
from models.accounts.roles import Permission
from models.audit import AuditFilter, AuditObject, audit_page
from models.base import ID_MAX
from models.needs.details import merged_needs, need_pushes
from models.needs.queries import demand_counts, need_history, need_photos
from models.needs.queue import is_over_time, matching_needs
from models.needs.responses import response_templates
from models.needs.tables import TRANSITIONS, Need, NeedStatus, PhotoStatus, ResponseTemplate
from models.partners import list_partners, partner_name
from models.residents import Resident
from texts.catalog import Language


@blueprint.get("/<ref>")
def show(ref: str) -> ResponseReturnValue:
    return render_need(find_need(ref))


def render_need(need: Need, error: str = "", status: int = 200) -> tuple[str, int]:
    db = request_db()
    signed = account()
    may_change = signed.partner_id in (None, need.partner_id) and _can(Permission.UPDATE_NEEDS)
    config = services().config
    original = db.get(Need, need.duplicate_of_id) if need.duplicate_of_id else None
    return render_template(
        "console/needs/need.html",
        need=need,
        error=error,
        resident=db.get(Resident, need.resident_id) if need.resident_id else None,
        partner=partner_name(db, need.partner_id),
        demand=demand_counts(db, [need.id])[need.id],
        over_time=is_over_time(need, deadlines(), services().clock()),
        original=original,
        photos=[p for p in need_photos(db, need) if p.status == PhotoStatus.FETCHED],
        history=need_history(db, need),
        merged=merged_needs(db, need),
        pushes=need_pushes(db, need),
        actions=ACTION_TEXT_KEYS,
        audit=audit_page(db, AuditFilter(object_type=AuditObject.NEED, object_id=need.id)),
        partner_names={p.id: p.name for p in list_partners(db)},
        partners=list_partners(db),
        categories=category_names(),
        templates=response_templates(db, need.category),
        next_statuses=sorted(TRANSITIONS[need.status] - {NeedStatus.DUPLICATE}),
        may_change=may_change,
        may_triage=may_change and scope_partner_id() is None,
        may_mark_duplicate=may_change and NeedStatus.DUPLICATE in TRANSITIONS[need.status],
        status_name=status_name,
        map_tile_url=config.console.map_tile_url,
        map_attribution=config.console.map_attribution,
    ), status


def _can(permission: Permission) -> bool:
    return bool(current_user.can(permission))


@blueprint.get("/<ref>/note-box")
def note_box(ref: str) -> ResponseReturnValue:
    """The note box holding a response template's text in the resident's language, to
    edit before sending (htmx swaps it into the page)."""
    need = find_need(ref)
    db = request_db()
    chosen = request.args.get("template", "")
    template = (
        db.get(ResponseTemplate, int(chosen))
        if chosen.isdecimal() and int(chosen) <= ID_MAX
        else None
    )
    if template is None or template.category != need.category:
        abort(404)
    resident = db.get(Resident, need.resident_id) if need.resident_id else None
    language = (
        resident.language
        if resident and resident.language
        else services().config.bot.default_language
    )
    text = template.text_en if language == Language.EN else template.text_zh
    return render_template("console/needs/note_box.html", note=text, public=True)


@blueprint.get("/<ref>/originals")
def originals(ref: str) -> ResponseReturnValue:
    """Needs matching the search box, to pick the original of a duplicate from."""
    need = find_need(ref)
    found = matching_needs(request_db(), request.args.get("q", ""), need, scope_partner_id())
    return render_template(
        "console/needs/originals.html",
        found=found,
        status_name=status_name,
        asked=request.args.get("q", "").strip(),
    )
