"""What the needs rules queue: the status and note pushes residents read, the push to a
partner's contact, and the status names both languages show.
"""

from __future__ import annotations

from datetime import datetime

from models.needs.tables import NEEDS_A_REASON, Need, NeedHistory, NeedStatus
from models.partners import Partner
from models.push.registry import PushKind
from texts.catalog import LINES, Both, both

# The push to a partner's contact when a need is handed to them.
ASSIGNED_KIND = PushKind.NEED_ASSIGNED


# The name a status is shown by, in the chat, the staff digest and template fields.
STATUS_NAME_TEXT_KEYS: dict[str, str] = {
    NeedStatus.SUBMITTED: "need_status_name_submitted",
    NeedStatus.ACKNOWLEDGED: "need_status_name_acknowledged",
    NeedStatus.IN_PROGRESS: "need_status_name_in_progress",
    NeedStatus.RESOLVED: "need_status_name_resolved",
    NeedStatus.DECLINED: "need_status_name_declined",
    NeedStatus.DUPLICATE: "need_status_name_duplicate",
}


def status_name(status: str) -> Both:
    """A need's status as people read it, in both languages."""
    return both(STATUS_NAME_TEXT_KEYS[status])


# The push saying the need reached a status ("Your need N-000123 is in progress.").
_STATUS_UPDATE_TEXT_KEYS: dict[str, str] = {
    NeedStatus.ACKNOWLEDGED: "push_need_update_acknowledged",
    NeedStatus.IN_PROGRESS: "push_need_update_in_progress",
    NeedStatus.RESOLVED: "push_need_update_resolved",
    NeedStatus.DECLINED: "push_need_update_declined",
}


def assigned_key(need_id: int, entry_id: int) -> str:
    return f"{ASSIGNED_KIND}:{need_id}:{entry_id}"


def status_push_kind(entry: NeedHistory) -> PushKind:
    """A change of status is a status update; a public note alone is a note."""
    return PushKind.NEED_STATUS if entry.from_status != entry.to_status else PushKind.NEED_NOTE


def status_push_key(entry: NeedHistory) -> str:
    """The idempotency key of the push telling a need's resident of ``entry``; pushes to
    residents whose needs were merged into it add the resident's id after it."""
    return f"{status_push_kind(entry)}:{entry.need_id}:{entry.id}"


def assigned_payload(
    need: Need, partner_name: str, note: str | None, assigned_at: datetime
) -> dict[str, object]:
    """The push to a partner's contact; once the resident erased their data it says so
    instead of giving their words and place, so the partner knows why they are missing."""
    where = need.place or (
        f"{need.latitude:.5f}, {need.longitude:.5f}" if need.latitude is not None else ""
    )
    lines = [both("push_need_assigned", partner=partner_name, ref=need.ref, category=need.category)]
    if need.description:
        lines.append(both("push_need_assigned_description", description=need.description))
    elif need.erased_at is not None:
        lines.append(both("push_need_assigned_erased"))
    if where:
        lines.append(both("push_need_assigned_place", place=where))
    if note:
        lines.append(both("push_need_assigned_note", note=note))
    return {
        "text": LINES.join(lines).as_dict(),
        "fields": {
            "ref": need.ref,
            "category": need.category,
            "partner": partner_name,
            "place": where,
            "assigned_at": assigned_at.isoformat(),
        },
    }


def status_push_payload(
    need: Need,
    own_need: Need,
    entry: NeedHistory,
    original: Need | None,
    partner: Partner | None,
) -> dict[str, object]:
    """The bilingual text of a status change or public note, as the resident reads it.

    ``own_need`` is the resident's own need: the need itself, or one merged into it, in
    which case the text names both so the resident recognises their own reference.
    """
    if own_need.id == need.id:
        subject = both("push_need_subject", ref=need.ref)
    else:
        subject = both("push_need_subject_merged", ref=own_need.ref, into=need.ref)
    if entry.from_status == entry.to_status:
        lines = [both("push_need_update_news", subject=subject)]
    elif entry.to_status == NeedStatus.DUPLICATE and original is not None:
        lines = [both("push_need_update_duplicate", subject=subject, original=original.ref)]
    else:
        lines = [both(_STATUS_UPDATE_TEXT_KEYS[entry.to_status], subject=subject)]
    if partner is not None and entry.to_status not in NEEDS_A_REASON:
        lines.append(both("push_need_update_partner", partner=partner.name))
    if entry.public and entry.note:
        lines.append(both("push_need_update_note", note=entry.note))
    return {
        "text": LINES.join(lines).as_dict(),
        "fields": {
            "ref": own_need.ref,
            "status": entry.to_status,
            "status_zh": status_name(entry.to_status).zh,
            "status_en": status_name(entry.to_status).en,
            "note": entry.note if entry.public else "",
            "changed_at": entry.created_at.isoformat(),
        },
    }
