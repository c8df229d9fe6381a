"""What every staff command shares: one-line errors with exit 2, tables or JSON, local time.

A person's mistake (unknown id, bad date, bad option) is a :class:`click.UsageError`
subclass, which click prints as one line and exits 2; a bad config is turned into the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from unicodedata import east_asian_width
from zoneinfo import ZoneInfo

import click
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.config.errors import ConfigError
from bot.config.loader import load_config
from bot.config.sections import Config, DatabaseConfig
from bot.services import Services, build_services, clock_for
from bot.wechat.client import AixiangWeChatClient, build_wechat_client
from models.base import ID_MAX, local_text
from models.db import make_engine, make_session_factory
from models.migrate import MIGRATIONS_TABLE


class StaffError(click.ClickException):
    """A person's mistake: printed as one line, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def config_from_context(ctx: click.Context) -> Config:
    """The process config, loaded once per command; a bad setting is one line, exit 2."""
    root = ctx.find_root()
    if "config" not in root.meta:
        try:
            root.meta["config"] = load_config()
        except ConfigError as exc:
            raise StaffError(f"config: {exc}") from None
    config: Config = root.meta["config"]
    return config


def now_from_context(ctx: click.Context) -> datetime:
    """The time by the config's clock: real time, or the demo's when run against it."""
    try:
        return clock_for(config_from_context(ctx))()
    except ConfigError as exc:
        raise StaffError(f"config: {exc}") from None


@contextmanager
def staff_session(ctx: click.Context) -> Iterator[Session]:
    """A DB session that commits when the command succeeds and rolls back on any error.

    The database must exist and carry the schema; if not, the command stops in one line
    saying so, before anything is read or written (and without creating an empty SQLite
    file, as merely connecting would).
    """
    config = config_from_context(ctx)
    engine = open_database(config.database)
    try:
        with make_session_factory(engine)() as db, db.begin():
            yield db
    finally:
        engine.dispose()


@contextmanager
def refusing_session(ctx: click.Context, *refusals: type[Exception]) -> Iterator[Session]:
    """A staff session where a domain rule's refusal (one of ``refusals``, whose message
    is already the sentence to print) becomes a one-line error, and a rollback."""
    try:
        with staff_session(ctx) as db:
            yield db
    except refusals as error:
        raise StaffError(str(error)) from None


def open_database(database: DatabaseConfig) -> Engine:
    """An engine on a database that exists, is reachable (within the config's connect
    timeout) and has the schema."""
    url = database.url
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() == "sqlite" and path and not Path(path).exists():
        raise StaffError(f"no database at {path}: create it with `aixiang db upgrade`")
    engine = make_engine(url, timeouts=database.timeouts)
    try:
        with engine.connect() as connection:
            migrated = inspect(connection).has_table(MIGRATIONS_TABLE)
    except OperationalError as exc:
        engine.dispose()
        raise unreachable(exc) from None
    if not migrated:
        engine.dispose()
        raise StaffError("the database has no schema yet: run `aixiang db upgrade` first")
    return engine


def unreachable(exc: OperationalError) -> StaffError:
    """The driver's own first line, not SQLAlchemy's message: that one repeats the URL,
    password included, and the statement."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
    return StaffError(f"cannot reach the database: {reason}")


def parse_id(value: str, what: str, listed_by: str) -> int:
    """A record's number as staff type it ("12" or "#12"); anything else is one line.

    A number past the integer range belongs to no record; it is refused here because
    PostgreSQL would refuse it in the query with a traceback instead.
    """
    cleaned = value.strip().lstrip("#")
    if not cleaned.isdecimal():
        raise StaffError(f"{value!r} is not {what} (a number, as `{listed_by}` shows)")
    number = int(cleaned)
    if number > ID_MAX:
        raise StaffError(f"{value!r} is too large to be {what} (see `{listed_by}`)")
    return number


def parse_local_time(
    value: str, tz: ZoneInfo, option: str, *, date_alone: bool = False
) -> datetime:
    """An ISO date-time typed by staff, read in the club's time zone; a date alone (its
    midnight) only where ``date_alone`` says a day is meant, as in ``--since``. Elsewhere
    a date alone is refused: read as midnight it would start an event at 00:00.

    A time within hours of year 1 or 9999 may have no UTC (how it is stored) or no local
    form (how it is shown), and Python would raise OverflowError at the first conversion,
    deep inside a query; it is refused here instead, naming the option.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise StaffError(
            f"{option}: {value!r} is not a date or time like 2026-06-01 or 2026-06-01T09:30"
        ) from None
    if not date_alone and _is_date_alone(value):
        raise StaffError(
            f"{option}: {value!r} has no time of day; give the date and the time, "
            "like 2026-06-01T09:30"
        )
    moment = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
    try:
        moment.astimezone(UTC)
        moment.astimezone(tz)
    except OverflowError:
        raise StaffError(
            f"{option}: {value!r} is out of range (times are kept in UTC, within the years "
            "1 to 9999)"
        ) from None
    return moment


def _is_date_alone(value: str) -> bool:
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


def format_local(moment: datetime | None, tz: ZoneInfo) -> str:
    return "" if moment is None else local_text(moment, tz)


def json_option(help_text: str = "Print JSON instead of a table.") -> Callable[[Any], Any]:
    """The ``--json`` flag every staff command has (the contract: tables by default, JSON
    for scripts), spelled once so no command names it differently."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def emit(
    rows: Sequence[dict[str, Any]],
    as_json: bool,
    columns: Sequence[str] | None = None,
    formatters: dict[str, Callable[[Any], str]] | None = None,
) -> None:
    """Print rows as a human table, or as JSON for scripts (whole: never cut)."""
    tz = _command_tz()
    if as_json:
        click.echo(_json_text(list(rows), tz))
        return
    if not rows:
        click.echo("(none)")
        return
    columns = list(columns or rows[0].keys())
    formatters = formatters or {}
    cells = [
        [
            printable(formatters[c](row.get(c)) if c in formatters else _cell(row.get(c), tz))
            for c in columns
        ]
        for row in rows
    ]
    widths = [max(_width(c), *(_width(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(_pad(c, w) for c, w in zip(columns, widths, strict=True)))
    for row_cells in cells:
        click.echo("  ".join(_pad(v, w) for v, w in zip(row_cells, widths, strict=True)))


def emit_object(obj: dict[str, Any], as_json: bool) -> None:
    """Print one record as JSON, or as 'key: value' lines."""
    tz = _command_tz()
    if as_json:
        click.echo(_json_text(obj, tz))
        return
    for key, value in obj.items():
        click.echo(f"{key}: {printable(_cell(value, tz))}")


def printable(text: str) -> str:
    """Text as a terminal should show it: residents type their own names and needs, and a
    control character among them (ESC, or a C1 such as U+009B, which terminals read as
    the start of a command) would move the cursor, recolour or clear the screen. Line and
    tab breaks become spaces, so a row stays one line; other controls become U+FFFD,
    so staff see that something was there."""
    return text.translate(_TERMINAL_SAFE)


def _command_tz() -> ZoneInfo:
    """The configured zone of the command being run: times are shown in it."""
    return config_from_context(click.get_current_context()).bot.tz


def _json_text(value: Any, tz: ZoneInfo) -> str:
    """JSON for scripts: times as ISO 8601 with the zone's offset, to the second; C1
    controls and line separators escaped (still the same string once parsed), so the
    JSON is as safe on a terminal as a table."""
    text = json.dumps(value, ensure_ascii=False, indent=2, default=lambda v: _json_value(v, tz))
    return text.translate(_JSON_ESCAPES)


def _json_value(value: Any, tz: ZoneInfo) -> str:
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat(timespec="seconds")
    raise TypeError(f"{type(value).__name__} has no JSON form in staff output")


def _cell(value: Any, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_text(value, tz)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=lambda v: _json_value(v, tz))
    return str(value)


def _control_characters() -> dict[int, str]:
    """C0, DEL and C1 controls, and the Unicode line and paragraph separators."""
    codes = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
    breaks = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029}
    return {code: " " if code in breaks else "\ufffd" for code in codes}


_TERMINAL_SAFE = str.maketrans(_control_characters())
# json.dumps already escapes C0; these it writes raw when ensure_ascii is off.
_JSON_ESCAPES = str.maketrans(
    {code: f"\\u{code:04x}" for code in [*range(0x7F, 0xA0), 0x2028, 0x2029]}
)


def _width(text: str) -> int:
    """Display width: wide (CJK) characters take two columns in a terminal."""
    return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


@contextmanager
def wechat_process(ctx: click.Context) -> Iterator[tuple[Services, AixiangWeChatClient]]:
    """The services and WeChat client of a process that calls WeChat; both closed after."""
    config = config_from_context(ctx)
    try:
        config.require_wechat_credentials()
    except ConfigError as exc:
        raise StaffError(f"config: {exc}") from None
    try:
        services = build_services(config)
    except ConfigError as exc:
        raise StaffError(f"config: {exc}") from None
    client = build_wechat_client(config, services.redis)
    try:
        yield services, client
    finally:
        client.close()
        services.close()
