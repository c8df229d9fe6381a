"""Response templates, for admins: canned public notes per need category in both
languages, which staff insert into a need's note box and edit before sending. Each
change goes through models.needs.responses, which audits it."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.auth import requires
from bot.console.changes import change_or_refuse
from bot.console.context import account, now, request_db, services
from bot.console.needs.common import category_names
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.base import ID_MAX
from models.needs.errors import NeedError
from models.needs.responses import delete_template, response_templates, save_template
from models.needs.tables import ResponseTemplate

blueprint = Blueprint("responses", __name__, url_prefix="/templates")

FORM_FIELDS = ("category", "title", "text_zh", "text_en")


def _page(form: dict[str, str], error: str = "", status: int = 200) -> tuple[str, int]:
    return render_template(
        "console/responses.html",
        templates=response_templates(request_db()),
        categories=category_names(),
        form=form,
        error=error,
    ), status


def _template(template_id: int) -> ResponseTemplate:
    found = request_db().get(ResponseTemplate, template_id) if template_id <= ID_MAX else None
    if found is None:
        abort(404)
    return found


@blueprint.get("/")
@requires(Permission.MANAGE_TEMPLATES)
def index() -> ResponseReturnValue:
    return _page({})


@blueprint.post("/")
@requires(Permission.MANAGE_TEMPLATES)
def save() -> ResponseReturnValue:
    """Add a template, or change the one the form names (``id``)."""
    form = {name: request.form.get(name, "") for name in FORM_FIELDS}
    chosen = request.form.get("id", "")
    template = _template(int(chosen)) if chosen.isdecimal() else None

    def change() -> str:
        saved = save_template(
            request_db(),
            actor_for(account()),
            **form,
            known=services().config.needs.categories,
            now=now(),
            template=template,
        )
        return gettext("console_template_saved").format(title=saved.title)

    return change_or_refuse(
        change,
        lambda error: _page(form, gettext("console_template_refused").format(reason=error), 400),
        url_for("console.responses.index"),
        (NeedError,),
    )


@blueprint.post("/<int:template_id>/delete")
@requires(Permission.MANAGE_TEMPLATES)
def delete(template_id: int) -> ResponseReturnValue:
    template = _template(template_id)
    db = request_db()
    title = template.title
    delete_template(db, actor_for(account()), template, now())
    db.commit()
    flash(gettext("console_template_deleted").format(title=title))
    return redirect(url_for("console.responses.index"))
