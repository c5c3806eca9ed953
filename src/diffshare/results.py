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
