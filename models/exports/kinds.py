"""The lists that can be exported, declared once: each kind's columns (a header's catalog
key and how its cells are shown), whether it holds personal data (then every export of
it is audited), the permission it needs, and the filters it takes (the words its page's
address uses). The row query of each kind is in :mod:`models.exports.queries`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from models.accounts.roles import Permission
from models.needs.notices import STATUS_NAME_TEXT_KEYS
from models.needs.queue import FilterKey


class ExportKind(StrEnum):
    NEEDS = "needs"
    EVENTS = "events"
    ROSTER = "roster"
    ATTENDANCE = "attendance"
    RESIDENTS = "residents"
    INBOX = "inbox"
    OUTBOX = "outbox"
    AUDIT = "audit"


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


class CellForm(StrEnum):
    """How a column's stored values are shown."""

    TEXT = "text"
    NUMBER = "number"
    # A UTC timestamp, shown in the configured zone.
    TIME = "time"
    # A stored vocabulary value, shown by its name (the column's ``names``).
    NAME = "name"
    # True or false, shown as yes or no.
    YES_NO = "yes_no"
    # A JSON value (an audit entry's before and after), shown as compact JSON.
    JSON = "json"
    # A need's id, shown as residents and staff call it (N-000123).
    NEED_REF = "need_ref"


@dataclass(frozen=True)
class Column:
    header_key: str
    form: CellForm = CellForm.TEXT
    # For CellForm.NAME: each stored value's text key; a value not listed shows as stored.
    names: Mapping[str, str] | None = None


@dataclass(frozen=True)
class ExportSpec:
    kind: ExportKind
    columns: tuple[Column, ...]
    personal: bool
    # What the account's role must allow; None: every signed-in account (partners scoped).
    permission: Permission | None
    filter_keys: tuple[str, ...]


def _time(key: str) -> Column:
    return Column(key, CellForm.TIME)


def _number(key: str) -> Column:
    return Column(key, CellForm.NUMBER)


SPECS: dict[ExportKind, ExportSpec] = {
    ExportKind.NEEDS: ExportSpec(
        ExportKind.NEEDS,
        (
            Column("export_column_ref", CellForm.NEED_REF),
            Column("export_column_category"),
            Column("export_column_status", CellForm.NAME, STATUS_NAME_TEXT_KEYS),
            Column("export_column_partner"),
            _number("export_column_demand"),
            Column("export_column_place"),
            Column("export_column_description"),
            _time("export_column_created_at"),
            _time("export_column_acknowledged_at"),
            _time("export_column_resolved_at"),
        ),
        personal=True,
        permission=None,
        filter_keys=tuple(FilterKey),
    ),
    ExportKind.EVENTS: ExportSpec(
        ExportKind.EVENTS,
        (
            _number("export_column_id"),
            Column("export_column_title"),
            Column("export_column_status"),
            _time("export_column_starts_at"),
            Column("export_column_place"),
            _number("export_column_capacity"),
        ),
        personal=False,
        permission=None,
        filter_keys=("show", "tag", "village"),
    ),
    ExportKind.ROSTER: ExportSpec(
        ExportKind.ROSTER,
        (
            Column("export_column_name"),
            Column("export_column_mobile"),
            Column("export_column_status"),
            _number("export_column_party_size"),
            _number("export_column_waitlist_position"),
            _time("export_column_signed_up_at"),
        ),
        personal=True,
        permission=Permission.CHECK_IN,
        filter_keys=("event",),
    ),
    ExportKind.ATTENDANCE: ExportSpec(
        ExportKind.ATTENDANCE,
        (
            Column("export_column_name"),
            Column("export_column_mobile"),
            _time("export_column_checked_in_at"),
            Column("export_column_method"),
            Column("export_column_walk_in", CellForm.YES_NO),
            _number("export_column_party_size"),
        ),
        personal=True,
        permission=Permission.CHECK_IN,
        filter_keys=("event",),
    ),
    ExportKind.RESIDENTS: ExportSpec(
        ExportKind.RESIDENTS,
        (
            _number("export_column_id"),
            Column("export_column_name"),
            Column("export_column_mobile"),
            Column("export_column_language"),
            Column("export_column_subscribed", CellForm.YES_NO),
            _time("export_column_created_at"),
            _time("export_column_last_heard_at"),
        ),
        personal=True,
        permission=Permission.EXPORT_RESIDENTS,
        filter_keys=("q", "village"),
    ),
    ExportKind.INBOX: ExportSpec(
        ExportKind.INBOX,
        (
            _number("export_column_id"),
            Column("export_column_name"),
            Column("export_column_status"),
            Column("export_column_assignee"),
            _time("export_column_opened_at"),
            _time("export_column_last_message_at"),
        ),
        personal=True,
        permission=Permission.READ_INBOX,
        filter_keys=("tab", "village"),
    ),
    ExportKind.OUTBOX: ExportSpec(
        ExportKind.OUTBOX,
        (
            _number("export_column_id"),
            Column("export_column_kind"),
            Column("export_column_status"),
            Column("export_column_channel"),
            _number("export_column_attempts"),
            _time("export_column_created_at"),
            _time("export_column_sent_at"),
            Column("export_column_error"),
        ),
        personal=True,
        permission=Permission.READ_OUTBOX,
        filter_keys=("status", "kind"),
    ),
    ExportKind.AUDIT: ExportSpec(
        ExportKind.AUDIT,
        (
            _time("export_column_time"),
            Column("export_column_actor"),
            Column("export_column_action"),
            Column("export_column_object"),
            _number("export_column_object_id"),
            Column("export_column_before", CellForm.JSON),
            Column("export_column_after", CellForm.JSON),
        ),
        personal=True,
        permission=Permission.READ_AUDIT,
        filter_keys=("who", "action", "object", "object_id"),
    ),
}
