"""Result tables: one metrics record per trained classifier, collected into CSV tables."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from diffshare.errors import DataError
from diffshare.io import read_json

#: Leading columns of results/baseline/{dataset}.csv, in order; other metrics follow.
BASELINE_COLUMNS = [
    "dataset",
    "source",
    "classifier",
    "seed",
    "accuracy",
    "dp_difference",
    "dp_ratio",
    "eo_difference",
    "selection_rate_privileged",
    "selection_rate_unprivileged",
    "n_train",
]


def metrics_record(
    identity: Mapping[str, Any], metrics: Mapping[str, Any], *, n_train: int
) -> dict[str, Any]:
    """A metrics file's content: what was trained (``identity``), on how many rows, its scores."""
    return {**identity, "n_train": int(n_train), **metrics}


def collect(paths: Iterable[str | os.PathLike], leading: list[str]) -> pd.DataFrame:
    """Read metrics records into one table, ``leading`` columns first, sorted by them."""
    records = [read_json(path) for path in paths]
    if not records:
        raise DataError("no metrics files to collect")
    table = pd.DataFrame.from_records(records)
    missing = [c for c in leading if c not in table.columns]
    if missing:
        raise DataError(f"metrics records lack the fields {missing}")
    table = table[leading + [c for c in table.columns if c not in leading]]
    sort_by = [c for c in ("dataset", "source", "classifier", "seed") if c in leading]
    return table.sort_values(sort_by, kind="stable").reset_index(drop=True)


#: Leading columns of results/utility/{dataset}.csv, in order.
UTILITY_COLUMNS = [
    "dataset",
    "classifier",
    "seed",
    "accuracy_real",
    "accuracy_synthetic",
    "accuracy_gap",
    "dp_difference_real",
    "dp_difference_synthetic",
    "eo_difference_real",
    "eo_difference_synthetic",
    "marginal_distance",
    "sensitive_share_real",
    "sensitive_share_synthetic",
    "positive_share_real",
    "positive_share_synthetic",
    "n_train_real",
    "n_train_synthetic",
]


def utility_table(
    real: Iterable[str | os.PathLike],
    synthetic: Iterable[str | os.PathLike],
    fidelity: Iterable[str | os.PathLike],
) -> pd.DataFrame:
    """Join the metrics of classifiers trained on real and on synthetic rows, per classifier and
    seed, with the fidelity of that seed's samples. ``accuracy_gap`` = real - synthetic accuracy.
    """
    keys = ["dataset", "classifier", "seed"]
    metrics = ["accuracy", "dp_difference", "eo_difference", "n_train"]
    real_table = collect(real, keys)[keys + metrics]
    synthetic_table = collect(synthetic, keys)[keys + metrics]
    table = real_table.merge(synthetic_table, on=keys, suffixes=("_real", "_synthetic"))
    if len(table) != len(real_table) or len(table) != len(synthetic_table):
        raise DataError("real and synthetic metrics do not cover the same classifiers and seeds")
    fidelity_table = pd.DataFrame.from_records([read_json(path) for path in fidelity]).drop(
        columns=["column_distances"], errors="ignore"
    )  # kept in each fidelity.json
    table = table.merge(fidelity_table, on=["dataset", "seed"], how="left", validate="many_to_one")
    if table["marginal_distance"].isna().any():
        raise DataError("a seed lacks its fidelity record")
    table["accuracy_gap"] = table["accuracy_real"] - table["accuracy_synthetic"]
    return table[UTILITY_COLUMNS + [c for c in table.columns if c not in UTILITY_COLUMNS]]
