"""The one error a person's configuration mistake becomes."""

from __future__ import annotations


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the key and what is wrong."""
