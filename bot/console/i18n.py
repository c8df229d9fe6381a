"""The console's language: Flask-Babel over the project's own catalog.

Flask-Babel reads compiled .mo files from a folder; the project keeps .po files only
(texts/catalog.py). Rather than compile them into a folder at build or start time (one
more step to forget, a writable folder to find, a copy that can go stale), the console's
domain hands Flask-Babel the translations :func:`texts.catalog.gettext_translations`
compiles in memory from the same .po files the chat reads. Texts are keys
(``console_sign_in``), so English is a translation like Chinese.

The language is the signed-in account's; before signing in, ``?lang=en`` or ``zh`` on
the sign-in page, else the club's default (``bot.default_language``, Chinese).
"""

from __future__ import annotations

from babel.support import NullTranslations
from flask import request
from flask_babel import Domain, get_locale
from flask_login import current_user

from bot.console.context import services
from texts.catalog import LANGUAGES, gettext_translations


class CatalogDomain(Domain):
    """The ``messages`` domain, read from texts/ (see the module's docstring)."""

    def get_translations(self) -> NullTranslations:
        locale = get_locale()
        language = locale.language if locale is not None else ""
        if language not in LANGUAGES:
            language = services().config.bot.default_language
        return gettext_translations(language)


def select_language() -> str:
    if current_user.is_authenticated:
        language: str = current_user.account.language
        return language
    asked = request.args.get("lang", "")
    return asked if asked in LANGUAGES else services().config.bot.default_language
