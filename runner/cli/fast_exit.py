"""A command process ends without Python's interpreter teardown.

Why: once a command is done, the interpreter still tears down every module it loaded, and
torch, MLflow's SQL store, scikit-learn, ``datasets`` and matplotlib are many: measured on the
2-core machine, ~2 s between the last ``atexit`` handler and the end of a breast_cancer job
(teardown alone: ``import torch`` 0.7 s, MLflow's SQL store 1.0 s, scikit-learn 0.4 s). None of
that work reaches a file. So the command entry points (``python -m runner`` / ``dq-run`` and
the ``runner.*`` commands) finish here with what finalization does that matters, then
``os._exit``:

1. threads: ``threading``'s own shutdown (its exit hooks, e.g. ``concurrent.futures`` pools,
   then joining every non-daemon thread), as the interpreter does first;
2. every ``atexit`` handler (logging's flush and close, MLflow's, multiprocessing's);
3. the SQLAlchemy engines MLflow keeps per store are disposed: closing a SQLite store's last
   connection checkpoints its write-ahead log into ``mlflow.db`` (a store copied as that one
   file then holds every run, and no ``-wal``/``-shm`` files are left beside it);
4. stdout and stderr flushed (Python's and C's stdio); the exit status as Python would give it.

An exception other than ``SystemExit`` is left to Python (its traceback and full shutdown), as is
a process under a tracer or profiler (coverage, cProfile, pdb: they write their results at
Python's exit), and ``main()`` called in-process (the tests) never gets here.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

# MLflow's SQLAlchemy stores, each with a class-level {uri: engine} cache.
_ENGINE_HOLDERS = (
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "mlflow.store.jobs.sqlalchemy_store",
)


def run(main: Callable[[], Any]) -> None:
    """Run a command's ``main()`` and end the process (``os._exit``) after the shutdown steps
    above. Under a tracer or profiler (coverage, ``python -m cProfile``, a debugger) the process
    ends as Python ends it, so the tool gets to write its results."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        if _traced():
            raise
        code = exit_status(exc.code)
    if not _traced():
        finish(code)


def _traced() -> bool:
    return sys.gettrace() is not None or sys.getprofile() is not None


def exit_status(code: Any) -> int:
    """``sys.exit(code)`` as Python maps it: None -> 0, an int as is, anything else printed, 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def finish(code: int) -> NoReturn:
    """The shutdown steps, then ``os._exit(code)``. A Ctrl-C / SIGTERM arriving meanwhile (while a
    parallel sweep's workers are joined) skips the rest of that step only, and the command's own
    status stands, as at Python's exit (which printed "Exception ignored" and went on)."""
    for step in (_shutdown_threads, atexit._run_exitfuncs, close_stores):
        try:
            step()
        except KeyboardInterrupt:
            print(f"Interrupted while exiting; the command had ended with status {code}.", file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing left to write to
            pass
    _flush_c_streams()
    os._exit(code)


def _shutdown_threads() -> None:
    shutdown = getattr(threading, "_shutdown", None)  # what Py_FinalizeEx calls first
    if shutdown is not None:
        shutdown()
        return
    for thread in threading.enumerate():  # pragma: no cover (every CPython 3.10-3.13 has it)
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()


def _flush_c_streams() -> None:
    """What C's ``exit()`` would flush: text native code wrote through stdio (liblinear's verbose
    output, OpenMP diagnostics) to a pipe or file."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to ask (another platform): nothing buffered there
        pass


def close_stores() -> None:
    """Dispose the engines of MLflow's SQLAlchemy stores loaded in this process (step 3)."""
    for name in _ENGINE_HOLDERS:
        module = sys.modules.get(name)
        store = getattr(module, "SqlAlchemyStore", None)
        for engine in list(getattr(store, "_engine_map", {}).values()):
            try:
                engine.dispose()
            except Exception:  # a store already gone: nothing to checkpoint
                pass
