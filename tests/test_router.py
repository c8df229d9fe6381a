"""Routing rules, as transcripts at the handler level; through the real webhook only
help, the language switch and voice (the wiring), and what only the webhook does: the
follow lifecycle, interaction windows and the apology when a handler fails."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.services import Services
from handlers.answers import is_no, is_skip, is_yes, pick_option
from handlers.context import FlowState
from handlers.router import Router, normalize
from models.residents import get_or_create_resident
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.helpers import resident
from tests.transcript import Talk
from texts.catalog import Catalog, Language


def test_help_in_both_languages(chat: Chat) -> None:
    assert "我的需求" in chat.say("帮助")
    assert "my needs" in chat.say("help").lower() or "我的需求" in chat.say("help")


def test_unmatched_text_gets_an_answer_not_an_error(talk: Talk) -> None:
    assert talk.say("路灯坏了怎么办").startswith("抱歉，没有看懂“路灯坏了怎么办”。")


def test_language_switch_changes_every_reply(chat: Chat, services: Services) -> None:
    assert chat.say("English") == "Switched to English."
    assert "my needs" in chat.say("帮助")
    assert resident(services, chat.openid).language == "en"
    assert chat.say("中文") == "已切换为中文。"
    assert "我的需求" in chat.say("help")


def test_full_width_and_case_are_forgiven(talk: Talk) -> None:
    assert talk.say("ＨＥＬＰ") == talk.say("帮助")


def test_menu_help_and_unknown_menu_key(talk: Talk) -> None:
    assert talk.tap("HELP") == talk.say("帮助")
    assert "即将上线" in talk.tap("SOMETHING_NEW")


def test_recognised_voice_counts_as_the_words_heard(chat: Chat) -> None:
    assert chat.send(chat.payloads.voice(chat.openid, "我的活动。")) == chat.say("我的活动")
    assert chat.send(chat.payloads.voice(chat.openid, "English.")) == "Switched to English."
    unheard = chat.send(chat.payloads.voice(chat.openid, ""))
    assert "I can read text" in unheard


def test_exit_without_a_flow(talk: Talk) -> None:
    assert "没有进行中的对话" in talk.say("退出")


@pytest.mark.parametrize("word", ["退出！", "退出。", "exit.", "EXIT!", "退出～", "exit ?"])
def test_exit_with_trailing_punctuation_leaves_a_flow(talk: Talk, word: str) -> None:
    """People end a command with what their keyboard offers; it is still the command, never
    the flow's answer."""
    consent = talk.say("需求")
    assert "已退出" in talk.say(word)
    assert "没有进行中的对话" in talk.say("退出")
    assert talk.say("需求") == consent


@pytest.mark.parametrize("word", ["帮助？", "help?", "帮助。", "HELP!"])
def test_help_mid_flow_takes_trailing_punctuation(talk: Talk, word: str) -> None:
    consent = talk.say("需求")
    assert talk.say(word) == talk.say("帮助")
    assert talk.say(word).endswith(f"\n\n{consent}")


def test_language_switch_mid_flow_takes_trailing_punctuation(talk: Talk) -> None:
    talk.say("需求")
    assert talk.say("English!").startswith("Switched to English.\n\n")
    assert talk.say("中文。").startswith("已切换为中文。\n\n")


def test_subscribe_unsubscribe_resubscribe_is_one_resident(chat: Chat, services: Services) -> None:
    welcome = chat.send(chat.payloads.event(chat.openid, "subscribe", create_time=1_770_000_000))
    assert "欢迎" in welcome and "我的需求" in welcome
    first = resident(services, chat.openid)
    assert first.subscribed
    assert (
        chat.send(chat.payloads.event(chat.openid, "unsubscribe", create_time=1_770_000_100)) == ""
    )
    gone = resident(services, chat.openid)
    assert not gone.subscribed and gone.unsubscribed_at is not None
    chat.send(chat.payloads.event(chat.openid, "subscribe", create_time=1_770_000_200))
    back = resident(services, chat.openid)
    assert back.subscribed and back.id == first.id


def test_someone_known_only_from_config_becomes_a_follower_by_writing(
    chat: Chat, services: Services, clock: FakeClock
) -> None:
    """A staff openid the digest created is not counted as a follower until it writes."""
    with services.session_factory() as db, db.begin():
        get_or_create_resident(db, chat.openid, clock.now, followed=False)
    assert not resident(services, chat.openid).subscribed
    chat.say("帮助")
    known = resident(services, chat.openid)
    assert known.subscribed and known.subscribed_at == clock.now


def test_a_late_copy_from_someone_who_unfollowed_does_not_resubscribe_them(
    chat: Chat, services: Services
) -> None:
    """Only WeChat's subscribe event brings back someone who unfollowed."""
    chat.say("帮助")
    chat.send(chat.payloads.event(chat.openid, "unsubscribe", create_time=1_770_000_100))
    chat.say("你好")
    assert not resident(services, chat.openid).subscribed


def test_subscribe_by_qr_scene_is_welcomed(talk: Talk) -> None:
    assert "欢迎" in talk.event("subscribe", "qrscene_campaign:spring")


def test_broadcast_opt_out_and_back(talk: Talk, services: Services) -> None:
    talk.verify(
        [("退订", "已退订活动推送。活动提醒和您需求的进展仍会通知您。发送“订阅”可重新打开。")]
    )
    assert resident(services, talk.openid).broadcast_opt_out
    talk.verify([("subscribe", "已重新订阅活动推送。")])
    assert not resident(services, talk.openid).broadcast_opt_out


def test_interaction_kind_tracks_wechat_windows(
    chat: Chat, services: Services, clock: FakeClock
) -> None:
    chat.say("帮助")
    assert resident(services, chat.openid).last_interaction_kind == "message"
    chat.tap("HELP")  # a tap inside the message's 48 hours leaves that window in place
    assert resident(services, chat.openid).last_interaction_kind == "message"
    clock.advance(hours=49)
    chat.tap("EVENTS")  # another key: the same one again within a second is a retry
    assert resident(services, chat.openid).last_interaction_kind == "tap"
    chat.say("帮助")
    assert resident(services, chat.openid).last_interaction_kind == "message"


def test_handler_failure_keeps_the_message_and_apologises(
    chat: Chat, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(message, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setitem(services.router._keywords, "帮助", broken)
    assert "抱歉" in chat.say("帮助")
    assert resident(services, chat.openid).last_interaction_at is not None


def test_flow_state_expires_with_its_ttl(services: Services) -> None:
    services.sessions.save("o-x", FlowState("need.x"))
    ttl = services.redis.ttl("aixiang:flow:o-x")
    assert 0 < ttl <= services.config.bot.flow_ttl_s
    assert timedelta(seconds=ttl) <= timedelta(minutes=30)


def test_registry_refuses_duplicates() -> None:
    router = Router(Catalog({}))
    router.add_keyword(["帮助"], lambda m, c: None)
    with pytest.raises(ValueError, match="registered twice"):
        router.add_keyword(["帮助 "], lambda m, c: None)


def test_suggestions_come_from_the_keywords_in_each_language_even_added_later() -> None:
    router = Router(Catalog({}))
    router.add_keyword(["活动", "events", "帮助", "help"], lambda m, c: None)
    assert router.keywords_in(Language.ZH) == ("帮助", "活动")
    assert router.keywords_in(Language.EN) == ("events", "help")
    router.add_keyword(["需求", "Need"], lambda m, c: None)
    assert router.keywords_in(Language.ZH) == ("帮助", "活动", "需求")
    assert router.keywords_in(Language.EN) == ("events", "help", "need")


def test_normalize() -> None:
    assert normalize("  报名　３ ") == "报名 3"


@pytest.mark.parametrize("word", ["确认", "是", "好", "同意", "yes", "OK", "Ｙｅｓ"])
def test_yes_words(word: str) -> None:
    assert is_yes(word)


@pytest.mark.parametrize("word", ["否", "不", "不同意", "no", "NO"])
def test_no_words(word: str) -> None:
    assert is_no(word)


def test_skip_and_options() -> None:
    assert is_skip("跳过") and is_skip("skip")
    options = [("教育", "education"), ("环境卫生", "environment")]
    assert pick_option("2", options) == 1
    assert pick_option("Education", options) == 0
    assert pick_option("3", options) is None
    assert pick_option("天气", options) is None


def test_a_transcript_names_the_turn_that_went_wrong(talk: Talk) -> None:
    with pytest.raises(AssertionError, match="answer to '中文'"):
        talk.verify([("English", "Switched to English."), ("中文", "Switched to Chinese.")])
