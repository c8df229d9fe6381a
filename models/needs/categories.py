"""Need categories as the config lists them: a stored key and its name in each language.

The config lives outside ``models/``; a rule that names a category to a person (a
refusal, the staff digest) takes the configured categories in and says each by its name,
never by its key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from texts.catalog import Both


class CategoryName(Protocol):
    """A need category as configured (bot.config.sections.NeedCategory fits)."""

    @property
    def key(self) -> str: ...

    @property
    def zh(self) -> str: ...

    @property
    def en(self) -> str: ...


def category_names(categories: Iterable[CategoryName]) -> dict[str, Both]:
    """Each category's key and its names in both languages."""
    return {c.key: Both(c.zh, c.en) for c in categories}
