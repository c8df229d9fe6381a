"""Push texts word for word in both languages, where no other test pins them: the parts a
push leaves out (an event with no place) and each status a need update names. They are
rendered from the catalog when queued; these are the words the f-strings said before."""

from __future__ import annotations

import pytest

from models.events.notices import cancellation_payload, promotion_payload
from models.needs.notices import status_push_payload
from models.needs.tables import NeedHistory, NeedStatus
from models.reminders import reminder_payload
from tests.test_push_kinds import AT, SHANGHAI, due_reminder, event, need, signup
from texts.catalog import Both, Catalog


def test_promotion_with_and_without_a_place() -> None:
    placed = event()
    assert promotion_payload(placed, signup(), SHANGHAI)["text"] == {
        "zh": "好消息！您候补的活动“社区大扫除”有名额了，已为您确认报名。"
        "时间：2026-05-01 10:00，地点：活动室。签到码：K7Q2。如不能参加，请回复“取消报名 7”。",
        "en": "Good news: a place opened up for '社区大扫除' and your sign-up is confirmed. "
        "2026-05-01 10:00 at 活动室. Check-in code: K7Q2. If you cannot come, reply 'cancel 7'.",
    }
    placed.place = None
    assert promotion_payload(placed, signup(), SHANGHAI)["text"] == {
        "zh": "好消息！您候补的活动“社区大扫除”有名额了，已为您确认报名。"
        "时间：2026-05-01 10:00。签到码：K7Q2。如不能参加，请回复“取消报名 7”。",
        "en": "Good news: a place opened up for '社区大扫除' and your sign-up is confirmed. "
        "2026-05-01 10:00. Check-in code: K7Q2. If you cannot come, reply 'cancel 7'.",
    }


def test_cancellation() -> None:
    assert cancellation_payload(event(), signup(), "下雨", SHANGHAI)["text"] == {
        "zh": "很抱歉，活动“社区大扫除”（2026-05-01 10:00）已取消。原因：下雨",
        "en": "Sorry, the event '社区大扫除' (2026-05-01 10:00) is cancelled: 下雨",
    }


def test_reminder_without_a_place() -> None:
    row = due_reminder()
    row.place = None
    assert reminder_payload(row, SHANGHAI)["text"] == {
        "zh": "活动提醒：“社区大扫除”将于 2026-05-01 10:00 开始。"
        "签到码：K7Q2。如不能参加，请回复“取消报名 7”。",
        "en": "Reminder: '社区大扫除' starts 2026-05-01 10:00. Check-in code: K7Q2. "
        "If you cannot come, reply 'cancel 7'.",
    }


@pytest.mark.parametrize(
    ("status", "zh", "en"),
    [
        (NeedStatus.IN_PROGRESS, "正在处理中。", "is in progress."),
        (
            NeedStatus.RESOLVED,
            "已解决，感谢您的反馈！",
            "has been resolved. Thank you for raising it!",
        ),
        (NeedStatus.DECLINED, "未能受理。", "was declined."),
    ],
)
def test_need_status_updates(status: str, zh: str, en: str) -> None:
    own = need()
    entry = NeedHistory(
        from_status="submitted", to_status=status, note=None, public=True, created_at=AT
    )
    assert status_push_payload(own, own, entry, None, None)["text"] == {
        "zh": f"您的需求 {own.ref} {zh}",
        "en": f"Your need {own.ref} {en}",
    }


def test_a_value_in_both_languages_is_given_in_each_language() -> None:
    catalog = Catalog({"zh": {"at": "时间：{when}{place}"}, "en": {"at": "When: {when}{place}"}})
    place = Both("，地点：活动室", " at the hall")
    assert catalog.both("at", when="10:00", place=place) == Both(
        "时间：10:00，地点：活动室", "When: 10:00 at the hall"
    )
    assert Both("、", ", ").join([Both("甲", "A"), Both("乙", "B")]) == Both("甲、乙", "A, B")
