"""``aixiang partners``: the organisations that take on needs.

Adding one is audited (models/partners.py); ``--as`` names an account allowed to manage
partners (an admin)."""

from __future__ import annotations

from typing import Any

import click

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
from models.partners import Partner, PartnerError, PartnerKind, add_partner, list_partners

COLUMNS = ("id", "name", "kind", "contact_openid")


@click.group()
def partners() -> None:
    """Partner organisations that take on needs."""


@partners.command("add", short_help="Add a partner organisation.")
@click.argument("name")
@click.option("--kind", required=True, help=f"One of: {', '.join(PartnerKind)}.")
@click.option("--contact-openid", help="A staff contact's WeChat openid (optional).")
@as_option
@json_option("Print the new partner as JSON.")
@click.pass_context
def partners_add(
    ctx: click.Context,
    name: str,
    kind: str,
    contact_openid: str | None,
    as_account: str | None,
    as_json: bool,
) -> None:
    """Add a partner: a government department, enterprise, NGO, school or volunteer group."""
    with staff_session(ctx) as db:
        actor = acting(db, as_account, Permission.MANAGE_PARTNERS)
        try:
            partner = add_partner(
                db,
                actor,
                name=name,
                kind=kind,
                contact_openid=contact_openid,
                now=now_from_context(ctx),
            )
        except PartnerError as exc:
            raise StaffError(str(exc)) from None
        record = _record(partner)
    if as_json:
        emit_object(record, as_json=True)
    else:
        click.echo(printable(f"partner {partner.id}: {partner.name} ({partner.kind})"))


@partners.command("list")
@json_option()
@click.pass_context
def partners_list(ctx: click.Context, as_json: bool) -> None:
    """List partners."""
    with staff_session(ctx) as db:
        rows = [_record(partner) for partner in list_partners(db)]
    emit(rows, as_json, COLUMNS)


def _record(partner: Partner) -> dict[str, Any]:
    return {column: getattr(partner, column) for column in COLUMNS}
