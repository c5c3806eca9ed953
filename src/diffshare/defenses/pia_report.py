"""The tables of the sharer's defenses against property inference: the attacker's error per
defense (:func:`defense_table`) and the slope of its estimate against the true share
(:func:`leakage_table`; 1: read perfectly, 0: no information), with intervals over seeds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from diffshare.defenses.pia import DEFENSES, NONE, UTILITY_CLASSIFIERS
from diffshare.errors import DataError
from diffshare.reporting.summary import t_interval

#: The privacy budget of a dp_sgd row (empty for the other defenses), from its privacy.json:
#: the total epsilon at delta, and its split between the Laplace-noised preprocessing (quantiles,
#: label counts) and DP-SGD.
PRIVACY_COLUMNS = ["epsilon", "delta", "epsilon_preprocessing", "epsilon_training"]
#: Columns of results/defense/pia/{dataset}.csv.
DEFENSE_COLUMNS = [
    "defense",
    "setting",
    "generator",
    "attack",
    "true_ratio",
    "n_queries",
    "seed",
    "estimate_mean",
    "abs_error",
    "accuracy_logreg",
    "accuracy_hgb",
    "accuracy_gap_logreg",
    "accuracy_gap_hgb",
    *PRIVACY_COLUMNS,
    "skipped",
]
#: Columns of results/defense/pia/{dataset}_leakage.csv.
LEAKAGE_COLUMNS = [
    "defense",
    "setting",
    "generator",
    "attack",
    "n_queries",
    "n_seeds",
    "slope",
    "slope_ci_low",
    "slope_ci_high",
    "accuracy_gap_logreg",
    *PRIVACY_COLUMNS,
    "skipped",
]


def with_skipped(
    table: pd.DataFrame, skipped: Sequence[Sequence[str]], columns: Sequence[str]
) -> pd.DataFrame:
    """``table`` (a :func:`defense_table` or :func:`leakage_table`, whose ``skipped`` is empty)
    followed by one row per defense left out for a family: ``skipped`` as ``[defense, setting,
    generator, reason]``, the reason in column ``skipped`` and no figures, so that a reader sees
    what was not run, and why."""
    rows = pd.DataFrame(
        [
            {"defense": d, "setting": s, "generator": g, "skipped": reason}
            for d, s, g, reason in skipped
        ],
        columns=list(columns),
    )
    return pd.concat([table, rows], ignore_index=True) if len(rows) else table


def leakage_slope(true_ratio: Sequence[float], estimate: Sequence[float]) -> float:
    """Least-squares slope of the attacker's estimates against the true shares (one point per
    ratio): 1 when the estimate follows the share, 0 when it says nothing about it. Raises
    :class:`DataError` with fewer than two distinct shares or a non-finite value."""
    x = np.asarray(true_ratio, dtype=np.float64)
    y = np.asarray(estimate, dtype=np.float64)
    if x.shape != y.shape or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError(f"slope needs finite pairs of equal length, got {x.tolist()}, {y.tolist()}")
    if np.unique(x).size < 2:
        raise DataError(f"slope needs at least two distinct true ratios, got {x.tolist()}")
    centred = x - x.mean()
    return float((centred * (y - y.mean())).sum() / (centred**2).sum())


def defense_table(
    estimates: pd.DataFrame, utility: pd.DataFrame, privacy: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per defense, setting, generator, attack, true ratio, query count and seed
    (:data:`DEFENSE_COLUMNS`).

    ``estimates``: per-repeat rows with ``defense, setting, generator, attack, true_ratio,
    n_queries, seed, estimate``; ``utility``: one row per ``defense, setting, generator,
    true_ratio, seed`` with ``accuracy_logreg, accuracy_hgb``, including the undefended ``none``
    rows, against which the gaps (undefended minus defended) are taken; ``privacy``: one row per
    dp_sgd run with the same keys and :data:`PRIVACY_COLUMNS` (every dp_sgd row needs one when
    given; without it those columns are empty)."""
    keys = ["defense", "setting", "generator", "true_ratio", "seed"]
    needed = [*keys, "attack", "n_queries", "estimate"]
    missing = [c for c in needed if c not in estimates.columns]
    missing += [c for c in [*keys, "accuracy_logreg", "accuracy_hgb"] if c not in utility.columns]
    if missing:
        raise DataError(f"defense tables lack the columns {missing}")
    if not np.isfinite(estimates["estimate"]).all():
        raise DataError("an estimate is not a finite number")
    frame = estimates.assign(error=(estimates["estimate"] - estimates["true_ratio"]).abs())
    table = frame.groupby([*keys, "attack", "n_queries"], as_index=False, sort=True).agg(
        estimate_mean=("estimate", "mean"), abs_error=("error", "mean")
    )
    if utility.duplicated(keys).any():
        raise DataError("more than one utility row per defense, setting, generator, ratio, seed")
    table = table.merge(utility[[*keys, "accuracy_logreg", "accuracy_hgb"]], on=keys, how="left")
    if table[["accuracy_logreg", "accuracy_hgb"]].isna().any().any():
        first = table.loc[table["accuracy_logreg"].isna(), keys].iloc[0].to_dict()
        raise DataError(f"no utility for {first}")
    reference = utility[utility["defense"] == NONE][
        ["generator", "true_ratio", "seed", "accuracy_logreg", "accuracy_hgb"]
    ]
    table = table.merge(
        reference, on=["generator", "true_ratio", "seed"], how="left", suffixes=("", "_none")
    )
    for name in UTILITY_CLASSIFIERS:
        if table[f"accuracy_{name}_none"].isna().any():
            first = table.loc[table[f"accuracy_{name}_none"].isna(), keys].iloc[0].to_dict()
            raise DataError(f"no undefended (none) utility to compare {first} with")
        table[f"accuracy_gap_{name}"] = table[f"accuracy_{name}_none"] - table[f"accuracy_{name}"]
    table = _with_privacy(table, privacy, keys)
    order = {name: i for i, name in enumerate([NONE, *DEFENSES])}
    table = table.sort_values(
        ["defense", "setting", "generator", "attack", "n_queries", "true_ratio", "seed"],
        key=lambda c: c.map(order) if c.name == "defense" else c,
        kind="stable",
    )
    return table.assign(skipped="")[DEFENSE_COLUMNS].reset_index(drop=True)


def _with_privacy(
    table: pd.DataFrame, privacy: pd.DataFrame | None, keys: list[str]
) -> pd.DataFrame:
    """``table`` with :data:`PRIVACY_COLUMNS` from ``privacy`` by ``keys`` (empty without it);
    :class:`DataError` naming the first dp_sgd run that has no privacy record, or two."""
    if privacy is None:
        return table.assign(**{column: np.nan for column in PRIVACY_COLUMNS})
    missing = [c for c in [*keys, *PRIVACY_COLUMNS] if c not in privacy.columns]
    if missing:
        raise DataError(f"privacy records lack the columns {missing}")
    if privacy.duplicated(keys).any():
        raise DataError("more than one privacy record per defense, setting, generator, ratio, seed")
    table = table.merge(privacy[[*keys, *PRIVACY_COLUMNS]], on=keys, how="left")
    lacking = (table["defense"] == "dp_sgd") & table["epsilon"].isna()
    if lacking.any():
        raise DataError(f"no privacy record for {table.loc[lacking, keys].iloc[0].to_dict()}")
    return table


def leakage_table(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per defense, setting, generator, attack and query count of a :func:`defense_table`: the
    mean over seeds of each seed's :func:`leakage_slope` over the ratios, its t interval
    (:func:`~diffshare.reporting.summary.t_interval`; empty with one seed), the mean
    ``accuracy_gap_logreg`` and the mean of each of :data:`PRIVACY_COLUMNS` (the same over a
    dp_sgd setting's runs; empty for the other defenses) (:data:`LEAKAGE_COLUMNS`)."""
    keys = ["defense", "setting", "generator", "attack", "n_queries"]
    rows = []
    for group, frame in table.groupby(keys, sort=False):
        slopes = [
            leakage_slope(seed_rows["true_ratio"], seed_rows["estimate_mean"])
            for _, seed_rows in frame.groupby("seed", sort=True)
        ]
        mean, _, low, high = t_interval(slopes, level)
        rows.append(
            {
                **dict(zip(keys, group, strict=True)),
                "n_seeds": len(slopes),
                "slope": mean,
                "slope_ci_low": low,
                "slope_ci_high": high,
                "accuracy_gap_logreg": float(frame["accuracy_gap_logreg"].mean()),
                **{
                    column: float(frame[column].mean()) if column in frame else np.nan
                    for column in PRIVACY_COLUMNS
                },
            }
        )
    return pd.DataFrame(rows, columns=LEAKAGE_COLUMNS[:-1]).assign(skipped="")
