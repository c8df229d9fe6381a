"""The fake API's call log read as pushes (bot/wechat/fake_api/pushes.py): which calls
reached a resident, by which channel, and what a phone shows of each."""

from __future__ import annotations

from typing import Any

from bot.wechat.fake_api.pushes import SeenPush, push_seen_by
from models.push.vocabulary import Channel

DELIVERED = {"status": 200, "result": {"errcode": 0}}


def call(endpoint: str, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"seq": 1, "time": 0.0, "endpoint": endpoint, "body": body} | DELIVERED | extra


def test_a_customer_service_message_reaches_only_its_addressee() -> None:
    text = call(
        "message/custom/send",
        {"touser": "o-a", "msgtype": "text", "text": {"content": "报名成功"}},
    )
    assert push_seen_by(text, "o-a") == SeenPush(Channel.CUSTOM, "报名成功")
    assert push_seen_by(text, "o-b") is None


def test_a_template_notice_shows_its_fields_in_order() -> None:
    notice = call(
        "message/template/send",
        {
            "touser": "o-a",
            "template_id": "T1",
            "data": {"thing1": {"value": "环保营"}, "time2": {"value": ""}, "thing3": "明天"},
        },
    )
    assert push_seen_by(notice, "o-a") == SeenPush(
        Channel.TEMPLATE,
        "环保营\n明天",
        "T1",
        (("thing1", "环保营"), ("time2", ""), ("thing3", "明天")),
    )


def test_a_mass_send_reaches_everyone_or_the_recipients_the_log_names() -> None:
    news = {"msgtype": "news", "news": {"articles": [{"title": "垃圾分类日"}]}}
    to_all = call("message/mass/sendall", news | {"filter": {"is_to_all": True}})
    to_tag = call(
        "message/mass/sendall",
        news | {"filter": {"is_to_all": False, "tag_id": 7}},
        recipients=["o-a"],
    )
    assert push_seen_by(to_all, "o-z") == SeenPush(Channel.MASS, "垃圾分类日")
    assert push_seen_by(to_tag, "o-a") == SeenPush(Channel.MASS, "垃圾分类日")
    assert push_seen_by(to_tag, "o-z") is None


def test_refused_unfinished_and_other_calls_are_no_push() -> None:
    body = {"touser": "o-a", "msgtype": "text", "text": {"content": "x"}}
    refused = call("message/custom/send", body, result={"errcode": 45047})
    unfinished = call("message/custom/send", body, status=None, result=None)
    not_a_push = call("menu/create", {"button": []})
    assert push_seen_by(refused, "o-a") is None
    assert push_seen_by(unfinished, "o-a") is None
    assert push_seen_by(not_a_push, "o-a") is None
