"""The event's check-in QR code as a PNG, to show on the roster or download and print:
WeChat makes it (a permanent code whose scene is ``checkin:<id>``), through the same
function as ``aixiang events qr`` (bot/wechat/qr_image.py)."""

from __future__ import annotations

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.context import services
from bot.console.events.access import checks_in, visible_event
from bot.wechat.qr_image import QRImageUnavailable, permanent_qr_png
from models.events.checkin import QR_SCENE_PREFIX
from models.events.tables import EventStatus

CLOSED_STATUSES = (EventStatus.CANCELLED, EventStatus.FINISHED)


@checks_in
def qr_png(event_id: int) -> ResponseReturnValue:
    """The PNG; ``?download=1`` saves it as ``event-<id>-checkin.png``."""
    event = visible_event(event_id)
    if event.status in CLOSED_STATUSES:
        message = gettext("console_event_qr_closed")
        return render_template("console/error.html", message=message), 409
    try:
        image = permanent_qr_png(
            services().config, services().redis, f"{QR_SCENE_PREFIX}{event.id}"
        )
    except QRImageUnavailable:
        message = gettext("console_event_qr_unavailable")
        return render_template("console/error.html", message=message), 502
    response = Response(image, mimetype="image/png")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = (
            f'attachment; filename="event-{event.id}-checkin.png"'
        )
    return response
