"""Broadcasts, for staff and readers: the latest broadcasts with their progress (sent,
held, failed, dead), and a new one composed (staff's text or a published event's
announcement, by normal messages or WeChat's mass send), previewed and scheduled; a
scheduled one cancelled before it goes out. The preview is the CLI's dry run
(models/broadcasts/preview.py): who the audience reaches, who it leaves out and why, and
how each would get it now, by the worker's channel rules with the allowances and quota
pauses the workers keep in Redis (scheduler/limits.py); the mass-send quota used in its
period is shown beside it. Scheduling and cancelling are the CLI's operations
(models/broadcasts/fanout.py), which audit them under the signed-in account; a mistake
is shown next to its field, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from bot.console.auth import requires
from bot.console.context import account, now, request_db, services
from bot.console.needs.common import category_names
from bot.services import broadcast_settings
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.base import local_text
from models.broadcasts.audience import Audience, AudienceKind, resolve_audience
from models.broadcasts.fanout import cancel_broadcast, check_send_at, create_broadcast
from models.broadcasts.mass import QuotaPeriod, check_mass_quota, mass_quota_use, plan_mass
from models.broadcasts.messages import (
    announceable_event,
    as_residents_see,
    event_announcement,
    text_message,
)
from models.broadcasts.preview import mass_split, preview_reach
from models.broadcasts.progress import broadcast_progress
from models.broadcasts.queries import recent_broadcasts
from models.broadcasts.records import (
    BroadcastError,
    BroadcastSettings,
    BroadcastStatus,
    MassQuotaError,
)
from models.events.queries import upcoming_events
from models.push.channels import LiveLimits
from models.push.reach import Reach
from models.tags.queries import all_tags
from models.villages.queries import active_villages
from scheduler.limits import read_limits

blueprint = Blueprint("broadcasts", __name__, url_prefix="/broadcasts")

FIELDS = (
    "message",
    "text",
    "text_en",
    "event",
    "audience",
    "tag",
    "village",
    "audience_event",
    "category",
    "days",
    "at",
    "mass",
)
# What a broadcast says: staff's own words, or a published event's announcement.
MESSAGES = ("text", "event")
# The events offered for an announcement: the next ones to start.
EVENTS_OFFERED = 50
# The audiences the console offers, each with the form field that names whom.
AUDIENCE_FIELDS: dict[str, str] = {
    AudienceKind.TAG: "tag",
    AudienceKind.VILLAGE: "village",
    AudienceKind.SIGNED_UP: "audience_event",
    AudienceKind.ATTENDED: "audience_event",
    AudienceKind.CATEGORY_INTEREST: "category",
    AudienceKind.WROTE_WITHIN: "days",
}
QUOTA_TEXT_KEYS = {
    QuotaPeriod.DAY: "console_broadcast_quota_day",
    QuotaPeriod.MONTH: "console_broadcast_quota_month",
}
STATUS_TEXT_KEYS = {
    BroadcastStatus.SCHEDULED: "console_broadcast_status_scheduled",
    BroadcastStatus.SENT: "console_broadcast_status_sent",
    BroadcastStatus.REFUSED: "console_broadcast_status_refused",
    BroadcastStatus.CANCELLED: "console_broadcast_status_cancelled",
}


class FormError(ValueError):
    """What is wrong with the form, as a catalog key and its values, and the field it is
    shown next to."""

    def __init__(self, key: str, field: str, **values: str) -> None:
        super().__init__(key)
        self.key = key
        self.field = field
        self.values = values

    def text(self) -> str:
        return gettext(self.key).format(**self.values)


@dataclass(frozen=True)
class Composed:
    texts: dict[str, str]
    audience: str
    send_at: datetime | None
    event_id: int | None
    mass: bool


def _page(
    form: dict[str, str],
    error: FormError | None = None,
    preview: dict[str, object] | None = None,
) -> str:
    db = request_db()
    listed = recent_broadcasts(db, scheduled_only=False)
    tags = all_tags(db)
    return render_template(
        "console/broadcasts.html",
        broadcasts=listed,
        progress=broadcast_progress(db, listed),
        villages=active_villages(db),
        events=upcoming_events(db, now(), limit=EVENTS_OFFERED),
        quota=_quota_text(db),
        tags=tags,
        # A tag audience is listed by the tag's name in the reader's language.
        tag_names={tag.key: tag.name(account().language) for tag in tags},
        categories=category_names(),
        status_keys=STATUS_TEXT_KEYS,
        form=form,
        error=None if error is None else error.text(),
        error_field=None if error is None else error.field,
        preview=preview,
    )


def _quota_text(db: Session) -> str:
    """The mass-send quota used in its period, and when it resets."""
    settings = _settings()
    use = mass_quota_use(db, settings, now())
    return gettext(QUOTA_TEXT_KEYS[use.period]).format(
        used=use.used,
        limit=use.limit,
        full=use.followers_at_limit,
        resets=local_text(use.resets_at, settings.tz),
    )


def _settings() -> BroadcastSettings:
    return broadcast_settings(services().config)


def _live() -> LiveLimits:
    """The allowances spent and the quota pauses, as the workers keep them now."""
    return read_limits(services().redis, now(), services().config.wechat.account_type)


@blueprint.get("/")
@requires(Permission.READ_OUTBOX)
def index() -> str:
    return _page({"audience": AudienceKind.ALL, "message": "text"})


@blueprint.post("/preview")
@requires(Permission.SEND_BROADCASTS)
def preview() -> ResponseReturnValue:
    """The dry run of the form's broadcast: nothing is written. A normal broadcast is
    counted set-based; a mass send is planned as it would be sent, and its quota checked."""
    form = _form()
    db = request_db()
    settings, live = _settings(), _live()
    try:
        composed = _composed(form, require_time=False)
        if composed.mass:
            found = _resolve(composed.audience)
            plan = plan_mass(found, settings)
            _check_quota(lambda: check_mass_quota(db, plan, settings, now(), composed.send_at))
            split = mass_split(db, plan, settings, now(), live)
            shown: dict[str, object] = {
                "reached": found.size,
                "unfollowed": found.excluded_unsubscribed,
                "opted_out": found.excluded_opted_out,
                "routes": {"mass": split.mass, **split.singles},
                "paused": split.paused,
                "mass_paused": split.mass_paused,
            }
        else:
            _, reach = _reached(composed.audience, settings, live)
            shown = {
                "reached": reach.reached,
                "unfollowed": reach.excluded_unsubscribed,
                "opted_out": reach.excluded_opted_out,
                "routes": reach.counts(),
                "paused": reach.paused,
            }
    except FormError as exc:
        db.rollback()
        return _page(form, exc), 400
    # The quota check's lock (PostgreSQL) is the only thing the preview took: let it go.
    db.rollback()
    shown["texts"] = as_residents_see(composed.texts)
    return _page(form, preview=shown)


@blueprint.post("/")
@requires(Permission.SEND_BROADCASTS)
def schedule() -> ResponseReturnValue:
    form = _form()
    db = request_db()
    settings = _settings()
    try:
        composed = _composed(form, require_time=True)
        found = _resolve(composed.audience)
        assert composed.send_at is not None
        send_at = composed.send_at
        if composed.mass:
            plan = plan_mass(found, settings)
            _check_quota(lambda: check_mass_quota(db, plan, settings, now(), send_at))
        scheduled = create_broadcast(
            db,
            actor_for(account()),
            texts=composed.texts,
            audience=composed.audience,
            now=now(),
            scheduled_at=send_at,
            event_id=composed.event_id,
            mass=composed.mass,
        )
    except FormError as exc:
        db.rollback()
        return _page(form, exc), 400
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
        error = FormError("console_broadcast_error_cancel", "cancel", number=str(broadcast_id))
        return _page({"audience": AudienceKind.ALL, "message": "text"}, error), 400
    db.commit()
    flash(gettext("console_broadcast_cancelled").format(number=broadcast_id))
    return redirect(url_for("console.broadcasts.index"))


def _form() -> dict[str, str]:
    return {name: request.form.get(name, "").strip() for name in FIELDS}


def _composed(form: dict[str, str], *, require_time: bool) -> Composed:
    """The form read as a broadcast, or the first thing wrong with it."""
    message = form["message"] or "text"
    if message not in MESSAGES:
        abort(400)
    send_at = _send_at(form["at"], require_time)
    event_id = None
    if message == "event":
        event_id, texts = _announcement(form["event"], send_at)
    else:
        try:
            texts = text_message(form["text"], form["text_en"] or None)
        except BroadcastError:
            raise FormError("console_broadcast_error_text", "text") from None
    return Composed(texts, _audience(form), send_at, event_id, form["mass"] == "1")


def _announcement(chosen: str, send_at: datetime | None) -> tuple[int, dict[str, str]]:
    """The chosen event and its announcement, refused unless residents could still sign
    up for it when the broadcast goes out."""
    if not chosen.isdecimal():
        raise FormError("console_broadcast_error_event_missing", "event")
    db = request_db()
    try:
        event = announceable_event(db, int(chosen), send_at or now())
    except BroadcastError:
        raise FormError("console_broadcast_error_event", "event") from None
    return event.id, event_announcement(db, event, _settings().tz)


def _check_quota(check: Callable[[], None]) -> None:
    """WeChat's mass-send quotas, refused next to the mass-send box in the reader's
    language."""
    try:
        check()
    except MassQuotaError as refusal:
        reason = refusal.text(account().language)
        raise FormError("console_broadcast_error_mass", "mass", reason=reason) from None


def _reached(spec: str, settings: BroadcastSettings, live: LiveLimits) -> tuple[str, Reach]:
    """The audience counted by route; an unknown tag or village is the form's mistake."""
    try:
        return preview_reach(request_db(), spec, settings, now(), live, category_names())
    except BroadcastError:
        raise FormError("console_broadcast_error_audience", "audience", audience=spec) from None


def _audience(form: dict[str, str]) -> str:
    """The audience spec the form chose: everyone, or a kind and the field naming whom
    (checked by the domain's own reading of the spec when it is resolved)."""
    kind = form["audience"]
    if kind == AudienceKind.ALL:
        return AudienceKind.ALL
    field = AUDIENCE_FIELDS.get(kind)
    if field is None:
        abort(400)
    if not form[field]:
        raise FormError("console_broadcast_error_audience_missing", "audience")
    return f"{kind}:{form[field]}"


def _resolve(spec: str) -> Audience:
    """The audience now; an unknown tag or village is the form's mistake."""
    try:
        return resolve_audience(request_db(), spec, now(), category_names())
    except BroadcastError:
        raise FormError("console_broadcast_error_audience", "audience", audience=spec) from None


def _send_at(value: str, required: bool) -> datetime | None:
    """The local time the form asks for, refused unless after now and within a year."""
    if not value:
        if required:
            raise FormError("console_broadcast_error_at_missing", "at")
        return None
    tz = services().config.bot.tz
    try:
        moment = datetime.fromisoformat(value).replace(tzinfo=tz)
        check_send_at(moment, now(), tz)
    except (ValueError, OverflowError):
        raise FormError("console_broadcast_error_at", "at", at=value) from None
    return moment
