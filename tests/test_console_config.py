"""The [console] settings: the session key is checked when given and required to serve."""

from __future__ import annotations

import pytest

from bot.app import create_app
from bot.config.errors import ConfigError
from bot.config.loader import load_config


def test_the_defaults() -> None:
    settings = load_config(environ={}, read_file=False).console
    assert (settings.secret_key, settings.secure_cookies, settings.idle_minutes) == ("", False, 30)
    assert (settings.lockout_failures, settings.lockout_minutes, settings.proxy_hops) == (5, 15, 0)


def test_settings_come_from_the_environment() -> None:
    settings = load_config(
        environ={
            "AIXIANG_CONSOLE_SECRET_KEY": "k" * 40,
            "AIXIANG_CONSOLE_SECURE_COOKIES": "true",
            "AIXIANG_CONSOLE_IDLE_MINUTES": "45",
        },
        read_file=False,
    ).console
    assert (settings.secret_key, settings.secure_cookies, settings.idle_minutes) == (
        "k" * 40,
        True,
        45,
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secret_key": "short"}, "console.secret_key must be at least 32 characters, got 5"),
        ({"secret_key": "k" * 40 + "\n"}, "console.secret_key has spaces or a line break"),
        ({"idle_minutes": 0}, "console.idle_minutes must be at least 1"),
        ({"lockout_failures": 0}, "console.lockout_failures must be at least 1"),
        ({"proxy_hops": 11}, "console.proxy_hops must be at least 0 and at most 10"),
    ],
)
def test_a_bad_setting_is_named(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(environ={}, overrides={"console": values}, read_file=False)


def test_no_app_without_a_session_key() -> None:
    """Refused before any connection is opened."""
    with pytest.raises(ConfigError, match=r"console\.secret_key is required"):
        create_app(load_config(environ={}, read_file=False))
