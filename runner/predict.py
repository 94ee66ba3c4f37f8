"""``python -m runner.predict <run_id | runs:/<id>/model | models:/<name>/<version>> <data> --output preds.parquet``

Scores raw rows with a job's logged model (see runner/model/model_export.py): ``<data>`` is a csv,
parquet, json or jsonl file, a folder written by ``datasets``' ``save_to_disk`` (a Dataset, or a
DatasetDict with ``--split``), or anything ``datasets.load_dataset`` opens: a folder of data
files, a HuggingFace dataset id (from the local cache when offline).
Rows go through the model in batches (``--batch-size``) with a progress bar when there is more
than one. The output (parquet, or csv by its extension) has one row per input row, in order:
``label`` and ``proba/<class>``. Missing or wrongly typed columns stop it with one line naming
them; extra columns (the label, ids) are ignored.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterator

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
FILE_READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".json": "read_json", ".jsonl": "read_json"}


class PredictError(Exception):
    """A user mistake: printed as one ``Error: ...`` line, exit status 2."""


def model_uri(target: str) -> str:
    """A bare run id means that run's model; anything else is an MLflow model URI or a local path."""
    return f"runs:/{target}/model" if RUN_ID.match(target) else target


def load(target: str, tracking_uri: str | None) -> Any:
    import mlflow
    from mlflow.exceptions import MlflowException

    from runner.compare import default_uri, open_store

    uri = model_uri(target)
    if uri.startswith(("runs:/", "models:/")):
        store = tracking_uri or default_uri()
        open_store(store)  # a missing store is one line, not an empty new database
        mlflow.set_tracking_uri(store)
        mlflow.set_registry_uri(store)
    try:
        return mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        raise PredictError(f"cannot load model {uri!r}: {str(exc).splitlines()[0]}") from None


def open_data(source: str, split: str | None) -> tuple[Any, int]:
    """(a pandas DataFrame or an HF Dataset, number of rows) for a file, a save_to_disk folder or a hub id."""
    import datasets as hf
    import pandas as pd

    path = Path(source)
    if path.is_file():
        reader = FILE_READERS.get("".join(path.suffixes[-1:]).lower())
        if reader is None:
            raise PredictError(f"{source}: unknown file type; accepted: {', '.join(FILE_READERS)} (or a dataset folder / hub id).")
        kwargs = {"lines": True} if path.suffix.lower() == ".jsonl" else {}
        try:
            frame = getattr(pd, reader)(path, **kwargs)
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            raise PredictError(f"{source}: cannot read it: {str(exc).splitlines()[0]}") from None
        return frame, len(frame)
    saved = path.is_dir() and any((path / f).exists() for f in ("dataset_dict.json", "dataset_info.json", "state.json"))
    try:  # a save_to_disk folder; else load_dataset: a hub id (cache) or a folder of data files
        data = hf.load_from_disk(str(path)) if saved else hf.load_dataset(source)
    except Exception as exc:  # datasets raises many types for a bad path / id; the first line says which
        raise PredictError(f"{source}: not a file, a save_to_disk folder or a cached dataset id: {str(exc).splitlines()[0]}") from None
    if isinstance(data, hf.DatasetDict):
        chosen = split or ("test" if "test" in data else (next(iter(data)) if len(data) == 1 else None))
        if chosen not in data:
            raise PredictError(f"--split {split!r}: pick one of the dataset's splits: {', '.join(data)}.")
        data = data[chosen]
    return data, data.num_rows


def batches(data: Any, rows: int, size: int) -> Iterator[Any]:
    """Pandas batches of the raw rows (HF splits: ClassLabel ids decoded to names)."""
    from runner.model.inference import raw_frame

    for start in range(0, rows, size):
        stop = min(rows, start + size)
        if hasattr(data, "iloc"):
            yield data.iloc[start:stop]
        else:
            yield raw_frame(data.select(range(start, stop)))


def check_columns(model: Any, columns: list[str]) -> list[Any]:
    """The model's input ColSpecs; missing ones are one error naming every one of them."""
    schema = model.metadata.get_input_schema()
    if schema is None:
        return []
    missing = [c for c in schema.input_names() if c not in set(columns)]
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise PredictError(f"the input lacks column(s) the model needs: {shown}.")
    return list(schema.inputs)


def conform(frame: Any, specs: list[Any]) -> Any:
    """The signature's columns, categories as strings (a csv reader turns '1', '2' into ints)."""
    from mlflow.types import DataType

    if specs:
        frame = frame[[spec.name for spec in specs]]  # extra columns (labels, ids) are not the model's business
    frame = frame.copy()
    for spec in specs:
        if spec.type == DataType.string:
            values = frame[spec.name]
            frame[spec.name] = values.astype(object).where(values.notna(), None).map(lambda v: v if v is None else str(v))
    return frame


def predict(model: Any, data: Any, rows: int, batch_size: int = 10_000, progress: bool = True) -> Any:
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from tqdm.auto import tqdm

    from runner.model.inference import InputError

    columns = list(data.columns) if hasattr(data, "columns") else list(data.column_names)
    specs = check_columns(model, columns)
    out = []
    bar = tqdm(total=rows, unit="rows", disable=not progress or rows <= batch_size, file=sys.stderr)
    for frame in batches(data, rows, batch_size):
        try:
            out.append(model.predict(conform(frame, specs)))
        except (InputError, MlflowException) as exc:
            raise PredictError(str(exc).splitlines()[0]) from None
        bar.update(len(frame))
    bar.close()
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runner.predict", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a run id, runs:/<id>/model, models:/<name>/<version> or a local model folder")
    parser.add_argument("data", help="csv / parquet / json(l) file, a save_to_disk folder or a cached HF dataset id")
    parser.add_argument("--output", type=Path, required=True, help="predictions: .parquet (default) or .csv")
    parser.add_argument("--split", default=None, help="for a DatasetDict: the split to score (default: test, or the only one)")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else sqlite:///outputs/mlflow.db")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        raise SystemExit(f"Error: --batch-size: got {args.batch_size}; expected a positive integer.")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar: ours
    try:
        data, rows = open_data(args.data, args.split)
        model = load(args.model, args.tracking_uri)
        preds = predict(model, data, rows, args.batch_size, not args.no_progress)
    except PredictError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.output.suffix.lower() == ".csv":
        preds.to_csv(args.output, index=False)
    else:
        preds.to_parquet(args.output, index=False)
    print(f"{len(preds)} predictions -> {args.output}")


if __name__ == "__main__":
    from runner.cli import fast_exit

    fast_exit.run(main)  # no interpreter teardown (runner/cli/fast_exit.py)
