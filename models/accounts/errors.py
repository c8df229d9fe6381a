"""What the account rules refuse, said from the catalog (texts/errors.py)."""

from __future__ import annotations

from texts.errors import CatalogError


class AccountError(CatalogError):
    """An account request the rules refuse: a catalog key ``account_error_...``."""
