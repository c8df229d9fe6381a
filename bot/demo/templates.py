"""The template messages of the demo's made-up service account, one for every push kind.

A real service account picks templates in WeChat's back office and names them in
``[push.templates]``; without them, a push to a resident who has not written for 48 hours
waits for their next message. The demo configures these, so reminders and status updates
arrive as they would in production (``aixiang demo --subscription`` runs without them).
Each field has the label WeChat's template would print beside it, which the chat page
shows; the API itself carries only the field names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DemoTemplate:
    kind: str
    title: str
    # (field name, label shown beside it, format string over the push's values)
    fields: tuple[tuple[str, str, str], ...]

    @property
    def template_id(self) -> str:
        return f"demo-{self.kind}"


def _template(kind: str, title: str, *fields: tuple[str, str, str]) -> DemoTemplate:
    """Every template opens with the whole message, as WeChat's ``first`` field does."""
    return DemoTemplate(kind, title, (("first", "", "{text}"), *fields))


DEMO_TEMPLATES: tuple[DemoTemplate, ...] = (
    _template(
        "reminder",
        "活动提醒 Event reminder",
        ("keyword1", "活动 Event", "{title}"),
        ("keyword2", "时间 Time", "{starts_at}"),
        ("keyword3", "地点 Place", "{place}"),
        ("keyword4", "签到码 Check-in code", "{checkin_code}"),
    ),
    _template(
        "promotion",
        "候补成功 Off the waitlist",
        ("keyword1", "活动 Event", "{title}"),
        ("keyword2", "时间 Time", "{starts_at}"),
        ("keyword3", "签到码 Check-in code", "{checkin_code}"),
    ),
    _template(
        "event_cancelled",
        "活动取消 Event cancelled",
        ("keyword1", "活动 Event", "{title}"),
        ("keyword2", "时间 Time", "{starts_at}"),
        ("keyword3", "原因 Reason", "{reason}"),
    ),
    _template(
        "event_moved",
        "活动变更 Event changed",
        ("keyword1", "活动 Event", "{title}"),
        ("keyword2", "时间 Time", "{starts_at}"),
        ("keyword3", "地点 Place", "{place}"),
    ),
    _template("deferred_reply", "回复 Reply"),
    _template(
        "need_status",
        "需求进展 Need update",
        ("keyword1", "编号 Ref", "{ref}"),
        ("keyword2", "状态 Status", "{status_zh} {status_en}"),
    ),
    _template(
        "need_note",
        "需求留言 Note on a need",
        ("keyword1", "编号 Ref", "{ref}"),
        ("keyword2", "留言 Note", "{note}"),
    ),
    _template(
        "need_assigned",
        "需求分派 Need assigned",
        ("keyword1", "编号 Ref", "{ref}"),
        ("keyword2", "伙伴 Partner", "{partner}"),
    ),
    _template(
        "digest",
        "每日简报 Daily digest",
        ("keyword1", "日期 Date", "{date}"),
        ("keyword2", "新需求 New needs", "{new_needs}"),
    ),
    _template("broadcast", "社区通知 Club notice"),
    _template("staff_answer", "工作人员回复 Staff answer", ("keyword1", "回复 Answer", "{answer}")),
    _template("deferred_reply", "消息回复 Reply to your message"),
    _template(
        "weekly_report",
        "每周报告 Weekly report",
        ("keyword1", "日期 Dates", "{week}"),
        ("keyword2", "活动 Activities", "{activities}"),
        ("keyword3", "新需求 Needs raised", "{needs_raised}"),
    ),
)
TEMPLATES_BY_ID: Mapping[str, DemoTemplate] = {t.template_id: t for t in DEMO_TEMPLATES}


def push_templates_setting() -> dict[str, dict[str, Any]]:
    """The templates as a ``[push.templates]`` setting: kind -> {template_id, fields}."""
    return {
        template.kind: {
            "template_id": template.template_id,
            "fields": {name: pattern for name, _, pattern in template.fields},
        }
        for template in DEMO_TEMPLATES
    }
