"""What the inbox rules refuse, said from the catalog (texts/errors.py): the chat and
the console show the sentence in the reader's language."""

from __future__ import annotations

from texts.errors import CatalogError


class InboxError(CatalogError):
    """A message or a staff change the rules refuse: a catalog key ``inbox_error_...``."""
