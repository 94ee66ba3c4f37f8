"""The one exception type for user mistakes (bad config, bad data), so the CLI can print
it as a clean message instead of a traceback from deep inside a library."""
from __future__ import annotations


class ConfigError(ValueError):
    """A user-facing error: says what is wrong, where (the config key) and what is accepted."""
