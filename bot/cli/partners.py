"""``aixiang partners``: the organisations that take on needs."""

from __future__ import annotations

import click

from bot.cli.support import StaffError, emit, now_from_context, staff_session
from models.partners import PartnerError, PartnerKind, add_partner, list_partners


@click.group()
def partners() -> None:
    """Partner organisations that take on needs."""


@partners.command("add", short_help="Add a partner organisation.")
@click.argument("name")
@click.option("--kind", required=True, help=f"One of: {', '.join(PartnerKind)}.")
@click.option("--contact-openid", help="A staff contact's WeChat openid (optional).")
@click.pass_context
def partners_add(ctx: click.Context, name: str, kind: str, contact_openid: str | None) -> None:
    """Add a partner: a government department, enterprise, NGO, school or volunteer group."""
    with staff_session(ctx) as db:
        try:
            partner = add_partner(
                db, name=name, kind=kind, contact_openid=contact_openid, now=now_from_context(ctx)
            )
        except PartnerError as exc:
            raise StaffError(str(exc)) from None
        click.echo(f"partner {partner.id}: {partner.name} ({partner.kind})")


@partners.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def partners_list(ctx: click.Context, as_json: bool) -> None:
    """List partners."""
    with staff_session(ctx) as db:
        rows = [
            {
                "id": partner.id,
                "name": partner.name,
                "kind": partner.kind,
                "contact_openid": partner.contact_openid,
            }
            for partner in list_partners(db)
        ]
    emit(rows, as_json, ("id", "name", "kind", "contact_openid"))
