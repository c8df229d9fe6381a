"""What the village rules refuse, said from the catalog (texts/errors.py)."""

from __future__ import annotations

from texts.errors import CatalogError


class VillageError(CatalogError):
    """A village request the rules refuse: a catalog key ``village_error_...``."""
