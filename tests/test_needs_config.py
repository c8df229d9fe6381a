"""The [needs] settings: categories, limits and the media folder, and what they change."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config.errors import ConfigError
from bot.config.loader import load_config
from bot.config.paths import PROJECT_ROOT
from bot.config.sections import DEFAULT_NEED_CATEGORIES, NeedCategory
from bot.webhook_services import WebhookServices, build_webhook_services
from tests.conftest import FakeClock, make_test_config
from tests.transcript import Talk


def needs_config(**values: object) -> object:
    return load_config(environ={}, overrides={"needs": values}, read_file=False).needs


def test_defaults() -> None:
    needs = load_config(environ={}, read_file=False).needs
    assert [c.key for c in needs.categories] == [
        "education",
        "environment",
        "infrastructure",
        "jobs",
        "elderly_children",
        "other",
    ]
    assert needs.categories == DEFAULT_NEED_CATEGORIES
    assert (needs.media_dir, needs.max_photos, needs.max_text) == (
        f"{PROJECT_ROOT}/instance/media",
        3,
        1000,
    )


def test_custom_categories_and_environment() -> None:
    config = load_config(
        environ={"AIXIANG_NEEDS_MAX_PHOTOS": "1", "AIXIANG_NEEDS_MEDIA_DIR": "/srv/media"},
        overrides={"needs": {"categories": [{"key": "water", "zh": "饮水", "en": "water"}]}},
        read_file=False,
    )
    assert config.needs.categories == (NeedCategory("water", "饮水", "water"),)
    assert (config.needs.max_photos, config.needs.media_dir) == (1, "/srv/media")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"categories": []}, "needs.categories must be a non-empty list"),
        ({"categories": ["water"]}, r"needs.categories\[0\] must be a table"),
        ({"categories": [{"key": "water", "zh": "饮水"}]}, r"needs.categories\[0\].en is required"),
        (
            {"categories": [{"key": "Water!", "zh": "饮水", "en": "water"}]},
            "must be up to 32 of a-z",
        ),
        (
            {
                "categories": [
                    {"key": "water", "zh": "饮水", "en": "water"},
                    {"key": "water", "zh": "水", "en": "water 2"},
                ]
            },
            "key 'water' is used twice",
        ),
        ({"max_photos": 10}, "needs.max_photos must be between 0 and 9"),
        ({"max_text": 0}, "needs.max_text must be at least 1"),
        ({"max_text": "many"}, "needs.max_text must be a number"),
        ({"media_dir": " "}, "needs.media_dir must name a folder"),
    ],
)
def test_bad_settings_are_one_line(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        needs_config(**values)
    assert "\n" not in str(error.value)


@pytest.fixture
def small_talk(
    database_url: str, redis_url: str, clock: FakeClock, services: WebhookServices
) -> Iterator[Talk]:
    """A resident talking to services with two categories of their own, one photo and 20
    characters at most."""
    config = make_test_config(
        database_url,
        redis_url,
        needs={
            "categories": [
                {"key": "water", "zh": "饮水", "en": "drinking water"},
                {"key": "roads", "zh": "道路", "en": "roads"},
            ],
            "max_photos": 1,
            "max_text": 20,
        },
    )
    own = build_webhook_services(config, clock=clock)
    yield Talk(services=own)
    own.close()


def test_the_flow_follows_the_settings(small_talk: Talk, services: WebhookServices) -> None:
    talk = small_talk
    talk.say("需求")
    prompt = talk.say("同意")
    assert "1. 饮水\n2. 道路" in prompt and "教育" not in prompt
    assert "没有这个类别" in talk.say("3")
    assert "20 字以内" in talk.say("roads")
    assert "20 字以内" in talk.say("路" * 21)
    assert "最多 1 张" in talk.say("路" * 20)
    full = talk.image("m1", "http://p/1")
    assert "已达上限" in full
    talk.say("跳过")
    assert "N-000001" in talk.say("确认")


def test_days_to_acknowledge_by_category_or_the_consoles() -> None:
    config = load_config(
        environ={"AIXIANG_CONSOLE_ACK_DAYS": "4"},
        overrides={
            "needs": {
                "categories": [
                    {"key": "water", "zh": "饮水", "en": "water", "ack_days": 1},
                    {"key": "other", "zh": "其他", "en": "other"},
                ]
            }
        },
        read_file=False,
    )
    assert config.console.ack_days_by_category(config.needs.categories) == {"water": 1, "other": 4}
    assert load_config(environ={}, read_file=False).console.ack_days == 3


@pytest.mark.parametrize("days", [0, 366, "2", True, 1.5])
def test_a_categorys_days_to_acknowledge_are_whole_days_within_a_year(days: object) -> None:
    with pytest.raises(ConfigError, match=r"needs.categories\[0\].ack_days must be a whole"):
        needs_config(categories=[{"key": "water", "zh": "饮水", "en": "water", "ack_days": days}])


def test_the_consoles_days_to_acknowledge_are_within_a_year() -> None:
    with pytest.raises(ConfigError, match=r"console\.ack_days"):
        load_config(environ={"AIXIANG_CONSOLE_ACK_DAYS": "0"}, read_file=False)
