"""The catalog: every key in both languages with the same placeholders, and every key the
code renders present in it (texts/catalog.py says how code names a key)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from texts.catalog import LANGUAGES, Catalog, catalog, gettext_translations

ROOT = Path(__file__).resolve().parent.parent
CODE = ("bot", "handlers", "models", "scheduler")
# What code calls to render a text: ``ctx.t(key, ...)`` in the conversation, ``render``
# on the catalog itself, ``both(key, ...)`` for pushes, models' helpers taking a key,
# Flask-Babel's ``gettext`` in the console and the account, needs, village and inbox rules' errors.
RENDERERS = frozenset(
    {
        "t",
        "render",
        "both",
        "confirmed_push_text",
        "gettext",
        "AccountError",
        "NeedRefusal",
        "VillageError",
        "InboxError",
    }
)
TEMPLATES = ROOT / "bot" / "console" / "templates"
# A key a console template renders: ``_("console_sign_in")`` or ``_('...')``.
TEMPLATE_KEY = re.compile(r"""\b_\(\s*["']([a-z0-9_]+)["']""")


def keys_in_templates() -> set[str]:
    return {
        key
        for path in sorted(TEMPLATES.rglob("*.html"))
        for key in TEMPLATE_KEY.findall(path.read_text(encoding="utf-8"))
    }


def _trees() -> list[ast.Module]:
    return [
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for package in CODE
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _keys_table(node: ast.AST) -> bool:
    """An assignment, annotated or not, to a name ending in ``_TEXT_KEYS``."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return False
    return any(isinstance(t, ast.Name) and t.id.endswith("_TEXT_KEYS") for t in targets)


def keys_rendered_in_code() -> set[str]:
    """The keys passed as literals to a renderer, and those of ``..._TEXT_KEYS`` tables."""
    keys: set[str] = set()
    for tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in RENDERERS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    keys.add(first.value)
            elif _keys_table(node):
                keys.update(
                    c.value
                    for c in ast.walk(node)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                )
    return keys


def string_literals_in_code() -> set[str]:
    return {
        node.value
        for tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_the_catalog_loads_with_both_languages_and_matching_placeholders() -> None:
    """Loading refuses a key missing in a language or with different placeholders."""
    assert {"help", "need_consent", "event_list_item"} <= catalog().keys


def test_every_key_rendered_in_code_is_in_the_catalog() -> None:
    rendered = keys_rendered_in_code()
    found = {"help", "handler_error", "push_need_update_resolved", "push_event_reminder"}
    assert found <= rendered, "the scan missed keys"
    assert sorted(rendered - catalog().keys) == []
    templates = keys_in_templates()
    assert {"console_sign_in", "console_nav_accounts"} <= templates, "the scan missed keys"
    assert sorted(templates - catalog().keys) == []


def test_every_key_in_the_catalog_is_named_in_code() -> None:
    """A text no code names is dead: removed or renamed code left it behind."""
    assert sorted(catalog().keys - string_literals_in_code() - keys_in_templates()) == []


def test_a_key_missing_in_a_language_is_refused() -> None:
    with pytest.raises(ValueError, match="no en version"):
        Catalog({"zh": {"greeting": "你好"}, "en": {}})
    with pytest.raises(ValueError, match="no zh version"):
        Catalog({"zh": {"greeting": ""}, "en": {"greeting": "Hello"}})


def test_different_placeholders_are_refused() -> None:
    with pytest.raises(ValueError, match="'greeting' has different placeholders"):
        Catalog({"zh": {"greeting": "{name}，你好"}, "en": {"greeting": "Hello, {nmae}"}})
    same = Catalog({"zh": {"item": "{id}. {title}"}, "en": {"item": "{title} (#{id})"}})
    assert same.render("item", "en", id=3, title="Tea") == "Tea (#3)"


def test_a_fuzzy_entry_counts_as_missing(tmp_path: Path) -> None:
    """A translation marked fuzzy is a draft, as for gettext's msgfmt."""
    for language, entry in (
        ("zh", '#, fuzzy\nmsgid "greeting"\nmsgstr "你好"\n'),
        ("en", 'msgid "greeting"\nmsgstr "Hello"\n'),
    ):
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "messages.po").write_text(entry, encoding="utf-8")
    with pytest.raises(ValueError, match="no zh version"):
        Catalog.load(tmp_path)


def test_console_texts_hold_no_percent_sign() -> None:
    """Jinja's gettext formats every text with ``%`` (Flask-Babel installs it so); a ``%``
    in a console text would fail the page. Console texts use ``{name}`` instead."""
    with_percent = [
        key
        for language in LANGUAGES
        for key in sorted(catalog().keys)
        if key.startswith("console_") and "%" in gettext_translations(language).gettext(key)
    ]
    assert with_percent == []
