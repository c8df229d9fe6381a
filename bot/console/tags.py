"""Tags, for admins: the list events are tagged from, adding a tag with its Chinese and
English names, renaming either, stopping or resuming its use, merging one into another.
Each change goes through models/tags, which writes the audit entry in the same
transaction; a refused change comes back next to the field it is about."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.auth import requires
from bot.console.context import account, now, request_db
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.base import ID_MAX
from models.tags.errors import TagError
from models.tags.operations import add_tag, merge_tag, rename_tag, set_tag_active
from models.tags.queries import all_tags
from models.tags.tables import Tag

blueprint = Blueprint("tags", __name__, url_prefix="/tags")

NAME_FIELDS = ("name_zh", "name_en")


def _page(
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    row: int | None = None,
) -> str:
    """The list and the form to add one; ``errors`` by field, for the add form or, with
    ``row``, for that tag's row."""
    return render_template(
        "console/tags.html",
        tags=all_tags(request_db()),
        form=form or {},
        errors=errors or {},
        row=row,
    )


def _refused(error: TagError, form: dict[str, str], row: int | None = None) -> tuple[str, int]:
    """The page again with the refusal next to its field; nothing of the request is kept."""
    request_db().rollback()
    field = error.field or "tag"
    return _page(form, {field: error.text(account().language)}, row), 400


def _tag(tag_id: int) -> Tag:
    tag = request_db().get(Tag, tag_id) if tag_id <= ID_MAX else None
    if tag is None:
        abort(404)
    return tag


def _done(key: str, **values: object) -> ResponseReturnValue:
    request_db().commit()
    flash(gettext(key).format(**values))
    return redirect(url_for("console.tags.index"))


@blueprint.get("/")
@requires(Permission.MANAGE_TAGS)
def index() -> str:
    return _page()


@blueprint.post("/")
@requires(Permission.MANAGE_TAGS)
def add() -> ResponseReturnValue:
    form = {name: request.form.get(name, "").strip() for name in NAME_FIELDS}
    try:
        tag = add_tag(request_db(), actor_for(account()), form["name_zh"], form["name_en"], now())
    except TagError as error:
        return _refused(error, form)
    return _done("console_tag_added", name=tag.label)


@blueprint.post("/<int:tag_id>/rename")
@requires(Permission.MANAGE_TAGS)
def rename(tag_id: int) -> ResponseReturnValue:
    tag = _tag(tag_id)
    form = {name: request.form.get(name, "") for name in NAME_FIELDS}
    try:
        rename_tag(request_db(), actor_for(account()), tag, now(), **form)
    except TagError as error:
        return _refused(error, {}, tag_id)
    return _done("console_tag_renamed", name=tag.label)


@blueprint.post("/<int:tag_id>/active")
@requires(Permission.MANAGE_TAGS)
def set_active(tag_id: int) -> ResponseReturnValue:
    tag = _tag(tag_id)
    active = request.form.get("active") == "1"
    try:
        set_tag_active(request_db(), actor_for(account()), tag, active, now())
    except TagError as error:
        return _refused(error, {}, tag_id)
    return _done("console_tag_activated" if active else "console_tag_deactivated", name=tag.label)


@blueprint.post("/<int:tag_id>/merge")
@requires(Permission.MANAGE_TAGS)
def merge(tag_id: int) -> ResponseReturnValue:
    tag = _tag(tag_id)
    into_id = request.form.get("into", "")
    into = _tag(int(into_id)) if into_id.isdecimal() and into_id.isascii() else None
    if into is None:
        abort(400)
    label = tag.label
    try:
        moved = merge_tag(request_db(), actor_for(account()), tag, into, now())
    except TagError as error:
        return _refused(error, {}, tag_id)
    return _done("console_tag_merged", name=label, into=into.label, count=moved)
