"""Foreign tables for benchmarks and tests: seeded, written as files, loaded through ``dataset=hf``.

Not tuned on: defaults are tuned on the embedded sets; these exist to check the runner against
plain scikit-learn on tables shaped like a user's (skewed string labels, a string categorical
column, features on very different scales).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def churn_table(n_rows: int = 10_000, minority: float = 1 / 30, seed: int = 7, n_features: int = 12) -> pd.DataFrame:
    """A skewed binary table: ``n_features`` numeric columns on raw scales, a string ``region``
    column whose mix differs by class, and string labels ``churned`` (rare) / ``stayed``."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_rows, n_features=n_features, n_informative=max(2, n_features // 2), n_redundant=2,
        weights=[1 - minority], flip_y=0.01, class_sep=1.0, n_clusters_per_class=1, random_state=seed,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(X * rng.uniform(0.5, 50, n_features) + rng.uniform(-100, 100, n_features))
    df.columns = [f"f{i}" for i in range(n_features)]
    regions = np.array(["north", "south", "east", "west"])
    u = rng.random(n_rows)
    rare = np.searchsorted(np.cumsum([0.4, 0.3, 0.2, 0.1]), u, side="right").clip(0, 3)
    common = (u * 4).astype(int).clip(0, 3)
    df["region"] = regions[np.where(y == 1, rare, common)]
    df["label"] = np.where(y == 1, "churned", "stayed")
    return df


def write_csv(df: pd.DataFrame, folder: Path, name: str = "table.csv") -> Path:
    path = Path(folder) / name
    df.to_csv(path, index=False)
    return path


def hf_overrides(path: Path, label: str = "label") -> list[str]:
    """The CLI overrides that load ``path`` (csv or parquet) through HF ``load_dataset``."""
    kind = "parquet" if str(path).endswith(".parquet") else "csv"
    return ["dataset=hf", f"dataset.path={kind}", f"dataset.data_files={path}", f"dataset.label={label}"]
