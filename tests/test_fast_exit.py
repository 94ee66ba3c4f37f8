"""Commands end without the interpreter's teardown (runner/cli/fast_exit.py), yet keep what a
normal exit does for the user: threads finished, atexit handlers run, output flushed, the exit
status, and a SQLite store whose every run is in ``mlflow.db`` itself."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A command whose teardown would be seen: an object left in a module prints when the interpreter
# finalizes it (after every atexit handler). A thread and an atexit handler print too.
PROGRAM = textwrap.dedent(
    """
    import atexit, ctypes, sys, threading
    from runner.cli import fast_exit

    class Teardown:
        def __del__(self):
            print("teardown ran", flush=True)

    left_behind = Teardown()
    atexit.register(lambda: print("atexit ran"))
    printed = threading.Event()

    def late():
        printed.wait(30)
        print("thread finished")

    def main():
        threading.Thread(target=late).start()
        print("main ran")  # not flushed: stdout to a pipe keeps it in its buffer until the end
        printed.set()
        ctypes.CDLL(None).printf(b"C wrote\\n")  # C's stdio buffer, flushed by C's exit() only
        sys.exit(EXIT)

    TRACE
    if FAST:
        fast_exit.run(main)
    main()
    """
)


def python(code: str, timeout: int = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter in the project root."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def run_program(exit_arg: str, fast: bool, trace: str = "") -> subprocess.CompletedProcess[str]:
    code = PROGRAM.replace("EXIT", exit_arg).replace("FAST", str(fast)).replace("TRACE", trace)
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout kept until flushed
    return python(code, env=buffered)


def test_a_normal_exit_tears_down() -> None:
    """The reference: Python's own exit finalizes the left-behind object."""
    res = run_program("None", fast=False)
    assert res.returncode == 0
    lines = res.stdout.splitlines()  # C's buffer and Python's reach the pipe in either order
    assert [x for x in lines if x != "C wrote"] == ["main ran", "thread finished", "atexit ran", "teardown ran"]
    assert "C wrote" in lines


@pytest.mark.parametrize("exit_arg, status, stderr", [("None", 0, ""), ("3", 3, ""), ("'Error: bad key'", 1, "Error: bad key\n")])
def test_fast_exit_keeps_threads_atexit_output_and_status(exit_arg: str, status: int, stderr: str) -> None:
    res = run_program(exit_arg, fast=True)
    assert res.returncode == status
    assert res.stderr == stderr
    lines = res.stdout.splitlines()
    assert [x for x in lines if x != "C wrote"] == ["main ran", "thread finished", "atexit ran"]  # and no teardown
    assert "C wrote" in lines  # C's stdio flushed too


def test_under_a_profiler_python_ends_the_process() -> None:
    """coverage, cProfile and debuggers write their results at Python's exit: it is kept for them
    (``run`` returns, or re-raises the command's SystemExit)."""
    code = textwrap.dedent(
        """
        import sys
        from runner.cli import fast_exit

        sys.setprofile(lambda *args: None)
        fast_exit.run(lambda: None)
        print("returned")
        try:
            fast_exit.run(lambda: sys.exit(3))
        except SystemExit as exc:
            print("re-raised", exc.code)
        """
    )
    res = python(code)
    assert (res.returncode, res.stdout.split()) == (0, ["returned", "re-raised", "3"])


def test_ctrl_c_while_exiting_keeps_the_status_and_the_atexit_handlers() -> None:
    """A Ctrl-C while the last threads are joined (a parallel sweep's workers): the command's status
    stands and the atexit handlers still run, as at Python's own exit."""
    code = textwrap.dedent(
        """
        import atexit, os, signal, threading, time
        from runner.cli import fast_exit

        atexit.register(lambda: print("atexit ran", flush=True))
        started = threading.Event()

        def worker():
            started.wait(30)
            time.sleep(0.2)  # the main thread is joining this one by now
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)

        def main():
            threading.Thread(target=worker).start()
            started.set()

        fast_exit.run(main)
        """
    )
    res = python(code)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "Interrupted while exiting; the command had ended with status 0."
    assert res.stdout == "atexit ran\n"


def test_an_error_is_left_to_python() -> None:
    """Not a SystemExit: Python's traceback and exit status 1, as without the fast exit."""
    code = "from runner.cli import fast_exit\ndef main():\n    raise ValueError('boom')\nfast_exit.run(main)\n"
    res = python(code)
    assert res.returncode == 1
    assert "Traceback" in res.stderr and "ValueError: boom" in res.stderr


def test_the_store_file_holds_every_run_after_a_fast_exit(tmp_path: Path) -> None:
    """A WAL-mode SQLite store (what the tracker opens) is checkpointed on the way out: no
    ``-wal``/``-shm`` left, and ``mlflow.db`` copied alone still holds the run."""
    store = tmp_path / "mlflow.db"
    code = textwrap.dedent(
        f"""
        from runner.cli import fast_exit
        from runner.tracker.tracking import MlflowTracker

        def main():
            tracker = MlflowTracker(uri="sqlite:///{store}", experiment="fast", artifact_root="{tmp_path / 'art'}")
            run = tracker.start_run("the-run", {{}})
            run.log_metrics({{"test/roc_auc": 0.75}})
            run.finish("FINISHED")

        fast_exit.run(main)
        """
    )
    res = python(code, timeout=300, env={**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.glob("mlflow.db*")) == ["mlflow.db", "mlflow.db.lock"]
    alone = tmp_path / "copy" / "mlflow.db"
    alone.parent.mkdir()
    shutil.copyfile(store, alone)
    con = sqlite3.connect(alone)
    try:
        rows = con.execute("select r.name, r.status, m.value from runs r join metrics m on m.run_uuid = r.run_uuid").fetchall()
    finally:
        con.close()
    assert rows == [("the-run", "FINISHED", 0.75)]
