"""The MLflow store behind a tracker: opening it safely, reading it, closing runs.

Why a separate module: every command (job, sweep, compare, rerun, tune) meets the same store
problems, and each used to meet them as a raw traceback: a malformed or unwritable URI, a
read-only ``outputs/``, a full disk, an unreachable server, two processes building a fresh
SQLite schema at the same moment. Here they become one :class:`TrackingError` line naming the
(redacted) URI and the fix, and the schema of a local SQLite store is created under a file lock.
"""
from __future__ import annotations

import contextlib
import errno
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from components.errors import ConfigError
from runner.tracker import schema_template
from runner.tracker.redaction import redact

SCHEMES = ("sqlite", "file", "http", "https", "postgresql", "mysql", "mssql", "databricks")
_NAME = re.compile(r"^[\w\-. :]+$")


class TrackingError(ConfigError):
    """The tracking store cannot be used: one line naming the URI (redacted) and the fix."""


def sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def hint(uri: str) -> str:
    scheme = uri.split(":", 1)[0].split("+", 1)[0]
    if scheme == "sqlite":
        return "check that its folder exists and is writable, or set paths.outputs / tracking.uri to one that is"
    if scheme in ("http", "https"):
        return "check that the MLflow server is running and reachable"
    if scheme in ("postgresql", "mysql", "mssql"):
        return "check host, port, user, password and that the database exists"
    return "check the path or URI"


def check_uri(uri: str) -> None:
    """A URI MLflow can open: a known scheme (or a plain local path)."""
    scheme = uri.split(":", 1)[0].split("+", 1)[0] if "://" in uri else ""
    if "://" in uri and scheme not in SCHEMES:
        raise TrackingError(
            f"tracking.uri: got {redact(uri)!r}; expected sqlite:///<abs path>, file:///<dir>, http(s)://host:port, "
            f"postgresql://user@host/db (schemes: {', '.join(SCHEMES)})."
        )
    if scheme == "sqlite" and not uri.startswith("sqlite:///"):
        raise TrackingError(f"tracking.uri: got {redact(uri)!r}; a SQLite URI is sqlite:///<path> (three slashes).")


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return redact(text[0][:300] if text else type(exc).__name__)


@contextlib.contextmanager
def translate(uri: str, doing: str) -> Iterator[None]:
    """Store failures as one TrackingError line (``doing``: what was attempted)."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except TrackingError:
        raise
    except ImportError as exc:
        raise TrackingError(f"tracking.uri={redact(uri)}: its database driver is not installed ({exc}); install it "
                            "(pip install -e '.[postgres]') or name an installed one, e.g. postgresql+psycopg2://...") from exc  # fmt: skip
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise TrackingError(f"tracking.uri={redact(uri)}: disk full while {doing} ({exc.filename or ''}); free space or move paths.outputs.") from exc
        raise TrackingError(f"tracking.uri={redact(uri)}: {doing} failed: {first_line(exc)}; {hint(uri)}.") from exc
    except MlflowException as exc:
        if "disk is full" in str(exc) or "No space left" in str(exc):
            raise TrackingError(f"tracking.uri={redact(uri)}: disk full while {doing}; free space or move paths.outputs / tracking.uri.") from exc
        if exc.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS"):
            raise
        raise TrackingError(f"tracking.uri={redact(uri)}: {doing} failed: {first_line(exc)}; {hint(uri)}.") from exc
    except Exception as exc:
        if "disk is full" in str(exc) or "No space left" in str(exc):
            raise TrackingError(f"tracking.uri={redact(uri)}: disk full while {doing}; free space or move paths.outputs / tracking.uri.") from exc
        if type(exc).__module__.split(".")[0] in ("sqlalchemy", "requests", "urllib3", "psycopg2", "sqlite3"):
            raise TrackingError(f"tracking.uri={redact(uri)}: {doing} failed: {first_line(exc)}; {hint(uri)}.") from exc
        raise


@contextlib.contextmanager
def schema_lock(uri: str) -> Iterator[None]:
    """An exclusive file lock beside a SQLite store while MLflow creates or migrates its schema:
    two sweeps starting together on a fresh store otherwise race in the migration."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Clients opened in this process, by full URI (kept in memory only, never printed): the jobs of
# an in-process sweep (Hydra's basic launcher, ``runner.tune``) each build a tracker, and without
# this each would re-run the schema check, the WAL pragma and the schema lock.
_OPEN: dict[str, Any] = {}


def _still_there(uri: str) -> bool:
    """A cached client is reused only while its local store still exists (a deleted SQLite file
    is reopened, so its schema is built again instead of failing on missing tables)."""
    path = sqlite_path(uri)
    return path is None or path.is_file()


class StoreMixin:
    """Store access shared by :class:`~runner.tracker.tracking.MlflowTracker`: client, experiment,
    lookup, search, terminate. Subclasses set ``uri``, ``experiment``, ``artifact_root``."""

    uri: str
    experiment: str
    artifact_root: str | None
    _client: Any
    _experiment_id: str | None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _OPEN.get(self.uri) if _still_there(self.uri) else None
        if self._client is None:
            from mlflow import MlflowClient

            check_uri(self.uri)
            with translate(self.uri, "opening the store"), schema_lock(self.uri):
                path = sqlite_path(self.uri)
                seeded = path is not None and schema_template.seed(path)  # a new store: a copy of the empty schema
                try:
                    client = MlflowClient(tracking_uri=self.uri)
                    client.search_experiments(max_results=1)  # builds/migrates the schema now, under the lock
                except Exception:
                    if not seeded:
                        raise
                    schema_template.discard(path, self.uri)  # type: ignore[arg-type]
                    client = MlflowClient(tracking_uri=self.uri)
                    client.search_experiments(max_results=1)
                self._enable_wal()
            self._client = _OPEN[self.uri] = client
        return self._client

    def exists(self) -> bool:
        """False for a local store that is not there (commands that only read must not create one)."""
        path = sqlite_path(self.uri)
        if path is not None:
            return path.is_file()
        if "://" not in self.uri or self.uri.startswith("file:"):
            return Path(self.uri.removeprefix("file://")).is_dir()
        return True

    def experiment_id(self) -> str:
        """Get or create the experiment (tolerating a parallel worker creating it first)."""
        if self._experiment_id is None:
            from mlflow.exceptions import MlflowException

            check_experiment_name(self.experiment)
            with translate(self.uri, f"opening experiment '{self.experiment}'"):
                found = self.client.get_experiment_by_name(self.experiment)
                if found is None:
                    location = Path(self.artifact_root, self.experiment).as_uri() if self.artifact_root else None
                    try:
                        self._experiment_id = self.client.create_experiment(self.experiment, artifact_location=location)
                    except MlflowException:
                        found = self.client.get_experiment_by_name(self.experiment)
                        if found is None:
                            raise
                if self._experiment_id is None:
                    if found.lifecycle_stage == "deleted":
                        self.client.restore_experiment(found.experiment_id)
                    self._experiment_id = found.experiment_id
        return self._experiment_id

    def _enable_wal(self) -> None:
        """SQLite in write-ahead-log mode: parallel jobs (hydra/launcher=joblib) read while one
        writes instead of failing with "database is locked". The mode persists in the file."""
        path = sqlite_path(self.uri)
        if path is None:
            return
        import sqlite3

        con = sqlite3.connect(path, timeout=30)
        try:
            con.execute("PRAGMA journal_mode=WAL")
        finally:
            con.close()

    # --- the read/close interface used by sweep, compare, rerun and tune ---------------------

    def get_run(self, run_id: str) -> Any:
        """The run, or a TrackingError naming the id and the store."""
        from mlflow.exceptions import MlflowException

        try:
            with translate(self.uri, f"reading run {run_id}"):
                return self.client.get_run(run_id)
        except MlflowException as exc:
            raise TrackingError(f"run_id: no run {run_id!r} in {redact(self.uri)} ({first_line(exc)}).") from exc

    def experiments(self) -> list[Any]:
        with translate(self.uri, "listing experiments"):
            return list(self.client.search_experiments())

    def experiment_by_id(self, experiment_id: str) -> Any:
        with translate(self.uri, f"reading experiment {experiment_id}"):
            return self.client.get_experiment(experiment_id)

    def experiment_named(self, name: str) -> Any:
        with translate(self.uri, f"reading experiment '{name}'"):
            return self.client.get_experiment_by_name(name)

    def search(
        self, experiment_ids: list[str], tags: Mapping[str, str] | None = None, status: str | None = None,
        max_results: int = 50_000,
    ) -> list[Any]:
        """Runs filtered by tag values and status, newest first. Values are quoted by
        :func:`quote` (never pasted into the filter), or filtered here when no quoting can hold them."""
        clauses, local = [], {}
        for key, value in (tags or {}).items():
            quoted = quote(value)
            if quoted is None or not _NAME.match(key):
                local[key] = value
            else:
                clauses.append(f"tags.`{key}` = {quoted}")
        if status:
            clauses.append(f"attributes.status = {quote(status)}")
        if not experiment_ids:
            return []
        with translate(self.uri, "searching runs"):
            runs = self.client.search_runs(
                experiment_ids, filter_string=" and ".join(clauses), order_by=["attributes.start_time DESC"],
                max_results=max_results if not local else 50_000,
            )  # fmt: skip
        runs = [r for r in runs if all(r.data.tags.get(k) == v for k, v in local.items())]
        return runs[:max_results]

    def terminate(self, run_id: str, status: str, reason: str | None = None) -> None:
        """End a run with ``status``; the reason lands in its ``error`` tag."""
        with translate(self.uri, f"closing run {run_id}"):
            if reason:
                self.client.set_tag(run_id, "error", redact(reason)[:5000])
            self.client.set_terminated(run_id, status=status)

    def log_metric(self, run_id: str, key: str, value: float) -> None:
        with translate(self.uri, f"logging to run {run_id}"):
            self.client.log_metric(run_id, key, float(value))

    def download(self, run_id: str, path: str) -> Path:
        with translate(self.uri, f"downloading {path} of run {run_id}"):
            return Path(self.client.download_artifacts(run_id, path))


def quote(value: str) -> str | None:
    """A value as an MLflow filter string literal, or None when it holds both quote kinds
    (MLflow's filter grammar has no escapes): the caller then filters in Python."""
    text = str(value)
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return None


def check_experiment_name(name: Any) -> None:
    """``experiment_name``: a plain name, so artifacts stay under the artifact root."""
    text = str(name)
    bad = (
        not text.strip() or text != text.strip() or text in (".", "..") or "/" in text or "\\" in text
        or text.startswith("~") or any(ord(c) < 32 for c in text) or len(text) > 200
    )  # fmt: skip
    if bad:
        raise ConfigError(
            f"experiment_name: got {redact(text)!r}; expected a plain name (no '/', '\\', leading '~', "
            "'.' or '..', no surrounding spaces, at most 200 characters), e.g. experiment_name=boss_battle."
        )
