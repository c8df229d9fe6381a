"""What the needs rules queue: the status and note pushes residents read, the push to a
partner's contact, and the status names both languages show.
"""

from __future__ import annotations

from datetime import datetime

from models.needs.tables import NEEDS_A_REASON, Need, NeedHistory, NeedStatus
from models.partners import Partner

# The push to a partner's contact when a need is handed to them.
ASSIGNED_KIND = "need_assigned"


STATUS_NAMES: dict[str, tuple[str, str]] = {
    NeedStatus.SUBMITTED: ("已提交", "submitted"),
    NeedStatus.ACKNOWLEDGED: ("已受理", "acknowledged"),
    NeedStatus.IN_PROGRESS: ("处理中", "in progress"),
    NeedStatus.RESOLVED: ("已解决", "resolved"),
    NeedStatus.DECLINED: ("未能受理", "declined"),
    NeedStatus.DUPLICATE: ("已合并", "merged as a duplicate"),
}


# How a push says the need reached a status, after 您的需求 N-000123 / Your need N-000123.
_STATUS_PHRASES: dict[str, tuple[str, str]] = {
    NeedStatus.ACKNOWLEDGED: (
        "已受理，我们会尽快跟进。",
        "has been acknowledged; we will follow it up.",
    ),
    NeedStatus.IN_PROGRESS: ("正在处理中。", "is in progress."),
    NeedStatus.RESOLVED: ("已解决，感谢您的反馈！", "has been resolved. Thank you for raising it!"),
    NeedStatus.DECLINED: ("未能受理。", "was declined."),
}


def assigned_key(need_id: int, entry_id: int) -> str:
    return f"{ASSIGNED_KIND}:{need_id}:{entry_id}"


def assigned_payload(
    need: Need, partner_name: str, note: str | None, assigned_at: datetime
) -> dict[str, object]:
    """The push to a partner's contact; once the resident erased their data it says so
    instead of giving their words and place, so the partner knows why they are missing."""
    where = need.place or (
        f"{need.latitude:.5f}, {need.longitude:.5f}" if need.latitude is not None else ""
    )
    zh = f"{partner_name}：爱乡共建俱乐部将需求 {need.ref}（{need.category}）交给您跟进。"
    en = f"{partner_name}: the club has handed need {need.ref} ({need.category}) to you."
    if need.description:
        zh += f"\n内容：{need.description}"
        en += f"\nWhat was asked: {need.description}"
    elif need.erased_at is not None:
        zh += "\n内容和地点已应居民要求删除。"
        en += "\nWhat was asked and where were erased at the resident's request."
    if where:
        zh += f"\n地点：{where}"
        en += f"\nPlace: {where}"
    if note:
        zh += f"\n工作人员备注：{note}"
        en += f"\nStaff note: {note}"
    return {
        "text": {"zh": zh, "en": en},
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
        subject_zh, subject_en = f"您的需求 {need.ref} ", f"Your need {need.ref}"
    else:
        subject_zh = f"您的需求 {own_need.ref}（已并入 {need.ref}）"
        subject_en = f"Your need {own_need.ref} (merged into {need.ref})"
    if entry.from_status == entry.to_status:
        zh, en = f"{subject_zh}有新进展。", f"{subject_en} has an update."
    elif entry.to_status == NeedStatus.DUPLICATE and original is not None:
        zh = f"{subject_zh}与 {original.ref} 相同，已合并；{original.ref} 有进展时会通知您。"
        en = (
            f"{subject_en} is the same as {original.ref} and was merged with it; "
            f"you will hear when {original.ref} moves on."
        )
    else:
        zh = f"{subject_zh}{_STATUS_PHRASES[entry.to_status][0]}"
        en = f"{subject_en} {_STATUS_PHRASES[entry.to_status][1]}"
    if partner is not None and entry.to_status not in NEEDS_A_REASON:
        zh += f"\n负责方：{partner.name}"
        en += f"\nTaken on by: {partner.name}"
    if entry.public and entry.note:
        zh += f"\n说明：{entry.note}"
        en += f"\nNote: {entry.note}"
    return {
        "text": {"zh": zh, "en": en},
        "fields": {
            "ref": own_need.ref,
            "status": entry.to_status,
            "status_zh": STATUS_NAMES[entry.to_status][0],
            "status_en": STATUS_NAMES[entry.to_status][1],
            "note": entry.note if entry.public else "",
            "changed_at": entry.created_at.isoformat(),
        },
    }
