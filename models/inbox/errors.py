"""What the inbox rules refuse, said from the catalog: the chat and the console show the
sentence in the reader's language."""

from __future__ import annotations

from texts.catalog import Language, catalog


class InboxError(ValueError):
    """A message or a staff change the rules refuse: a catalog key (``inbox_error_...``)
    and its values; ``str()`` is the English sentence."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values
        super().__init__(self.text(Language.EN))

    def text(self, language: str) -> str:
        return catalog().render(self.key, language, **self.values)
