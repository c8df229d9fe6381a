"""The catalog: ``locale/<language>/LC_MESSAGES/messages.po``, read with Babel.

Gettext catalogs are the Python convention and what Flask-Babel reads, so the console's
pages can later use the same files. Message ids are stable keys (``need_consent``), not
English source sentences: every language, English included, is a translation, and a key
names the situation, so rewording a text never changes the code that uses it.

Placeholders are ``str.format``'s ``{name}``, as the texts had before they moved here;
``{}`` reads well next to Chinese punctuation, and gettext tools know it as
``python-brace-format``. (A console template may format a text the same way.)

The .po files are read directly (no compiled .mo files to keep in step with them); they
are checked as they load: a key missing in a language, or whose placeholders differ
between languages, stops the process at start-up rather than in front of a resident.

Code names a key as a string literal where it renders it (``ctx.t("help")``,
``both("event_cancelled", ...)``); a key chosen at run time comes from a table whose
name ends in ``_TEXT_KEYS``. tests/test_texts.py reads both forms to find keys missing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from string import Formatter

from babel.messages.pofile import read_po

LANGUAGES = ("zh", "en")
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def placeholders(text: str) -> set[str]:
    """The names of a text's ``{name}`` placeholders (``{id}`` in ``"{id}. {title}"``)."""
    return {
        field.split(".")[0].split("[")[0]
        for _, field, _, _ in Formatter().parse(text)
        if field is not None
    }


class Catalog:
    """The texts of every language by key, refused unless each key has a text in every
    language and the same placeholders in each."""

    def __init__(self, texts: Mapping[str, Mapping[str, str]]) -> None:
        self._texts = {language: dict(texts.get(language, {})) for language in LANGUAGES}
        keys = set().union(*(self._texts[language] for language in LANGUAGES))
        for key in sorted(keys):
            missing = [language for language in LANGUAGES if not self._texts[language].get(key)]
            if missing:
                raise ValueError(f"text {key!r} has no {', '.join(missing)} version")
            names = {language: placeholders(self._texts[language][key]) for language in LANGUAGES}
            if len({frozenset(found) for found in names.values()}) > 1:
                raise ValueError(f"text {key!r} has different placeholders: {names}")

    @classmethod
    def load(cls, directory: Path = LOCALE_DIR) -> Catalog:
        """Read each language's .po file; a fuzzy entry (a draft, as gettext's msgfmt
        treats it) counts as missing."""
        texts: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            path = directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"
            with path.open("rb") as po:
                entries = read_po(po, locale=language, abort_invalid=True)
            texts[language] = {
                str(entry.id): str(entry.string)
                for entry in entries
                if entry.id and not entry.fuzzy
            }
        return cls(texts)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self._texts[LANGUAGES[0]])

    def render(self, key: str, language: str, **values: object) -> str:
        return self._texts[language][key].format(**values)


@cache
def catalog() -> Catalog:
    """The project's catalog, read on first use (nothing is read at import)."""
    return Catalog.load()
