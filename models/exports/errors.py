"""The refusal an export raises: said from the catalog, in the asker's language."""

from __future__ import annotations

from texts.errors import CatalogError


class ExportError(CatalogError):
    """An export the rules refuse (an unknown list or filter, a list the account may not
    read); ``str()`` is the English sentence the CLI prints."""
