"""The fairness poisoning attack as workflow stages: MINE on the pool, subset selection, results.

Stage functions take and return tables; the workflow moves them between files:
:func:`mine_row_terms` (pool -> per-row network values), :func:`select` (pool -> the sharer's
subset and its record), :func:`fpa_table` (metrics records -> results/fpa/{dataset}.csv) and
:func:`plot_fpa` (that table -> figure).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from diffshare.datasets import TableSchema
from diffshare.errors import ConfigError, DataError
from diffshare.mutual_information import (
    DonskerVaradhanSums,
    MineEstimator,
    discrete_mutual_information,
)
from diffshare.poisoning import Selection, greedy_mutual_information, label_flip, random_subset

ATTACKS = ("none", "label_flip", "mi_greedy")

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


def encode_features(
    table: pd.DataFrame, schema: TableSchema, include_sensitive: bool
) -> np.ndarray:
    """X for MINE: one-hot categorical and standardised numeric features, (n_rows, d) float32."""
    features = schema.feature_columns(include_sensitive)
    encoder = ColumnTransformer(
        [
            (
                "categorical",
                OneHotEncoder(sparse_output=False),
                [c for c in schema.categorical if c in features],
            ),
            ("numeric", StandardScaler(), [c for c in schema.numeric if c in features]),
        ]
    )
    return encoder.fit_transform(table).astype(np.float32)


def mine_row_terms(
    pool: pd.DataFrame, schema: TableSchema, *, include_sensitive: bool, seed: int, **mine: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Train MINE once on the pool; return per-row T(x, 0) and T(x, 1) (columns ``t0``, ``t1``,
    index ``row_id``) and a record with the pool's I(X;Y) and I(S;Y) in nats."""
    x = encode_features(pool, schema, include_sensitive)
    terms, record = mine_terms(
        x, schema.labels(pool), schema.groups(pool), pool.index, seed=seed, **mine
    )
    return terms, {**record, "include_sensitive": include_sensitive}


def mine_terms(
    x: np.ndarray, y: np.ndarray, s: np.ndarray, index: pd.Index, *, seed: int, **mine: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """MINE on features ``x`` (n, d) and binary labels ``y``: per-row ``t0``, ``t1`` indexed by
    ``index`` and a record with I(X;Y) and I(S;Y) of the pool in nats (any kind of data)."""
    start = time.perf_counter()
    y = np.asarray(y).astype(np.int64)
    estimator = MineEstimator(seed=seed, **mine).fit(x, y)
    _, e0, e1 = estimator.row_terms(x, y)
    terms = pd.DataFrame({"t0": np.log(e0), "t1": np.log(e1)}, index=index)
    record = {
        "mi_xy_pool": mi_xy_of(terms, y),
        "mi_sy_pool": discrete_mutual_information(s, y),
        "n_pool": int(len(x)),
        "n_features": int(x.shape[1]),
        "seconds": time.perf_counter() - start,
    }
    return terms, record


def mi_xy_of(terms: pd.DataFrame, labels: np.ndarray) -> float:
    """The DV bound of rows ``terms`` (t0, t1) carrying ``labels``, in nats."""
    t0, t1 = terms["t0"].to_numpy(), terms["t1"].to_numpy()
    labels = np.asarray(labels, dtype=np.int64)
    return DonskerVaradhanSums.of(
        np.where(labels == 1, t1, t0), np.exp(t0), np.exp(t1), labels
    ).value()


def select_rows(
    attack: str,
    s: np.ndarray,
    y: np.ndarray,
    terms: pd.DataFrame,
    *,
    subset_size: int,
    alpha: float,
    seed: int,
    tolerance: float,
    candidates_per_cell: int | None = None,
) -> tuple[Selection, dict[str, Any]]:
    """The sharer's subset of a pool given as sensitive groups ``s``, labels ``y`` (both 0/1)
    and MINE row ``terms`` (t0, t1), for ``attack``: the selection (pool positions and their,
    possibly flipped, labels) and a record of I(S;Y) and I(X;Y) before and after (nats), the
    target and tolerance (``tolerance`` is a fraction of the pool's |I(X;Y)|: a bound that MINE
    estimates slightly below zero still leaves a usable tolerance) and the seconds."""
    if attack not in ATTACKS:
        raise ConfigError(f"unknown attack {attack!r}; choose one of {list(ATTACKS)}")
    if attack == "none" and alpha != 0:
        raise ConfigError(f"attack 'none' is stored with alpha 0, got alpha {alpha}")
    s, y = np.asarray(s, dtype=np.int64), np.asarray(y, dtype=np.int64)
    if len(terms) != len(y):
        raise DataError(f"MINE row terms hold {len(terms)} rows for a pool of {len(y)}")
    target = mi_xy_of(terms, y)
    start = time.perf_counter()
    selection: Selection
    if attack == "none":
        selection = random_subset(s, y, subset_size, seed)
    elif attack == "label_flip":
        selection = label_flip(s, y, subset_size, alpha, seed)
    else:
        t0, t1 = terms["t0"].to_numpy(), terms["t1"].to_numpy()
        selection = greedy_mutual_information(
            s,
            y,
            (np.where(y == 1, t1, t0), np.exp(t0), np.exp(t1)),
            subset_size,
            alpha,
            tolerance=tolerance * abs(target),
            target=target,
            seed=seed,
            candidates_per_cell=candidates_per_cell,
        )
    seconds = time.perf_counter() - start
    flipped = selection.labels != y[selection.rows]
    record = {
        "attack": attack,
        "alpha": alpha,
        "seed": seed,
        "subset_size": subset_size,
        "mi_sy_before": discrete_mutual_information(s, y),
        "mi_sy_after": discrete_mutual_information(s[selection.rows], selection.labels),
        "mi_xy_before": target,
        "mi_xy_after": mi_xy_of(terms.iloc[selection.rows], selection.labels),
        "mi_xy_target": target,
        "mi_xy_tolerance": tolerance * abs(target),
        "flipped": int(flipped.sum()),
        "seconds": seconds,
        **{k: v for k, v in selection.info.items() if k not in ("seconds", "mi_xy", "flipped")},
    }
    return selection, record


def select(
    attack: str,
    pool: pd.DataFrame,
    schema: TableSchema,
    terms: pd.DataFrame,
    **settings: Any,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The sharer's subset of a tabular ``pool`` for ``attack`` (``settings``: those of
    :func:`select_rows`).

    Returns ``(rows, table, record)``: the chosen ``row_id`` values with their (possibly flipped)
    labels, the subset as a training table, and the record of :func:`select_rows`.
    """
    if not terms.index.equals(pool.index):
        raise DataError("MINE row terms do not belong to this pool (row ids differ)")
    y = schema.labels(pool).astype(np.int64)
    selection, record = select_rows(attack, schema.groups(pool), y, terms, **settings)
    chosen = pool.iloc[selection.rows]
    categories = list(chosen[schema.label].cat.categories)
    negative = next(c for c in categories if c != schema.positive)
    labels = pd.Categorical(
        np.where(selection.labels == 1, schema.positive, negative), categories=categories
    )
    table = chosen.copy()
    table[schema.label] = labels
    rows = pd.DataFrame(
        {schema.label: labels, "flipped": selection.labels != y[selection.rows]}, index=chosen.index
    )
    return rows, table, record


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
    reference = table[table["attack"] == "none"].set_index(["seed", "classifier"])
    if reference.index.has_duplicates:
        raise DataError("more than one 'none' row per seed and classifier")
    index = pd.MultiIndex.from_frame(table[["seed", "classifier"]])
    missing = ~index.isin(reference.index)
    if missing.any():
        raise DataError(f"no 'none' reference for {sorted(set(index[missing]))}")
    table["accuracy_loss"] = reference["accuracy"].reindex(index).to_numpy() - table["accuracy"]
    table["fairness_loss"] = (
        table["dp_difference"] - reference["dp_difference"].reindex(index).to_numpy()
    )
    table = table[FPA_COLUMNS + [c for c in table.columns if c not in FPA_COLUMNS]]
    return table.sort_values(["attack", "classifier", "seed", "alpha"], kind="stable").reset_index(
        drop=True
    )


def plot_fpa(table: pd.DataFrame, path: str) -> None:
    """Accuracy loss and fairness loss against alpha, one line per attack and classifier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from diffshare.io import atomic_path

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    attacks = table[table["attack"] != "none"]
    mean = attacks.groupby(["attack", "classifier", "alpha"], as_index=False)[
        ["accuracy_loss", "fairness_loss"]
    ].mean()
    for (attack, classifier), group in mean.groupby(["attack", "classifier"]):
        style = "-o" if attack == "mi_greedy" else "--s"
        for axis, column in zip(axes, ["accuracy_loss", "fairness_loss"], strict=True):
            axis.plot(group["alpha"], group[column], style, label=f"{attack}, {classifier}")
    for axis, title in zip(
        axes, ["Accuracy loss", "Fairness loss (DP difference gain)"], strict=True
    ):
        axis.axhline(0.0, color="grey", linewidth=0.8)
        axis.set_xlabel("poisoning ratio alpha")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    dataset = table["dataset"].iloc[0] if len(table) else ""
    figure.suptitle(f"Fairness poisoning on {dataset}: receiver classifiers trained on samples")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
