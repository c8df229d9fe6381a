"""A refusal said from the catalog: the CLI prints the English text, the console shows
the text in the signed-in person's language."""

from __future__ import annotations

from texts.catalog import Language, catalog


class CatalogError(ValueError):
    """A request the rules refuse: a catalog key and its values; ``str()`` is the
    English sentence."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values
        super().__init__(self.text(Language.EN))

    def text(self, language: str) -> str:
        return catalog().render(self.key, language, **self.values)
