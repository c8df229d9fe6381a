"""What the tag rules refuse, said from the catalog (texts/errors.py)."""

from __future__ import annotations

from texts.errors import CatalogError


class TagError(CatalogError):
    """A tag request the rules refuse: a catalog key ``tag_error_...``; ``field`` is the
    name it is about (``name_zh`` or ``name_en``) when it is about one, so a form can say
    it next to that field."""

    def __init__(self, key: str, *, field: str | None = None, **values: object) -> None:
        super().__init__(key, **values)
        self.field = field
