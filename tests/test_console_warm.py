"""A served worker builds the console's catalogs and templates before its first request."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from bot.console.warm import warm_console
from texts.catalog import LANGUAGES, gettext_translations


def test_warming_builds_every_languages_catalog(console_app: Flask) -> None:
    gettext_translations.cache_clear()
    warm_console(console_app)
    assert gettext_translations.cache_info().currsize == len(LANGUAGES)


def test_after_warming_no_template_is_read_again(
    console_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm_console(console_app)
    names = console_app.jinja_env.list_templates()
    assert "console/needs/need.html" in names

    def refuse(*_args: Any) -> Any:
        raise AssertionError("a template was read after warming")

    monkeypatch.setattr(console_app.jinja_env.loader, "get_source", refuse)
    for name in names:
        console_app.jinja_env.get_template(name)
    assert console_app.test_client().get("/console/sign-in").status_code == 200
