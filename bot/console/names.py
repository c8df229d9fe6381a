"""The names pages show for stored vocabularies (a push's kind and status, a need's
status, an audit action), in the page's language; a value without a name here (a kind
added later) shows as stored rather than breaking the page."""

from __future__ import annotations

from flask_babel import gettext

from models.needs.notices import STATUS_NAME_TEXT_KEYS
from models.push.registry import PushKind
from models.push.vocabulary import OutboxStatus

PUSH_STATUS_TEXT_KEYS: dict[str, str] = {
    OutboxStatus.PENDING: "console_push_pending",
    OutboxStatus.SENDING: "console_push_sending",
    OutboxStatus.SENT: "console_push_sent",
    OutboxStatus.FAILED: "console_push_failed",
    OutboxStatus.DEAD: "console_push_dead",
    OutboxStatus.EXPIRED: "console_push_expired",
    OutboxStatus.HELD: "console_push_held",
    OutboxStatus.SKIPPED: "console_push_skipped",
}
PUSH_KIND_TEXT_KEYS: dict[str, str] = {
    PushKind.NEED_STATUS: "console_push_kind_need_status",
    PushKind.NEED_NOTE: "console_push_kind_need_note",
    PushKind.NEED_ASSIGNED: "console_push_kind_need_assigned",
}


def status_name(status: str) -> str:
    return gettext(STATUS_NAME_TEXT_KEYS[status])


def push_status_name(status: str) -> str:
    return gettext(PUSH_STATUS_TEXT_KEYS[status]) if status in PUSH_STATUS_TEXT_KEYS else status


def push_kind_name(kind: str) -> str:
    return gettext(PUSH_KIND_TEXT_KEYS[kind]) if kind in PUSH_KIND_TEXT_KEYS else kind
