"""``events qr``: the event's check-in QR code, created by WeChat and saved as PNG."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.events.options import event_id_of, event_session
from bot.cli.support import StaffError, config_from_context, emit_object, json_option
from bot.config.errors import ConfigError
from bot.config.sections import Config
from bot.redis_conn import connect_redis
from bot.wechat.qr_image import QRImageUnavailable, permanent_qr_png
from models.events.checkin import QR_SCENE_PREFIX
from models.events.queries import get_event
from models.events.tables import EventStatus


class WeChatUnavailable(StaffError):
    """WeChat refused or did not answer: one line, but exit 1, since no argument was wrong."""

    exit_code = 1


@click.command("qr", short_help="Save the check-in QR code as PNG.")
@click.argument("event_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to save the PNG, e.g. event-12.png.",
)
@json_option('Print {"event_id", "scene", "out"} as JSON.')
@click.pass_context
def qr_command(ctx: click.Context, event_id: str, out: Path | None, as_json: bool) -> None:
    """Save the event's check-in QR code (a permanent WeChat code, scene checkin:<id>)."""
    number = event_id_of(event_id)
    if out is None:
        raise StaffError("--out is required, e.g. --out event.png")
    if out.suffix.lower() != ".png":
        raise StaffError(f"--out: {str(out)!r} should end in .png (WeChat sends a PNG)")
    if not out.parent.is_dir():
        raise StaffError(f"--out: folder {str(out.parent)!r} does not exist")
    with event_session(ctx) as db:
        event = get_event(db, number)
        if event.status in (EventStatus.CANCELLED, EventStatus.FINISHED):
            raise StaffError(f"event {number} is {event.status}; it needs no check-in code")
    config = config_from_context(ctx)
    try:
        config.require_wechat_credentials()
    except ConfigError as exc:
        raise StaffError(f"config: {exc}") from None
    scene = f"{QR_SCENE_PREFIX}{number}"
    image = _fetch_qr(config, scene)
    try:
        out.write_bytes(image)
    except OSError as exc:
        raise StaffError(f"--out: cannot write {str(out)!r}: {exc.strerror}") from None
    if as_json:
        emit_object({"event_id": number, "scene": scene, "out": str(out)}, as_json=True)
        return
    click.echo(f"saved the check-in QR code for event {number} to {out}")


def _fetch_qr(config: Config, scene: str) -> bytes:
    """The QR code's PNG, over a Redis connection of the command's own (the shared token)."""
    redis_client = connect_redis(config.redis.url)
    try:
        return permanent_qr_png(config, redis_client, scene)
    except QRImageUnavailable as exc:
        raise WeChatUnavailable(str(exc)) from None
    finally:
        redis_client.close()
