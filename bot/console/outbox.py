"""The outbox, for staff and readers: counts by kind, status and channel, the age of the
oldest pending push, the dead letters with their errors (a page at a time) and the kinds
paused for a spent WeChat quota. Staff retry dead letters and resume paused kinds through
the same operations as ``aixiang outbox retry`` and ``aixiang outbox resume``, which
write the audit entry with the signed-in account."""

from __future__ import annotations

import redis
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.auth import requires
from bot.console.context import account, now, request_db, services
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.base import ID_MAX
from models.push.overview import dead_letters, oldest_pending, outbox_counts
from models.push.pauses import release_paused
from models.push.registry import PushKind
from models.push.upkeep import retry_dead
from scheduler.pauses import Pauses

blueprint = Blueprint("outbox", __name__, url_prefix="/outbox")


@blueprint.get("/")
@requires(Permission.READ_OUTBOX)
def index() -> str:
    db = request_db()
    moment = now()
    oldest = oldest_pending(db)
    return render_template(
        "console/outbox.html",
        counts=outbox_counts(db),
        oldest_age=None if oldest is None else moment - oldest,
        dead=dead_letters(db, _page_number()),
        pauses=Pauses(services().redis).all(),
        account_type=services().config.wechat.account_type,
    )


@blueprint.post("/retry")
@requires(Permission.RUN_SERVICE)
def retry() -> ResponseReturnValue:
    """Retry the ticked dead letters, or, with ``all``, every dead letter (of ``kind``
    when one is given)."""
    db = request_db()
    if request.form.get("all"):
        kind = request.form.get("kind") or None
        if kind is not None and kind not in set(PushKind):
            abort(400)
        count = retry_dead(db, actor_for(account()), now(), kind)
    else:
        ids = [_row_id(value) for value in request.form.getlist("row")]
        if not ids:
            flash(gettext("console_outbox_none_chosen"))
            return redirect(url_for("console.outbox.index"))
        count = retry_dead(db, actor_for(account()), now(), ids=ids)
    db.commit()
    flash(gettext("console_outbox_retried").format(count=count))
    return redirect(url_for("console.outbox.index"))


@blueprint.post("/resume")
@requires(Permission.RUN_SERVICE)
def resume() -> ResponseReturnValue:
    """Lift every quota pause of a kind, and make its rows that waited due now."""
    kind = request.form.get("kind", "")
    if kind not in set(PushKind):
        abort(400)
    db = request_db()
    actor = actor_for(account())
    try:
        lifted = Pauses(services().redis).resume(kind)
    except redis.RedisError:
        return render_template(
            "console/error.html", message=gettext("console_outbox_redis_down")
        ), 503
    channels = [pause.channel for pause in lifted]
    released = release_paused(db, actor, kind, channels, now())
    db.commit()
    flash(gettext("console_outbox_resumed").format(kind=kind, count=released))
    return redirect(url_for("console.outbox.index"))


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdecimal() and 0 < int(value) <= ID_MAX else 1


def _row_id(value: str) -> int:
    """A ticked row's id as the form sends it; anything else is a bad request."""
    if not value.isdecimal() or int(value) > ID_MAX:
        abort(400)
    return int(value)
