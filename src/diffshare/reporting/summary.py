"""How sure a finding is: means and 95% confidence intervals over seeds, and the paired tests the
claims report uses.

A seed reruns every stochastic step of the pipeline (subset draw, MINE, the shared model's
training and sampling, the receivers), so the seeds of a sweep are independent replicates of the
whole experiment; repeats inside one seed (the PIA query batches) share one model and measure only
the sampling noise of the estimate. The intervals here are therefore over seeds: Student's t
interval of the mean, ``mean +- t(0.975, n - 1) * sd / sqrt(n)``. With 3 to 10 seeds a bootstrap
over seeds has too few distinct resamples to cover well (it is too narrow), while the t interval
is exact for normal errors and close for the means of bounded metrics like these. With one seed
there is no interval: its bounds are empty (NaN), never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from diffshare.errors import DataError

#: Statistics written for each summarised metric, as ``<metric>_<statistic>``.
STATISTICS = ("mean", "std", "ci_low", "ci_high")


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """``(mean, std, ci_low, ci_high)`` of ``values`` (one per seed): the sample standard deviation
    (ddof 1) and Student's t interval of the mean at ``level``; std and bounds are NaN with fewer
    than two values. Raises :class:`DataError` on an empty or non-finite input."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise DataError("no values to summarise")
    if not np.isfinite(x).all():
        raise DataError(f"values to summarise must be finite, got {x.tolist()}")
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1)) * std / math.sqrt(x.size)
    return mean, std, mean - half, mean + half


def one_sided_t_test(values: Sequence[float], null: float = 0.0) -> tuple[float, float]:
    """p-values of the one-sample t test of ``mean(values) = null`` against ``mean > null`` and
    against ``mean < null``; NaN with fewer than two values. A sample with no spread (up to
    rounding) gives 0 or 1, or 0.5 when it equals ``null``: the t statistic is then infinite or
    undefined."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return math.nan, math.nan
    if np.ptp(x) <= 1e-12 * max(1.0, float(np.abs(x).max())):  # no spread, up to rounding
        if abs(x[0] - null) <= 1e-12 * max(1.0, abs(null)):
            return 0.5, 0.5
        return (0.0, 1.0) if x[0] > null else (1.0, 0.0)
    greater = float(stats.ttest_1samp(x, null, alternative="greater").pvalue)
    return greater, 1.0 - greater


def summarise(
    table: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str], level: float = 0.95
) -> pd.DataFrame:
    """One row per combination of ``keys`` with ``n_seeds`` and, for every metric, its mean,
    standard deviation and t interval over the rows of that combination (one row per seed: the
    caller averages anything finer first). Columns ``<metric>_mean``, ``<metric>_std``,
    ``<metric>_ci_low``, ``<metric>_ci_high``."""
    missing = [c for c in [*keys, "seed", *metrics] if c not in table.columns]
    if missing:
        raise DataError(f"the table to summarise lacks the columns {missing}")
    duplicated = table.duplicated([*keys, "seed"])
    if duplicated.any():
        first = table.loc[duplicated, [*keys, "seed"]].iloc[0].to_dict()
        raise DataError(f"more than one row per seed to summarise, e.g. {first}")
    rows = []
    for group, frame in table.groupby(list(keys), sort=True):
        row = dict(zip(keys, group if isinstance(group, tuple) else (group,), strict=True))
        row["n_seeds"] = int(frame["seed"].nunique())
        for metric in metrics:
            values = t_interval(frame[metric].to_numpy(), level)
            row.update({f"{metric}_{s}": v for s, v in zip(STATISTICS, values, strict=True)})
        rows.append(row)
    return pd.DataFrame.from_records(rows)


FPA_KEYS = ["dataset", "attack", "alpha", "classifier"]
FPA_METRICS = ["accuracy_loss", "fairness_loss", "accuracy", "dp_difference", "eo_difference"]
PIA_KEYS = ["dataset", "generator", "attack", "true_ratio", "n_queries"]


def fpa_summary(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """results/fpa/{dataset}_summary.csv: per attack, alpha and classifier, ``n_seeds`` and the
    mean, std and interval of each FPA metric over seeds."""
    return summarise(table, FPA_KEYS, FPA_METRICS, level)


def pia_summary(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """results/pia/{dataset}_summary.csv: per generator, attack, true ratio and query count,
    ``n_seeds``, the mean, std and interval of ``abs_error`` over seeds, and pooled over all
    repeats of all seeds the ``within_bound_rate`` (the share within Hoeffding's eps), the
    ``coverage`` (the share whose interval holds the true ratio) and ``interval_width``."""
    summary = summarise(table, PIA_KEYS, ["abs_error"], level)
    rates = [c for c in ("within_bound_rate", "coverage", "interval_width") if c in table]
    weighted = table.assign(**{f"_{c}": table[c] * table["repeats"] for c in rates})
    pooled = weighted.groupby(PIA_KEYS, sort=True)[[f"_{c}" for c in rates] + ["repeats"]].sum()
    for column in rates:
        pooled[column] = pooled[f"_{column}"] / pooled["repeats"]
    return summary.merge(pooled[rates].reset_index(), on=PIA_KEYS, how="left")
