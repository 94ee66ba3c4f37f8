"""A new local SQLite store starts as a copy of an empty MLflow schema built once per MLflow version.

Why: MLflow builds a fresh SQLite store's schema by running every one of its ~60 alembic
migrations (loading each migration script): ~1.7 s of CPU, the largest single cost of a small
job tracked to a new store (profiled on breast_cancer). The schema those migrations produce
depends on MLflow's version only, so it is built once, with MLflow's own
``mlflow.store.db.utils._initialize_tables`` (what its store runs on an empty database), into
``$XDG_CACHE_HOME/dq-runner/`` (``~/.cache/dq-runner``), and each new store is a file copy of
it. MLflow then opens the copy as an existing store: it checks that every table exists and that
the schema revision is its head (``_verify_schema``), and creates the default experiment itself.
The copy holds no experiment, run or path. Anything unexpected (no cache folder, another MLflow
layout, a copy MLflow refuses) leaves MLflow to build the schema as before.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger("runner")


def template_path() -> Path:
    from mlflow.version import VERSION

    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "dq-runner" / f"mlflow-{VERSION}-empty-schema.db"


def _build(template: Path) -> bool:
    """MLflow's own schema build on an empty file, written beside the template and renamed into place."""
    from mlflow.store.db import utils

    initialize = getattr(utils, "_initialize_tables", None)
    if initialize is None:
        return False
    import sqlalchemy

    template.parent.mkdir(parents=True, exist_ok=True)
    tmp = template.with_name(f"{template.name}.{os.getpid()}.tmp")
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp}")
    try:
        initialize(engine)
    finally:
        engine.dispose()
    os.replace(tmp, template)
    return True


def seed(store: Path) -> bool:
    """Copy the empty schema to ``store`` when it does not exist yet (the caller holds the store's
    schema lock); True when copied."""
    if store.exists():
        return False
    try:
        template = template_path()
        if not template.is_file() and not _build(template):
            return False
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_name(f"{store.name}.{os.getpid()}.tmp")
        try:
            shutil.copyfile(template, tmp)
            os.replace(tmp, store)
        finally:
            if tmp.exists():  # a copy cut short (a full disk): nothing left beside the store
                tmp.unlink()
        return True
    except Exception as exc:  # a cache: MLflow builds the schema itself (and reports the disk's error)
        log.debug("MLflow schema template not used: %s", exc)
        return False


def discard(store: Path, uri: str) -> None:
    """MLflow refused a copy (a damaged template): drop both, and the engine MLflow keeps for the
    URI (its pooled connections hold the dropped file), so MLflow builds the store as before."""
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        engine = getattr(SqlAlchemyStore, "_engine_map", {}).pop(uri, None)
        if engine is not None:
            engine.dispose()
    except Exception as exc:
        log.debug("MLflow engine not disposed: %s", exc)
    for path in (store, template_path()):
        try:
            path.unlink()
        except OSError:
            pass
