"""A need's photos, from the media folder, to signed-in accounts that may see the need:
the address names the need and the photo's position, never a file, and the need is
looked up with the same scope as its page, so a partner gets a 404 for another's."""

from __future__ import annotations

from flask import abort, send_from_directory
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bot.console.context import request_db, services
from bot.console.needs.blueprint import blueprint
from bot.console.needs.common import find_need
from models.needs.tables import NeedPhoto, PhotoStatus


@blueprint.get("/<ref>/photos/<int:position>")
def photo(ref: str, position: int) -> ResponseReturnValue:
    need = find_need(ref)
    found = (
        request_db()
        .execute(
            select(NeedPhoto).where(
                NeedPhoto.need_id == need.id,
                NeedPhoto.position == position,
                NeedPhoto.status == PhotoStatus.FETCHED,
            )
        )
        .scalar_one_or_none()
    )
    if found is None or not found.local_path:
        abort(404)
    response = send_from_directory(
        services().config.needs.media_dir, found.local_path, mimetype=found.content_type
    )
    # A resident's photo: not kept by shared caches, nor by the browser once signed out.
    response.headers["Cache-Control"] = "private, no-store"
    return response
