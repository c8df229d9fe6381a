"""``aixiang villages``: the villages (and groups within them) residents choose from.

Each change goes through models/villages, which writes the audit entry in the same
transaction; ``--as`` names an account allowed to manage villages (an admin). A group is
named with its village, 朝阳村·一组 (or 朝阳村 一组).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from sqlalchemy.orm import Session

from bot.cli.actors import acting, as_option
from bot.cli.support import (
    emit,
    emit_object,
    json_option,
    now_from_context,
    printable,
    refusing_session,
)
from models.accounts.roles import Permission
from models.villages.errors import VillageError
from models.villages.operations import add_village, rename_village, retire_village
from models.villages.queries import VillageEntry, all_villages, find_village, village_entry

COLUMNS = ("id", "village", "group", "retired")


@click.group(short_help="The villages residents choose from.")
def villages() -> None:
    """Villages or communities, and groups (组) within them, that residents choose from."""


def _record(entry: VillageEntry) -> dict[str, Any]:
    return asdict(entry)


def _show(db: Session, village_id: int, as_json: bool, said: str) -> None:
    entry = village_entry(db, village_id)
    if entry is None:
        raise RuntimeError(f"village {village_id} vanished in its own transaction")
    if as_json:
        emit_object(_record(entry), as_json=True)
    else:
        click.echo(printable(f"village {entry.id}: {entry.label} {said}"))


@villages.command("add", short_help="Add a village, or a group within one.")
@click.argument("name")
@click.option("--in", "within", metavar="VILLAGE", help="Add a group (组) within this village.")
@as_option
@json_option("Print the new village as JSON.")
@click.pass_context
def add_command(
    ctx: click.Context, name: str, within: str | None, as_account: str | None, as_json: bool
) -> None:
    """Add a village or community; with --in, a group within a village."""
    with refusing_session(ctx, VillageError) as db:
        actor = acting(db, as_account, Permission.MANAGE_VILLAGES)
        parent = find_village(db, within) if within is not None else None
        village = add_village(db, actor, name, now_from_context(ctx), within=parent)
        _show(db, village.id, as_json, "added")


@villages.command("list", short_help="Villages and their groups, as residents see them.")
@click.option("--all", "everything", is_flag=True, help="Retired villages too.")
@json_option()
@click.pass_context
def list_command(ctx: click.Context, everything: bool, as_json: bool) -> None:
    """Villages, each followed by its groups, in the order residents see them numbered."""
    with refusing_session(ctx, VillageError) as db:
        rows = [_record(entry) for entry in all_villages(db) if everything or not entry.retired]
    emit(rows, as_json, COLUMNS)


@villages.command("rename", short_help="Give a village or group a new name.")
@click.argument("name")
@click.argument("new_name")
@as_option
@json_option("Print the village after the change as JSON.")
@click.pass_context
def rename_command(
    ctx: click.Context, name: str, new_name: str, as_account: str | None, as_json: bool
) -> None:
    """Rename a village or group (a group by its village's name and its own: 朝阳村·一组);
    needs, events and residents that name it read the new name."""
    with refusing_session(ctx, VillageError) as db:
        actor = acting(db, as_account, Permission.MANAGE_VILLAGES)
        village = find_village(db, name)
        rename_village(db, actor, village, new_name, now_from_context(ctx))
        _show(db, village.id, as_json, "renamed")


@villages.command("retire", short_help="Stop offering a village to residents.")
@click.argument("name")
@as_option
@json_option("Print the village after the change as JSON.")
@click.pass_context
def retire_command(ctx: click.Context, name: str, as_account: str | None, as_json: bool) -> None:
    """Stop offering a village (with its groups) or a group to residents; needs, events
    and residents that name it keep it."""
    with refusing_session(ctx, VillageError) as db:
        actor = acting(db, as_account, Permission.MANAGE_VILLAGES)
        village = find_village(db, name)
        retire_village(db, actor, village, now_from_context(ctx))
        _show(db, village.id, as_json, "retired")
