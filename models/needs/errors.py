"""The refusal every needs rule raises: one sentence for the person who asked."""

from __future__ import annotations


class NeedError(ValueError):
    """A request the rules refuse; the message is one sentence for the person who asked."""
