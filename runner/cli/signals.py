"""SIGINT/SIGTERM as exceptions, so a stopped job or sweep closes its MLflow runs.

Why: Python's default SIGTERM handler ends the process without running ``finally`` blocks, and
a run left RUNNING is indistinguishable from one still training. Turning SIGTERM into
:class:`Terminated` (a ``KeyboardInterrupt``) lets the job mark its run KILLED and the sweep
close its parent with a summary; the process then exits 130 (SIGINT) or 143 (SIGTERM), the
shell convention. SIGKILL cannot be caught: ``resume`` closes those runs later.
"""
from __future__ import annotations

import signal
import threading
from typing import Any


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


_stopping: list[int] = []  # the signal being handled, once one was raised (reset by install)


def _raise(signum: int, frame: Any) -> None:
    """Raise once. Why: a stopped parallel sweep's workers get SIGTERM twice (the terminal's
    process group, then the launcher stopping its workers); the second one, raised inside
    whatever cleanup the first started (an interpreter-shutdown weakref callback of SQLAlchemy's
    was seen), printed an "Exception ignored" traceback. SIGKILL still ends a stuck process."""
    if _stopping:
        return
    _stopping.append(signum)
    raise Terminated(signum)


def install() -> None:
    """SIGTERM -> :class:`Terminated` (main thread only; elsewhere Python refuses handlers)."""
    if threading.current_thread() is threading.main_thread():
        _stopping.clear()
        signal.signal(signal.SIGTERM, _raise)


def signal_name(exc: BaseException) -> str:
    return signal.Signals(exc.signum).name if isinstance(exc, Terminated) else "SIGINT"


def exit_code(exc: BaseException) -> int:
    """128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)
