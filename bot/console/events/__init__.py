"""Events in the console, at /console/events/: the list, the form that creates and edits
one, publishing and cancelling, the roster with check-in at the door, and the check-in QR
code. Every route is declared here, in one place; each module holds what it does."""

from __future__ import annotations

from flask import Blueprint

from bot.console.events import cancelling, editing, listing, qr, roster

blueprint = Blueprint("events", __name__, url_prefix="/events")
blueprint.context_processor(listing.event_names)

blueprint.add_url_rule("/", view_func=listing.index, methods=["GET"])
blueprint.add_url_rule("/new", view_func=editing.new_form, methods=["GET"])
blueprint.add_url_rule("/new", view_func=editing.create, methods=["POST"])
blueprint.add_url_rule("/<int:event_id>", view_func=roster.roster_page, methods=["GET"])
blueprint.add_url_rule("/<int:event_id>/edit", view_func=editing.edit_form, methods=["GET"])
blueprint.add_url_rule("/<int:event_id>/edit", view_func=editing.update, methods=["POST"])
blueprint.add_url_rule("/<int:event_id>/publish", view_func=editing.publish, methods=["POST"])
blueprint.add_url_rule("/<int:event_id>/cancel", view_func=cancelling.cancel_form, methods=["GET"])
blueprint.add_url_rule("/<int:event_id>/cancel", view_func=cancelling.cancel, methods=["POST"])
blueprint.add_url_rule(
    "/<int:event_id>/checkin", view_func=roster.check_in_selected, methods=["POST"]
)
blueprint.add_url_rule(
    "/<int:event_id>/checkin/code", view_func=roster.check_in_code, methods=["POST"]
)
blueprint.add_url_rule(
    "/<int:event_id>/checkin/<int:signup_id>", view_func=roster.check_in_row, methods=["POST"]
)
blueprint.add_url_rule(
    "/<int:event_id>/walk-ins", view_func=roster.add_walk_in_by_hand, methods=["POST"]
)
blueprint.add_url_rule("/<int:event_id>/qr.png", view_func=qr.qr_png, methods=["GET"])
