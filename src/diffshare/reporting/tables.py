"""Result tables: one metrics record per trained classifier, collected into CSV tables."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from diffshare.attacks.pia.bounds import hoeffding_eps
from diffshare.errors import DataError
from diffshare.storage import read_json, write_json, write_parquet

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


def write_receiver(
    predictions: pd.DataFrame,
    identity: Mapping[str, Any],
    metrics: Mapping[str, Any],
    n_train: int,
    output: Any,
) -> dict[str, Any]:
    """Write a receiver's test predictions to ``output.predictions`` (Parquet) and its metrics
    record (:func:`metrics_record`) to ``output.metrics`` (JSON), as a receiver's job does
    (``output`` is its Snakemake outputs); return the record."""
    record = metrics_record(identity, metrics, n_train=n_train)
    write_parquet(predictions, output.predictions)
    write_json(record, output.metrics)
    return record


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


#: Leading columns of results/fpa/{dataset}.csv, in order.
FPA_COLUMNS = [
    "dataset",
    "attack",
    "alpha",
    "seed",
    "classifier",
    "accuracy",
    "dp_difference",
    "eo_difference",
    "accuracy_loss",
    "fairness_loss",
    "mi_sy",
    "mi_xy",
]


def fpa_table(
    metrics: Iterable[Mapping[str, Any]], selections: Iterable[Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per attack, alpha, seed and classifier; losses relative to the ``none`` row of the
    same seed and classifier: ``accuracy_loss`` = accuracy(none) - accuracy, ``fairness_loss`` =
    dp_difference - dp_difference(none). ``mi_sy`` and ``mi_xy`` are the subset's, in nats."""
    table = pd.DataFrame.from_records(list(metrics))
    # The attack and alpha are path segments of the training source: synthetic/attack~X/alpha~A.
    segments = (
        table["source"].str.split("/").map(lambda parts: dict(p.split("~", 1) for p in parts[1:]))
    )
    table["attack"] = segments.map(lambda fields: fields["attack"])
    table["alpha"] = segments.map(lambda fields: float(fields["alpha"]))
    chosen = pd.DataFrame.from_records(list(selections))
    chosen = chosen.rename(columns={"mi_sy_after": "mi_sy", "mi_xy_after": "mi_xy"})
    keys = ["attack", "alpha", "seed"]
    table = table.merge(
        chosen[keys + ["mi_sy", "mi_xy", "flipped"]], on=keys, how="left", validate="many_to_one"
    )
    table = add_losses(table, table[table["attack"] == "none"], "'none' row")
    table = table[FPA_COLUMNS + [c for c in table.columns if c not in FPA_COLUMNS]]
    return table.sort_values(["attack", "classifier", "seed", "alpha"], kind="stable").reset_index(
        drop=True
    )


def add_losses(table: pd.DataFrame, reference: pd.DataFrame, what: str) -> pd.DataFrame:
    """``table`` with ``accuracy_loss`` (the reference's accuracy minus the row's) and
    ``fairness_loss`` (the row's dp_difference minus the reference's), each row against the row
    of ``reference`` (the receiver on the unpoisoned model) with its seed and classifier.
    ``what`` names a reference row in errors: none for a seed and classifier, or two."""
    reference = reference.set_index(["seed", "classifier"])
    if reference.index.has_duplicates:
        raise DataError(f"more than one {what} per seed and classifier")
    index = pd.MultiIndex.from_frame(table[["seed", "classifier"]])
    missing = ~index.isin(reference.index)
    if missing.any():
        raise DataError(f"no {what} for {sorted(set(index[missing]))}")
    table["accuracy_loss"] = reference["accuracy"].reindex(index).to_numpy() - table["accuracy"]
    table["fairness_loss"] = (
        table["dp_difference"] - reference["dp_difference"].reindex(index).to_numpy()
    )
    return table


#: Leading columns of results/pia/{dataset}.csv, in order.
PIA_COLUMNS = [
    "dataset",
    "generator",
    "attack",
    "true_ratio",
    "n_queries",
    "seed",
    "estimate_mean",
    "estimate_std",
    "abs_error",
    "hoeffding_eps",
    "within_bound_rate",
    "coverage",
    "interval_width",
]


def pia_table(estimates: pd.DataFrame, delta: float = 0.05) -> pd.DataFrame:
    """Aggregate per-repeat estimates (columns ``dataset, generator, attack, true_ratio,
    n_queries, seed, repeat, estimate``) into one row per generator, attack, true ratio, query
    count and seed, with the columns of :data:`PIA_COLUMNS`.

    Each estimate's interval is its own ``lower`` and ``upper`` where it has them (the
    ``calibrated`` attack's prediction interval), else Hoeffding's ``estimate +/- eps``:
    ``coverage`` is the share of the repeats whose interval holds ``true_ratio`` and
    ``interval_width`` their mean width (for the raw attacks ``within_bound_rate`` and ``2 eps``).
    """
    required = [c for c in PIA_COLUMNS[:6] if c not in estimates.columns]
    if required or "estimate" not in estimates.columns:
        raise DataError(f"estimates lack the columns {required or ['estimate']}")
    if not np.isfinite(estimates["estimate"]).all():
        raise DataError("an estimate is not a finite number")
    frame = estimates.assign(error=(estimates["estimate"] - estimates["true_ratio"]).abs())
    frame["eps"] = frame["n_queries"].map(lambda n: hoeffding_eps(n, delta))
    frame["within"] = frame["error"] <= frame["eps"]
    for column, sign in (("lower", -1.0), ("upper", 1.0)):
        hoeffding = frame["estimate"] + sign * frame["eps"]
        frame[column] = frame[column].fillna(hoeffding) if column in frame else hoeffding
    frame["covered"] = (frame["lower"] <= frame["true_ratio"]) & (
        frame["true_ratio"] <= frame["upper"]
    )
    frame["width"] = frame["upper"] - frame["lower"]
    keys = PIA_COLUMNS[:6]
    table = frame.groupby(keys, as_index=False, sort=True).agg(
        estimate_mean=("estimate", "mean"),
        estimate_std=("estimate", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0),
        abs_error=("error", "mean"),
        hoeffding_eps=("eps", "first"),
        within_bound_rate=("within", "mean"),
        coverage=("covered", "mean"),
        interval_width=("width", "mean"),
        repeats=("estimate", "size"),
    )
    return table[PIA_COLUMNS + ["repeats"]]


def generator_comparison(table: pd.DataFrame, reference: str = "tabddpm") -> pd.DataFrame:
    """Mean ``abs_error`` at the largest query count per attack and true ratio (averaged over
    seeds), one column per generator, and ``<reference>_best``: whether ``reference`` has the
    smallest error of all generators there."""
    n = int(table["n_queries"].max())
    rows = table[table["n_queries"] == n]
    pivot = rows.pivot_table(
        index=["attack", "true_ratio"], columns="generator", values="abs_error", aggfunc="mean"
    )
    if reference in pivot.columns and len(pivot.columns) > 1:
        others = pivot.drop(columns=[reference])
        pivot[f"{reference}_best"] = pivot[reference] < others.min(axis=1)
    pivot.columns.name = None
    return pivot.reset_index()
