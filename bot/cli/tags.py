"""``aixiang tags``: the managed list of tags events are given, each with a Chinese and an
English name.

A tag is named by either name (长者 or elderly; English in any case) wherever the CLI
takes one: here, ``events create/update --tag`` and ``broadcast --audience tag:T``. Each
change goes through models/tags, which writes the audit entry in the same transaction;
``--as`` names an account allowed to manage tags (an admin).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from bot.cli.actors import acting, as_option
from bot.cli.support import (
    StaffError,
    emit,
    emit_object,
    json_option,
    now_from_context,
    printable,
    staff_session,
)
from models.accounts.roles import Permission
from models.tags.errors import TagError
from models.tags.operations import add_tag, merge_tag, rename_tag, set_tag_active
from models.tags.queries import all_tags, find_tag
from models.tags.tables import Tag

COLUMNS = ("key", "name_zh", "name_en", "active")


@click.group(short_help="The tags events are given.")
def tags() -> None:
    """The tags events are given (the audiences they are for), named in both languages."""


@contextmanager
def _session(ctx: click.Context) -> Iterator[Session]:
    """A staff session where a refused rule becomes a one-line error (and a rollback)."""
    try:
        with staff_session(ctx) as db:
            yield db
    except TagError as error:
        raise StaffError(str(error)) from None


def _record(tag: Tag) -> dict[str, Any]:
    return {"key": tag.key, "name_zh": tag.name_zh, "name_en": tag.name_en, "active": tag.active}


def _show(tag: Tag, as_json: bool, said: str) -> None:
    if as_json:
        emit_object(_record(tag), as_json=True)
    else:
        click.echo(printable(f"tag {tag.key}: {tag.label} {said}"))


@tags.command("list", short_help="Every tag with both names.")
@json_option()
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """Every tag, in the order they were added, with whether it is still in use."""
    with _session(ctx) as db:
        rows = [_record(tag) for tag in all_tags(db)]
    emit(rows, as_json, COLUMNS)


@tags.command("add", short_help="Add a tag.")
@click.option("--zh", "name_zh", required=True, help="Its Chinese name, e.g. 长者.")
@click.option("--en", "name_en", required=True, help="Its English name, e.g. elderly.")
@as_option
@json_option("Print the new tag as JSON.")
@click.pass_context
def add_command(
    ctx: click.Context, name_zh: str, name_en: str, as_account: str | None, as_json: bool
) -> None:
    """Add a tag with its Chinese and English names; its key is made from the English."""
    with _session(ctx) as db:
        actor = acting(db, as_account, Permission.MANAGE_TAGS)
        tag = add_tag(db, actor, name_zh, name_en, now_from_context(ctx))
        _show(tag, as_json, "added")


@tags.command("rename", short_help="Give a tag a new name in either language.")
@click.argument("name")
@click.option("--zh", "name_zh", help="The new Chinese name.")
@click.option("--en", "name_en", help="The new English name.")
@as_option
@json_option("Print the tag after the change as JSON.")
@click.pass_context
def rename_command(
    ctx: click.Context,
    name: str,
    name_zh: str | None,
    name_en: str | None,
    as_account: str | None,
    as_json: bool,
) -> None:
    """Rename the tag NAME (either of its names); its events and key stay."""
    if name_zh is None and name_en is None:
        raise StaffError("nothing to change: give --zh, --en or both")
    with _session(ctx) as db:
        actor = acting(db, as_account, Permission.MANAGE_TAGS)
        tag = find_tag(db, name)
        rename_tag(db, actor, tag, now_from_context(ctx), name_zh=name_zh, name_en=name_en)
        _show(tag, as_json, "renamed")


@tags.command("deactivate", short_help="Stop offering a tag for events.")
@click.argument("name")
@as_option
@json_option("Print the tag after the change as JSON.")
@click.pass_context
def deactivate_command(
    ctx: click.Context, name: str, as_account: str | None, as_json: bool
) -> None:
    """Stop offering the tag NAME for events; events that have it keep it, and a
    broadcast to tag:NAME still reaches their residents."""
    with _session(ctx) as db:
        actor = acting(db, as_account, Permission.MANAGE_TAGS)
        tag = find_tag(db, name)
        set_tag_active(db, actor, tag, False, now_from_context(ctx))
        _show(tag, as_json, "deactivated")


@tags.command("activate", short_help="Offer a deactivated tag for events again.")
@click.argument("name")
@as_option
@json_option("Print the tag after the change as JSON.")
@click.pass_context
def activate_command(ctx: click.Context, name: str, as_account: str | None, as_json: bool) -> None:
    """Offer the tag NAME for events again."""
    with _session(ctx) as db:
        actor = acting(db, as_account, Permission.MANAGE_TAGS)
        tag = find_tag(db, name)
        set_tag_active(db, actor, tag, True, now_from_context(ctx))
        _show(tag, as_json, "activated")


@tags.command("merge", short_help="Fold one tag into another.")
@click.argument("name")
@click.argument("into")
@as_option
@json_option("Print the tag merged into as JSON, with the key merged and the events moved.")
@click.pass_context
def merge_command(
    ctx: click.Context, name: str, into: str, as_account: str | None, as_json: bool
) -> None:
    """Fold the tag NAME into the tag INTO: NAME's events carry INTO instead and NAME is
    removed, so its names are free to give INTO."""
    with _session(ctx) as db:
        actor = acting(db, as_account, Permission.MANAGE_TAGS)
        tag, target = find_tag(db, name), find_tag(db, into)
        key, label = tag.key, tag.label
        moved = merge_tag(db, actor, tag, target, now_from_context(ctx))
        if as_json:
            emit_object({**_record(target), "merged": key, "events": moved}, as_json=True)
        else:
            click.echo(
                printable(f"tag {label} merged into {target.label}: {moved} event(s) re-tagged")
            )
