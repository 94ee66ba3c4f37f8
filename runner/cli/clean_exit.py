"""The one place a command turns a user-fixable error into one ``Error: ...`` line and exit status 1.

Every entry point (``python -m runner`` and the ``runner.preview``, ``quality``, ``tune``,
``compare`` and ``rerun`` commands) wraps its work in :func:`user_errors`; a bug keeps its traceback.
"""
from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from components.errors import ConfigError


def one_line(exc: BaseException) -> str | None:
    """The clean one-line message for a user-fixable error, or None for a bug (keep traceback)."""
    if isinstance(exc, ConfigError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT):
        what = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded"}.get(exc.errno, "not writable")
        return f"{exc.filename or 'output'}: {what} ({exc.strerror}); free space or set paths.outputs=<a writable folder>."
    return None


@contextmanager
def user_errors() -> Iterator[None]:
    """``Error: <message>`` on stderr and exit 1 for a ConfigError (or a full / read-only disk)."""
    try:
        yield
    except Exception as exc:
        message = one_line(exc)
        if message is None:
            raise
        print(f"Error: {message}", file=sys.stderr)
        sys.exit(1)
