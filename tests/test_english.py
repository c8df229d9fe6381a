"""English as residents read it: plurals right, the yes words of the contract, and a new
resident answered in the language of their first words."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services import Services
from tests.events import MakeEvent
from tests.helpers import resident
from tests.transcript import Talk
from texts.catalog import Catalog


def _po(folder: Path, language: str, header: str, entries: str) -> None:
    path = folder / language / "LC_MESSAGES"
    path.mkdir(parents=True)
    (path / "messages.po").write_text(
        f'msgid ""\nmsgstr ""\n"Language: {language}\\n"\n"Plural-Forms: {header}\\n"\n\n'
        + entries,
        encoding="utf-8",
    )


def test_a_plural_text_is_chosen_by_its_count(tmp_path: Path) -> None:
    _po(
        tmp_path,
        "en",
        "nplurals=2; plural=(n != 1);",
        'msgid "places"\nmsgid_plural "places"\nmsgstr[0] "{count} place left"\n'
        'msgstr[1] "{count} places left"\n',
    )
    _po(
        tmp_path,
        "zh",
        "nplurals=1; plural=0;",
        'msgid "places"\nmsgid_plural "places"\nmsgstr[0] "剩余 {count} 个名额"\n',
    )
    texts = Catalog.load(tmp_path)
    assert texts.render("places", "en", count=1) == "1 place left"
    assert texts.render("places", "en", count=0) == "0 places left"
    assert texts.render("places", "en", count=2) == "2 places left"
    assert texts.render("places", "zh", count=1) == "剩余 1 个名额"


def test_a_plural_text_needs_every_form_and_a_count() -> None:
    with pytest.raises(ValueError, match="'places' has 1 en forms, not 2"):
        Catalog({"zh": {"places": ("剩余 {count} 个",)}, "en": {"places": ("{count} left",)}})
    with pytest.raises(ValueError, match=r"'places' is plural without a \{count\}"):
        Catalog({"zh": {"places": ("剩余",)}, "en": {"places": ("one left", "some left")}})


def test_one_of_a_kind_reads_singular(talk: Talk, make_event: MakeEvent) -> None:
    event_id = make_event(title="Garden day", capacity=2)
    talk.say("English")
    listing = talk.say("events")
    assert "2 places left" in listing
    assert "People: 1\n" in talk.say(f"signup {event_id}")
    assert "1 place left" in talk.say("events")
    assert "Your sign-up: confirmed, 1 person, check-in code" in talk.say(f"events {event_id}")


def test_erasing_one_need_and_one_photo_reads_singular(talk: Talk) -> None:
    talk.say("English")
    talk.say("need")
    talk.say("yes")
    talk.say("1")
    talk.say("The school has no books")
    talk.image("media-1", "http://pic/1")
    talk.say("done")
    talk.say("By the school")
    talk.say("yes")
    talk.say("delete my data")
    erased = talk.say("yes")
    assert erased.startswith(
        "Erased: the text of 1 need, 1 photo, 1 place, the words of 1 message."
    ), erased


@pytest.mark.parametrize("word", ["confirm", "agree", "Confirm!", "确认"])
def test_confirm_and_agree_are_yes(talk: Talk, services: Services, word: str) -> None:
    talk.say("English")
    talk.say("need")
    assert talk.say(word).startswith("Which kind of need is it?")
    talk.say("1")
    talk.say("Books")
    talk.say("skip")
    talk.say("skip")
    assert talk.say(word).startswith("Submitted! Your need is N-000001.")


def test_a_new_resident_who_starts_in_english_is_answered_in_english(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    assert talk.say("help").startswith("Aixiang co-building club · you can send:")
    assert resident(services, talk.openid).language == "en"
    make_event(title="Garden day")
    assert talk.say("活动").startswith("Upcoming events (page 1):")
    assert talk.say("中文") == "已切换为中文。"
    assert resident(services, talk.openid).language == "zh"
    assert "您可以发送" in talk.say("help")


def test_first_words_in_english_that_are_not_a_command(talk: Talk, services: Services) -> None:
    other = talk.as_resident("o-hello")
    assert other.say("hello").startswith("Sorry, I did not understand 'hello'.")
    assert resident(services, "o-hello").language == "en"


def test_a_new_resident_who_starts_in_chinese_stays_in_chinese(
    talk: Talk, services: Services
) -> None:
    assert "您可以发送" in talk.say("帮助")
    assert resident(services, talk.openid).language == "zh"
    assert "您可以发送" in talk.say("help")
