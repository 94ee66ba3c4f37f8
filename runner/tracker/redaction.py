"""Credentials never written: ``scheme://user:secret@host`` -> ``scheme://user:***@host``.

Why one function used at every edge rather than "don't put passwords in URIs": MLflow's own
convention for PostgreSQL/MySQL stores is a URI with the password in it, and the URI travels
through params, tags, config artifacts, console lines, Hydra's ``.hydra/`` files and its error
line. The tracker redacts what it logs; the CLI wraps stdout/stderr and rewrites Hydra's files.
Query-string secrets (``?password=...``, ``token=...``) are masked the same way.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TextIO

MASK = "***"
# Hydra escapes ':' as '\:' when it prints or saves an override: the backslashes are optional here.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*\\?://)(?P<user>[^:/@\s'\"\\]*)(?P<sep>\\?:)(?P<secret>[^@/\s'\"]+)@")
_QUERY = re.compile(r"(?i)(?P<key>[?&;](?:password|passwd|pwd|token|secret|access_token|api_key)=)(?P<secret>[^&;\s'\"]+)")


def redact(text: Any) -> str:
    """``text`` with any URI password or secret query value replaced by ``***``."""
    out = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}{m['sep']}{MASK}@", str(text))
    return _QUERY.sub(lambda m: f"{m['key']}{MASK}", out)


def redact_file(path: Path) -> bool:
    """Rewrite a text file in place (atomically) without secrets; True if it held one."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    clean = redact(text)
    if clean == text:
        return False
    tmp = path.with_name(path.name + ".redacting")
    tmp.write_text(clean)
    tmp.replace(path)
    return True


def redact_hydra_outputs(output_dir: Path | None, sweep_dir: Path | None = None) -> None:
    """Hydra writes ``.hydra/{config,hydra,overrides}.yaml`` and ``multirun.yaml`` before any
    callback can intervene; rewrite them, redacted, as the first thing a job does."""
    folders = [p for p in (output_dir and output_dir / ".hydra", sweep_dir) if p is not None and p.exists()]
    for folder in folders:
        for path in folder.glob("*.yaml"):
            redact_file(path)


class RedactingStream:
    """A text stream wrapper that redacts every write (the CLI's stdout and stderr, so Hydra's
    own error lines and any print or log line never show a password)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install_stream_redaction() -> None:
    """Wrap ``sys.stdout``/``sys.stderr`` once (idempotent)."""
    import sys

    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)  # type: ignore[assignment]
