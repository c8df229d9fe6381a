"""Broadcasts, for staff and readers: the latest broadcasts with their progress (sent,
held, failed, dead), and a new one composed, previewed and scheduled; a scheduled one
cancelled before it goes out. The preview is the CLI's dry run (models/broadcasts/
preview.py): who the audience reaches, who it leaves out and why, and by which channel
each would get it now. Scheduling and cancelling are the CLI's operations
(models/broadcasts/fanout.py), which audit them under the signed-in account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.auth import requires
from bot.console.context import account, now, request_db, services
from bot.services import broadcast_settings
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.broadcasts.audience import Audience, AudienceKind, resolve_audience
from models.broadcasts.fanout import cancel_broadcast, check_send_at, create_broadcast
from models.broadcasts.messages import as_residents_see, text_message
from models.broadcasts.preview import audience_channels
from models.broadcasts.progress import broadcast_progress
from models.broadcasts.queries import recent_broadcasts
from models.broadcasts.records import BroadcastError, BroadcastStatus
from models.tags.queries import all_tags
from models.villages.queries import active_villages

blueprint = Blueprint("broadcasts", __name__, url_prefix="/broadcasts")

FIELDS = ("text", "text_en", "audience", "tag", "village", "at")
# The audiences the console offers (the CLI offers more).
AUDIENCES = (AudienceKind.ALL, AudienceKind.TAG, AudienceKind.VILLAGE)
STATUS_TEXT_KEYS = {
    BroadcastStatus.SCHEDULED: "console_broadcast_status_scheduled",
    BroadcastStatus.SENT: "console_broadcast_status_sent",
    BroadcastStatus.REFUSED: "console_broadcast_status_refused",
    BroadcastStatus.CANCELLED: "console_broadcast_status_cancelled",
}


class FormError(ValueError):
    """What is wrong with the form, as a catalog key and its values."""

    def __init__(self, key: str, **values: str) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def text(self) -> str:
        return gettext(self.key).format(**self.values)


@dataclass(frozen=True)
class Composed:
    texts: dict[str, str]
    audience: str
    send_at: datetime | None


def _page(form: dict[str, str], error: str = "", preview: dict[str, object] | None = None) -> str:
    db = request_db()
    listed = recent_broadcasts(db, scheduled_only=False)
    tags = all_tags(db)
    return render_template(
        "console/broadcasts.html",
        broadcasts=listed,
        progress=broadcast_progress(db, listed),
        villages=active_villages(db),
        tags=tags,
        # A tag audience is listed by the tag's name in the reader's language.
        tag_names={tag.key: tag.name(account().language) for tag in tags},
        audiences=AUDIENCES,
        status_keys=STATUS_TEXT_KEYS,
        form=form,
        error=error,
        preview=preview,
    )


@blueprint.get("/")
@requires(Permission.READ_OUTBOX)
def index() -> str:
    return _page({"audience": AudienceKind.ALL})


@blueprint.post("/preview")
@requires(Permission.SEND_BROADCASTS)
def preview() -> ResponseReturnValue:
    """The dry run of the form's broadcast: nothing is written."""
    form = _form()
    db = request_db()
    try:
        composed = _composed(form, require_time=False)
        found = _resolve(composed.audience)
    except FormError as exc:
        return _page(form, exc.text()), 400
    split = audience_channels(db, found, broadcast_settings(services().config), now())
    shown = {
        "found": found,
        "split": split,
        "texts": as_residents_see(composed.texts),
    }
    return _page(form, preview=shown)


@blueprint.post("/")
@requires(Permission.SEND_BROADCASTS)
def schedule() -> ResponseReturnValue:
    form = _form()
    db = request_db()
    try:
        composed = _composed(form, require_time=True)
        _resolve(composed.audience)
        assert composed.send_at is not None
        scheduled = create_broadcast(
            db,
            actor_for(account()),
            texts=composed.texts,
            audience=composed.audience,
            now=now(),
            scheduled_at=composed.send_at,
        )
    except FormError as exc:
        db.rollback()
        return _page(form, exc.text()), 400
    db.commit()
    flash(gettext("console_broadcast_scheduled").format(number=scheduled.id))
    return redirect(url_for("console.broadcasts.index"))


@blueprint.post("/<int:broadcast_id>/cancel")
@requires(Permission.SEND_BROADCASTS)
def cancel(broadcast_id: int) -> ResponseReturnValue:
    db = request_db()
    try:
        cancel_broadcast(db, actor_for(account()), broadcast_id, now())
    except BroadcastError:
        db.rollback()
        error = gettext("console_broadcast_error_cancel").format(number=broadcast_id)
        return _page({"audience": AudienceKind.ALL}, error), 400
    db.commit()
    flash(gettext("console_broadcast_cancelled").format(number=broadcast_id))
    return redirect(url_for("console.broadcasts.index"))


def _form() -> dict[str, str]:
    return {name: request.form.get(name, "").strip() for name in FIELDS}


def _composed(form: dict[str, str], *, require_time: bool) -> Composed:
    """The form read as a broadcast, or the first thing wrong with it."""
    try:
        texts = text_message(form["text"], form["text_en"] or None)
    except BroadcastError:
        raise FormError("console_broadcast_error_text") from None
    return Composed(texts, _audience(form), _send_at(form["at"], require_time))


def _audience(form: dict[str, str]) -> str:
    """The audience spec the form chose (everyone, a tag, a village)."""
    kind = form["audience"]
    if kind == AudienceKind.ALL:
        return AudienceKind.ALL
    if kind == AudienceKind.TAG and form["tag"]:
        return f"{AudienceKind.TAG}:{form['tag']}"
    if kind == AudienceKind.VILLAGE and form["village"].isdecimal():
        return f"{AudienceKind.VILLAGE}:{form['village']}"
    if kind not in AUDIENCES:
        abort(400)
    raise FormError("console_broadcast_error_audience_missing")


def _resolve(spec: str) -> Audience:
    """The audience now; an unknown tag or village is the form's mistake."""
    try:
        return resolve_audience(request_db(), spec)
    except BroadcastError:
        raise FormError("console_broadcast_error_audience", audience=spec) from None


def _send_at(value: str, required: bool) -> datetime | None:
    """The local time the form asks for, refused unless after now and within a year."""
    if not value:
        if required:
            raise FormError("console_broadcast_error_at_missing")
        return None
    tz = services().config.bot.tz
    try:
        moment = datetime.fromisoformat(value).replace(tzinfo=tz)
        check_send_at(moment, now(), tz)
    except (ValueError, OverflowError):
        raise FormError("console_broadcast_error_at", at=value) from None
    return moment
