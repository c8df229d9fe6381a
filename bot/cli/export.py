"""``aixiang export KIND [FILTER=VALUE ...] --out FILE``: a console list as an XLSX or CSV
file, written by the same code as the console's downloads (scheduler/exports), from the same
query, kept to what ``--as ACCOUNT`` may see and audited the same way.

The filters are the words of the list's page address (``status=submitted``,
``village=3``, ``event=12``). The file is written beside ``--out`` and renamed once it is
whole, so a refused or failed export leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from bot.cli.actors import acting_account, as_option, os_user
from bot.cli.support import (
    StaffError,
    config_from_context,
    emit_object,
    json_option,
    now_from_context,
    open_database,
    unreachable,
)
from models.accounts.roles import Role
from models.db import make_session_factory
from models.exports.errors import ExportError
from models.exports.kinds import ExportFormat, ExportKind
from models.exports.queries import ExportScope
from scheduler.exports.runs import Asked, Exporter, ExportSettings, export_to_file


def parse_filters(pairs: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` arguments as the list's filters; anything else is refused."""
    filters: dict[str, str] = {}
    for pair in pairs:
        key, sign, value = pair.partition("=")
        if not sign or not key:
            raise StaffError(f"filter {pair!r}: write it as KEY=VALUE, e.g. status=submitted")
        filters[key] = value
    return filters


@click.command(
    "export",
    short_help="Export a console list as an XLSX or CSV file.",
    epilog="Kinds: " + ", ".join(ExportKind),
)
@click.argument("kind")
@click.argument("filters", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([fmt.value for fmt in ExportFormat]),
    default=ExportFormat.XLSX.value,
    show_default=True,
    help="The file's format (CSV is UTF-8 with a byte-order mark).",
)
@click.option("--out", "out", required=True, metavar="FILE", help="The file to write.")
@as_option
@json_option("Print what was written as JSON.")
@click.pass_context
def export(
    ctx: click.Context,
    kind: str,
    filters: tuple[str, ...],
    fmt: str,
    out: str,
    as_account: str | None,
    as_json: bool,
) -> None:
    """Write the list KIND, narrowed by FILTERS (KEY=VALUE, the words of its console
    page's address), to --out. With --as, only what that account may see, with headers in
    its language; without, everything, as the operating-system user (audited as such)."""
    asked = Asked(kind, parse_filters(filters), ExportFormat(fmt))
    path = Path(out)
    if not path.parent.is_dir():
        raise StaffError(f"--out: the folder {path.parent} does not exist")
    if path.is_dir():
        raise StaffError(f"--out: {path} is a folder; name a file")
    config = config_from_context(ctx)
    now = now_from_context(ctx)
    engine = open_database(config.database)
    try:
        with make_session_factory(engine)() as db:
            if as_account is None:
                exporter = Exporter(os_user(), ExportScope(Role.ADMIN), config.bot.default_language)
            else:
                exporter = Exporter.of(acting_account(db, as_account, None))
            count = export_to_file(db, exporter, asked, ExportSettings.of(config), path, now)
    except ExportError as exc:
        raise StaffError(str(exc)) from None
    except OperationalError as exc:
        raise unreachable(exc) from None
    except OSError as exc:
        raise StaffError(f"--out: {exc.strerror or exc}") from None
    finally:
        engine.dispose()
    if as_json:
        emit_object({"kind": kind, "format": fmt, "rows": count, "out": str(path)}, as_json)
    else:
        click.echo(f"{count} rows written to {path}")
