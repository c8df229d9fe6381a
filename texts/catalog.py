"""The catalog: ``locale/<language>/LC_MESSAGES/messages.po``, read with Babel.

Gettext catalogs are the Python convention and what Flask-Babel reads, so the console's
pages can later use the same files. Message ids are stable keys (``need_consent``), not
English source sentences: every language, English included, is a translation, and a key
names the situation, so rewording a text never changes the code that uses it.

Placeholders are ``str.format``'s ``{name}``, as the texts had before they moved here;
``{}`` reads well next to Chinese punctuation, and gettext tools know it as
``python-brace-format``. A console template formats a text the same way
(``_("console_audit_count").format(count=...)``); its texts hold no ``%``, which Jinja's
gettext would read as a format of its own.

The .po files are read directly, with no compiled .mo files to keep in step with them:
the console's Flask-Babel gets its gettext translations from :func:`gettext_translations`,
compiled in memory from the same files when first asked. They are checked as they load:
a key missing in a language, or whose placeholders differ between languages, stops the
process when it first reads the catalog (the webhook does as it builds its router)
rather than failing in front of a resident.

Code names a key as a string literal where it renders it (``ctx.t("help")``,
``both("push_event_cancelled", ...)``, ``gettext("console_sign_in_refused")``,
``AccountError("account_error_taken", ...)``, ``_("console_sign_in")`` in a console
template); a key chosen at run time comes from a table whose name ends in ``_TEXT_KEYS``.
tests/test_texts.py reads every form to find keys missing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from io import BytesIO
from pathlib import Path
from string import Formatter

from babel import Locale
from babel.messages.catalog import Catalog as PoCatalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations


class Language(StrEnum):
    """The languages people read; every text comes in both."""

    ZH = "zh"
    EN = "en"


LANGUAGES = tuple(Language)
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


@dataclass(frozen=True)
class Both:
    """One text in both languages. A push is queued with both (the row stores
    ``{"zh": ..., "en": ...}``) because the resident may switch language before it goes
    out; given as a value to another text, each language takes its own version."""

    zh: str
    en: str

    def join(self, parts: Iterable[Both]) -> Both:
        """The parts with this text between them, in each language (like ``str.join``)."""
        listed = list(parts)
        return Both(self.zh.join(p.zh for p in listed), self.en.join(p.en for p in listed))

    def text(self, language: str) -> str:
        return self.zh if language == Language.ZH else self.en

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


# A part of a text that does not apply, such as the place of an event that has none.
NOTHING = Both("", "")
# What joins the lines of a multi-line push.
LINES = Both("\n", "\n")


def placeholders(text: str) -> set[str]:
    """The names of a text's ``{name}`` placeholders (``{id}`` in ``"{id}. {title}"``)."""
    return {
        field.split(".")[0].split("[")[0]
        for _, field, _, _ in Formatter().parse(text)
        if field is not None
    }


# A plural text's forms, in the order of the .po file's msgstr[0], msgstr[1]...
Forms = tuple[str, ...]
# The CLDR plural categories in their canonical order: for Chinese (other) and English
# (one, other), the order of the gettext forms of a plural entry.
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
# The value that picks a plural text's form.
PLURAL_COUNT = "count"


@cache
def _plural_categories(language: str) -> tuple[str, ...]:
    """The plural categories a language tells apart, in the order of its gettext forms."""
    used = Locale.parse(language).plural_form.tags | {"other"}
    return tuple(category for category in PLURAL_CATEGORIES if category in used)


def _plural_form(language: str, count: int) -> int:
    """Which form of a plural text reads right for ``count`` ("1 place", "2 places")."""
    return _plural_categories(language).index(Locale.parse(language).plural_form(count))


class Catalog:
    """The texts of every language by key, refused unless each key has a text in every
    language and the same placeholders in each.

    A text is a string, or for a plural text (a gettext ``msgid_plural`` entry) its
    forms: one per plural category of the language, chosen by the ``{count}`` value, so
    English says "1 place left" and "2 places left" where Chinese has one form.
    """

    def __init__(self, texts: Mapping[str, Mapping[str, str | Forms]]) -> None:
        self._texts: dict[str, dict[str, str | Forms]] = {
            language: dict(texts.get(language, {})) for language in LANGUAGES
        }
        keys = set().union(*(self._texts[language] for language in LANGUAGES))
        for key in sorted(keys):
            missing = [
                language
                for language in LANGUAGES
                if not all(_forms(self._texts[language].get(key, "")))
            ]
            if missing:
                raise ValueError(f"text {key!r} has no {', '.join(missing)} version")
            names = {
                language: set().union(*map(placeholders, _forms(self._texts[language][key])))
                for language in LANGUAGES
            }
            if len({frozenset(found) for found in names.values()}) > 1:
                raise ValueError(f"text {key!r} has different placeholders: {names}")
            _check_plural(key, {language: self._texts[language][key] for language in LANGUAGES})

    @classmethod
    def load(cls, directory: Path = LOCALE_DIR) -> Catalog:
        """Read each language's .po file; a fuzzy entry (a draft, as gettext's msgfmt
        treats it) counts as missing. A plural entry is keyed by its ``msgid``."""
        texts: dict[str, dict[str, str | Forms]] = {}
        for language in LANGUAGES:
            texts[language] = {
                str(entry.id[0] if entry.pluralizable else entry.id): (
                    tuple(str(form) for form in entry.string or ())
                    if entry.pluralizable
                    else str(entry.string)
                )
                for entry in _read_po(directory, language)
                if entry.id and not entry.fuzzy
            }
        return cls(texts)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self._texts[LANGUAGES[0]])

    def render(self, key: str, language: str, **values: object) -> str:
        """The text in ``language``; a ``Both`` value is given in that language too."""
        own = {
            name: value.text(language) if isinstance(value, Both) else value
            for name, value in values.items()
        }
        text = self._texts[language][key]
        if not isinstance(text, str):
            count = own[PLURAL_COUNT]
            if not isinstance(count, int):
                raise TypeError(f"text {key!r} is plural: its {PLURAL_COUNT} must be a number")
            text = text[_plural_form(language, count)]
        return text.format(**own)

    def both(self, key: str, **values: object) -> Both:
        return Both(
            zh=self.render(key, Language.ZH, **values), en=self.render(key, Language.EN, **values)
        )


def _forms(text: str | Forms) -> Forms:
    return (text,) if isinstance(text, str) else text


def _check_plural(key: str, texts: Mapping[str, str | Forms]) -> None:
    """A plural text has every form its language tells apart, and a ``{count}`` to choose
    one by; a key is plural in every language or in none."""
    if all(isinstance(text, str) for text in texts.values()):
        return
    for language, text in texts.items():
        if isinstance(text, str):
            raise ValueError(f"text {key!r} is plural in some languages but not in {language}")
        wanted = len(_plural_categories(language))
        if len(text) != wanted:
            raise ValueError(f"text {key!r} has {len(text)} {language} forms, not {wanted}")
        if PLURAL_COUNT not in placeholders(text[0]):
            raise ValueError(f"text {key!r} is plural without a {{{PLURAL_COUNT}}}")


def _read_po(directory: Path, language: str) -> PoCatalog:
    with (directory / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        return read_po(po, locale=language, abort_invalid=True)


@cache
def gettext_translations(language: str) -> Translations:
    """The catalog of ``language`` as gettext translations (what Flask-Babel reads),
    compiled in memory on first use: nothing to build or write, so an installed copy on
    a read-only disk serves the console, and the texts are those the chat uses. The
    catalog is checked first (:func:`catalog`), so a key missing in a language stops
    here too; fuzzy entries are left out, as there."""
    catalog()
    compiled = BytesIO()
    write_mo(compiled, _read_po(LOCALE_DIR, language))
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@cache
def catalog() -> Catalog:
    """The project's catalog, read on first use (nothing is read at import)."""
    return Catalog.load()


def both(key: str, **values: object) -> Both:
    """A text of the project's catalog in both languages, as a push is queued."""
    return catalog().both(key, **values)
