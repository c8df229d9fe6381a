"""A need's photos, from the media folder, to signed-in accounts that may see the need:
the address names the need and the photo's position, never a file, and the need is
looked up with the same scope as its page, so a partner gets a 404 for another's."""

from __future__ import annotations

from flask import abort, send_from_directory
from flask.typing import ResponseReturnValue

from bot.console.context import request_db, services
from bot.console.needs.blueprint import blueprint
from bot.console.needs.common import find_need
from models.needs.details import stored_photo


@blueprint.get("/<ref>/photos/<int:position>")
def photo(ref: str, position: int) -> ResponseReturnValue:
    found = stored_photo(request_db(), find_need(ref), position)
    if found is None or found.local_path is None:
        abort(404)
    # send_from_directory refuses a stored path that would leave the media folder.
    response = send_from_directory(
        services().config.needs.media_dir, found.local_path, mimetype=found.content_type
    )
    # A resident's photo: not kept by shared caches, nor by the browser once signed out.
    response.headers["Cache-Control"] = "private, no-store"
    return response
