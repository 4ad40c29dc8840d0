"""The error every adapter raises for a setting it cannot use (an environment variable, a URL)."""

from __future__ import annotations


class ConfigError(ValueError):
    pass
