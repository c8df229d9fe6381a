"""Help and what the bot does not understand: help lists everything a resident can do, in
a few lines; anything else gets a short "not understood" with the closest commands."""

from __future__ import annotations

import pytest

from tests.transcript import Talk

HELP_LINES_AT_MOST = 12


# What help must name, in each language: every command, the list's paging, need refs.
COMMANDS = {
    "帮助": "活动 N, 报名 N, 取消报名 N, 我的活动, 下一页, 需求 N-, 我的需求, 退订,"
    " 我的村, 人工, 删除我的信息, English, 退出",
    "help": "events N, signup N, cancel N, my events, more, need N-, my needs, unsubscribe,"
    " my village, talk to a person, delete my data, 中文, exit",
}


@pytest.mark.parametrize("ask", COMMANDS)
def test_help_lists_everything_a_resident_can_do(talk: Talk, ask: str) -> None:
    if ask == "help":
        talk.say("English")
    answer = talk.say(ask)
    for command in COMMANDS[ask].split(", "):
        assert command in answer, command
    assert len(answer.splitlines()) <= HELP_LINES_AT_MOST


def test_what_is_not_understood_gets_a_short_answer_not_the_whole_help(talk: Talk) -> None:
    """A second miss in a row adds the offer to talk to a person (handlers/inbox.py)."""
    talk.verify(
        [
            ("你好", "抱歉，没有看懂“你好”。常用：活动、需求、我的需求；发送“帮助”查看全部功能。"),
            (
                "😀",
                "抱歉，没有看懂“😀”。常用：活动、需求、我的需求；发送“帮助”查看全部功能。\n\n"
                "需要找工作人员吗？发送“人工”给他们留言。",
            ),
            ("下一页", "现在没有显示列表。发送“活动”查看活动。"),
            (
                "我的活",
                "抱歉，没有看懂“我的活”。您是想发送：我的活动、我的村？发送“帮助”查看全部功能。",
            ),
        ]
    )
    talk.say("English")
    talk.verify(
        [
            (
                "evnts",
                "Sorry, I did not understand 'evnts'. Did you mean: events, my events? Send"
                " 'help' for everything you can do.",
            ),
            (
                "hello",
                "Sorry, I did not understand 'hello'. Did you mean: help? Send 'help' for"
                " everything you can do.\n\nWould you like to talk to a person? Send 'talk to a"
                " person' to leave our staff a message.",
            ),
        ]
    )


def test_a_long_message_not_understood_is_quoted_short(talk: Talk) -> None:
    answer = talk.say("路灯坏了好几天了晚上出门很不方便希望有人来修一修")
    assert answer.startswith("抱歉，没有看懂“路灯坏了好几天了晚上出门…”")
    assert len(answer.splitlines()) == 1
