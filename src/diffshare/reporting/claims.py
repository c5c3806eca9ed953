"""The paper's findings as claims with a statistic, an interval, a test and a verdict.

Each claim is tested over seeds (independent reruns of the whole pipeline; see
:mod:`diffshare.reporting.summary`), paired over seeds where both arms share a seed. A verdict is
``holds`` when the test rejects the opposite of the claim at ``level``, ``fails`` when the
one-sided test in the other direction rejects the claim, and ``inconclusive`` otherwise, and
always with fewer than two seeds: one seed is one draw of the pipeline, never evidence.

Claims (ids are stable; the scope columns say where each row applies):

- ``fpa_raises_dp_gap``: poisoning raises the receiver's demographic-parity difference
  (``fairness_loss > 0``), per attack, alpha and classifier.
- ``greedy_accuracy_loss_small``: greedy selection's accuracy loss is at most 0.05.
- ``greedy_cheaper_than_label_flip``: greedy selection costs less accuracy than label flipping
  at the same alpha (paired over seeds).
- ``greedy_keeps_mi_xy``: greedy selection keeps the subset's I(X;Y) within the tolerance of the
  pool's while label flipping does not (sign test on the seeds where that happens).
- ``pia_within_hoeffding``: estimates from ``n`` samples fall within Hoeffding's eps at least
  ``1 - delta`` of the time, per generator and raw attack (not ``calibrated``: Hoeffding's
  bound is for the raw estimates), at the largest query count.
- ``pia_calibrated_covers``: the ``calibrated`` attack's intervals (nominal ``1 - delta``) hold
  the true share at least ``1 - delta - 0.05`` of the time, per generator, at the largest query
  count; the unit is the seed (each seed has its own shadow models), with the intervals' mean
  width beside it (``interval_width``).
- ``diffusion_leaks_more``: property inference errs less on a diffusion model than on a
  non-diffusion generator, per attack (paired over seeds and ratios).

Multiplicity: the verdicts come from p-values adjusted (``p_adjusted``, ``p_adjusted_against``)
within each family, the rows of one claim id in one dataset's table, separately for the claim's
direction and its opposite's, by Holm's step-down method (``holm``, the family-wise error rate),
Benjamini-Hochberg (``bh``, the false discovery rate) or not at all (``none``). Rows with fewer
than two seeds are in no family (their adjusted p-values are empty; they stay inconclusive).
docs/claims.md argues the choice of family.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from diffshare.errors import ConfigError, DataError
from diffshare.reporting.summary import one_sided_t_test, t_interval

#: Columns of results/claims/{dataset}.csv, in order.
CLAIM_COLUMNS = [
    "claim",
    "description",
    "dataset",
    "attack",
    "alpha",
    "classifier",
    "generator",
    "baseline",
    "estimate",
    "ci_low",
    "ci_high",
    "interval_width",
    "test",
    "p_value",
    "p_value_against",
    "p_adjusted",
    "p_adjusted_against",
    "n_seeds",
    "verdict",
]
ACCURACY_BUDGET = 0.05
T_TEST = "one-sided t test over seeds"
#: The settings of ``claims.correction``: Holm's step-down method, Benjamini-Hochberg, none.
CORRECTIONS = ("holm", "bh", "none")
#: The attack whose estimates carry their own intervals (at nominal level ``1 - delta``).
CALIBRATED = "calibrated"
#: How far below the nominal ``1 - delta`` the calibrated intervals' coverage may be and the
#: claim ``pia_calibrated_covers`` still hold (0.90 at delta 0.05).
COVERAGE_TOLERANCE = 0.05


def verdict(n_seeds: int, p_holds: float, p_against: float, level: float) -> str:
    """``holds``, ``fails`` or ``inconclusive`` (always with fewer than two seeds)."""
    if n_seeds < 2:
        return "inconclusive"
    if p_holds < level:
        return "holds"
    if p_against < level:
        return "fails"
    return "inconclusive"


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error rate, any dependence): sorted
    ascending, the ``i``-th smallest (from 1) becomes ``max over j <= i of (m - j + 1) p_(j)``,
    at most 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate, for independent or positively
    dependent tests): sorted ascending, the ``i``-th smallest (from 1) becomes
    ``min over j >= i of m p_(j) / j``, at most 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def check_correction(correction: str) -> None:
    """:class:`ConfigError` naming ``correction`` unless it is one of :data:`CORRECTIONS`."""
    if correction not in CORRECTIONS:
        raise ConfigError(
            f"claims.correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}"
        )


def adjust(p_values: Sequence[float], correction: str) -> np.ndarray:
    """The p-values of one family adjusted by ``correction`` (see :data:`CORRECTIONS`); NaN
    entries stay NaN and are not counted in the family."""
    check_correction(correction)
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    method = {"holm": holm, "bh": benjamini_hochberg, "none": np.asarray}[correction]
    adjusted[finite] = method(p[finite])
    return adjusted


def correct(table: pd.DataFrame, level: float, correction: str) -> pd.DataFrame:
    """``table`` (columns ``claim``, ``p_value``, ``p_value_against``, ``n_seeds``; ``dataset``
    if several datasets) with ``p_adjusted``, ``p_adjusted_against`` and ``verdict`` (re)computed:
    each family, the rows of one claim id (and dataset) with at least two seeds, adjusted by
    ``correction`` in each direction separately; rows with fewer seeds get empty adjusted
    p-values and stay inconclusive. The raw p-values are kept."""
    check_correction(correction)
    needed = ["claim", "p_value", "p_value_against", "n_seeds"]
    missing = [column for column in needed if column not in table.columns]
    if missing:
        raise DataError(f"the claims to correct lack the columns {missing}")
    seeds = pd.to_numeric(table["n_seeds"], errors="coerce")
    if seeds.isna().any():
        bad = table.loc[seeds.isna(), "n_seeds"].tolist()
        raise DataError(f"the claims to correct have n_seeds that are not numbers: {bad}")
    table = table.reset_index(drop=True)
    table["p_adjusted"] = np.nan
    table["p_adjusted_against"] = np.nan
    keys = ["dataset", "claim"] if "dataset" in table.columns else ["claim"]
    tested = table[seeds.to_numpy() >= 2]
    for _, family in tested.groupby(keys, sort=False, dropna=False):
        for raw, adjusted in (("p_value", "p_adjusted"), ("p_value_against", "p_adjusted_against")):
            values = pd.to_numeric(family[raw]).to_numpy(dtype=np.float64)
            table.loc[family.index, adjusted] = adjust(values, correction)
    table["verdict"] = [
        verdict(int(n), p, against, level)
        for n, p, against in zip(
            table["n_seeds"], table["p_adjusted"], table["p_adjusted_against"], strict=True
        )
    ]
    return table


def _corrected(rows: list[dict[str, Any]], level: float, correction: str) -> list[dict[str, Any]]:
    """The rows with ``p_adjusted``, ``p_adjusted_against`` and ``verdict`` from :func:`correct`
    (families: the rows' claim ids)."""
    columns = ["claim", "p_value", "p_value_against", "n_seeds"]
    frame = correct(pd.DataFrame.from_records(rows, columns=columns), level, correction)
    added = frame[["p_adjusted", "p_adjusted_against", "verdict"]].to_dict("records")
    return [{**row, **extra} for row, extra in zip(rows, added, strict=True)]


def _t_row(values: Sequence[float], null: float, greater: bool, level: float) -> dict[str, Any]:
    """Statistic, t interval and one-sided p-values of the claim ``mean > null`` (``greater``)
    or ``mean < null``."""
    mean, _, low, high = t_interval(values, 1 - level)
    above, below = one_sided_t_test(values, null)
    p_holds, p_against = (above, below) if greater else (below, above)
    return {"estimate": mean, "ci_low": low, "ci_high": high, "p_value": p_holds,
            "p_value_against": p_against}  # fmt: skip


def _binomial_row(successes: int, trials: int, rate: float, level: float) -> dict[str, Any]:
    """Share of successes with its Clopper-Pearson interval, and the exact one-sided binomial
    p-values of the claim ``true share > rate`` and of its opposite."""
    if trials < 1:
        raise DataError("a binomial claim needs at least one trial")
    interval = stats.binomtest(successes, trials).proportion_ci(1 - level, method="exact")
    return {
        "estimate": successes / trials,
        "ci_low": interval.low,
        "ci_high": interval.high,
        "p_value": float(stats.binom.sf(successes - 1, trials, rate)),
        "p_value_against": float(stats.binom.cdf(successes, trials, rate)),
    }


def _finish(row: dict[str, Any], n_seeds: int) -> dict[str, Any]:
    """The row with its seed count (:func:`_corrected` gives the verdicts once the rows of every
    family are there)."""
    row["n_seeds"] = int(n_seeds)
    return row


def fpa_claims(
    table: pd.DataFrame,
    selections: Iterable[Mapping[str, Any]],
    level: float = 0.05,
    correction: str = "holm",
) -> list[dict[str, Any]]:
    """Claims 1 to 4 from a results/fpa table (one row per attack, alpha, seed, classifier) and
    the selection records of its subsets (``mi_xy_after``, ``mi_xy_target``,
    ``mi_xy_tolerance``); verdicts corrected by ``correction`` within each claim id."""
    check_correction(correction)
    rows: list[dict[str, Any]] = []
    poisoned = table[table["attack"] != "none"]
    for (attack, alpha, classifier), group in poisoned.groupby(["attack", "alpha", "classifier"]):
        scope = {"attack": attack, "alpha": alpha, "classifier": classifier}
        values = group.sort_values("seed")["fairness_loss"].to_numpy()
        row = {"claim": "fpa_raises_dp_gap", **scope, "test": f"{T_TEST}, fairness_loss > 0"}
        row["description"] = (
            f"{attack} at alpha {alpha:g} raises the {classifier} receiver's demographic-parity "
            "difference over the random subset's"
        )
        rows.append(_finish({**row, **_t_row(values, 0.0, True, level)}, len(values)))
        if attack != "mi_greedy":
            continue
        values = group.sort_values("seed")["accuracy_loss"].to_numpy()
        row = {"claim": "greedy_accuracy_loss_small", **scope}
        row["description"] = (
            f"greedy poisoning at alpha {alpha:g} costs the {classifier} receiver at most "
            f"{ACCURACY_BUDGET} accuracy"
        )
        row["test"] = f"{T_TEST}, accuracy_loss < {ACCURACY_BUDGET}"
        rows.append(_finish({**row, **_t_row(values, ACCURACY_BUDGET, False, level)}, len(values)))
        flip = table[
            (table["attack"] == "label_flip")
            & (table["alpha"] == alpha)
            & (table["classifier"] == classifier)
        ]
        paired = group.merge(flip, on="seed", suffixes=("", "_flip"))
        if len(paired):
            differences = (paired["accuracy_loss_flip"] - paired["accuracy_loss"]).to_numpy()
            row = {"claim": "greedy_cheaper_than_label_flip", **scope, "baseline": "label_flip"}
            row["description"] = (
                f"greedy poisoning at alpha {alpha:g} costs the {classifier} receiver less "
                "accuracy than label flipping"
            )
            row["test"] = f"{T_TEST}, paired: accuracy_loss(label_flip) - accuracy_loss > 0"
            t_row = _t_row(differences, 0.0, True, level)
            rows.append(_finish({**row, **t_row}, len(differences)))
    rows += _mi_xy_claims(list(selections), level)
    return _corrected(rows, level, correction)


def _mi_xy_claims(selections: list[Mapping[str, Any]], level: float) -> list[dict[str, Any]]:
    if not selections:
        return []
    records = pd.DataFrame.from_records(selections)
    needed = {"attack", "alpha", "seed", "mi_xy_after", "mi_xy_target", "mi_xy_tolerance"}
    if not needed <= set(records.columns):
        raise DataError(f"selection records lack {sorted(needed - set(records.columns))}")
    records["within"] = (records["mi_xy_after"] - records["mi_xy_target"]).abs() <= records[
        "mi_xy_tolerance"
    ]
    greedy = records[records["attack"] == "mi_greedy"]
    flip = records[records["attack"] == "label_flip"][["alpha", "seed", "within"]]
    rows = []
    for alpha, group in greedy.groupby("alpha"):
        paired = group.merge(flip, on=["alpha", "seed"], suffixes=("", "_flip"))
        if paired.empty:
            continue
        success = paired["within"] & ~paired["within_flip"]
        row = {
            "claim": "greedy_keeps_mi_xy",
            "attack": "mi_greedy",
            "alpha": alpha,
            "baseline": "label_flip",
            "description": (
                f"at alpha {alpha:g} greedy selection keeps the subset's I(X;Y) within the "
                "tolerance of the pool's while label flipping does not"
            ),
            "test": "exact one-sided sign test over seeds (share of seeds where it happens > 0.5)",
        }
        row.update(_binomial_row(int(success.sum()), len(success), 0.5, level))
        rows.append(_finish(row, len(success)))
    return rows


def pia_claims(
    table: pd.DataFrame,
    delta: float,
    level: float = 0.05,
    diffusion: Mapping[str, bool] | None = None,
    correction: str = "holm",
) -> list[dict[str, Any]]:
    """Claims 5 to 7 from a results/pia table (one row per generator, attack, true ratio,
    query count and seed), at its largest query count; verdicts corrected by ``correction``
    within each claim id. ``diffusion``: whether each generator family is a diffusion model (the
    registry's :attr:`~diffshare.generators.Family.diffusion`, plugins included); every
    diffusion family is compared with every other family of the table, in the table's order.
    Rows of the ``calibrated`` attack need the columns ``coverage`` and ``interval_width``."""
    check_correction(correction)
    if diffusion is None:
        from diffshare.generators import FAMILIES

        diffusion = {name: family.diffusion for name, family in FAMILIES.items()}
    generators = list(dict.fromkeys(table["generator"]))
    unknown = [g for g in generators if g not in diffusion]
    if unknown:
        raise DataError(
            f"the PIA table's generators {unknown} are not registered families; say whether "
            "each is a diffusion model"
        )
    n = int(table["n_queries"].max())
    largest = table[table["n_queries"] == n]
    rows: list[dict[str, Any]] = []
    raw = largest[largest["attack"] != CALIBRATED]
    for (generator, attack), group in raw.groupby(["generator", "attack"]):
        within = int(round(float((group["within_bound_rate"] * group["repeats"]).sum())))
        trials = int(group["repeats"].sum())
        row = {
            "claim": "pia_within_hoeffding",
            "attack": attack,
            "generator": generator,
            "description": (
                f"{attack} estimates from {n} samples of {generator} fall within Hoeffding's eps "
                f"more often than 1 - delta = {1 - delta:g}"
            ),
            "test": "exact one-sided binomial test over all repeats of all seeds and ratios",
        }
        row.update(_binomial_row(within, trials, 1 - delta, level))
        rows.append(_finish(row, group["seed"].nunique()))
    rows += _coverage_claims(largest[largest["attack"] == CALIBRATED], n, delta, level)
    for attack, group in largest.groupby("attack"):
        errors = group.pivot_table(
            index=["seed", "true_ratio"], columns="generator", values="abs_error"
        )
        for model in [g for g in generators if diffusion[g] and g in errors.columns]:
            for other in [g for g in generators if not diffusion[g] and g in errors.columns]:
                pairs = errors[[model, other]].dropna()
                differences = (pairs[other] - pairs[model]).to_numpy()
                if differences.size == 0:
                    continue
                row = {
                    "claim": "diffusion_leaks_more",
                    "attack": attack,
                    "generator": model,
                    "baseline": other,
                    "description": (
                        f"the {attack} estimate from {n} samples errs less on {model} "
                        f"(diffusion) than on {other}"
                    ),
                    "test": "one-sided t test, paired over seeds and ratios: "
                    f"abs_error({other}) - abs_error({model}) > 0",
                }
                row.update(_t_row(differences, 0.0, True, level))
                n_seeds = pairs.index.get_level_values("seed").nunique()
                rows.append(_finish(row, n_seeds))
    return _corrected(rows, level, correction)


def _coverage_claims(
    calibrated: pd.DataFrame, n: int, delta: float, level: float
) -> list[dict[str, Any]]:
    """``pia_calibrated_covers`` per generator from the ``calibrated`` rows at ``n`` queries.

    The seed is the unit: a seed's intervals share its shadow models, so they are not
    independent. Per seed, the coverage is the mean ``coverage`` over its rows (true ratios);
    the claim holds when their mean over seeds is significantly above ``1 - delta -``
    :data:`COVERAGE_TOLERANCE` and fails when it is significantly below the nominal
    ``1 - delta`` (one-sided t tests over seeds; seeds that all agree give the test's limits,
    p of 0 or 1, see :func:`~diffshare.reporting.summary.one_sided_t_test`)."""
    if calibrated.empty:
        return []
    missing = [c for c in ("coverage", "interval_width") if c not in calibrated.columns]
    if missing:
        raise DataError(f"the PIA table's {CALIBRATED} rows lack the columns {missing}")
    nominal = round(1 - delta, 12)  # 1 - 0.05 - 0.05 is 0.8999999999999999 in floats
    least = round(nominal - COVERAGE_TOLERANCE, 12)
    rows = []
    for generator, group in calibrated.groupby("generator"):
        values = group[["coverage", "interval_width"]].to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(
                f"the {CALIBRATED} rows of {generator} at {n} queries have a coverage or "
                f"interval_width that is not a finite number: {values.tolist()}"
            )
        per_seed = group.groupby("seed")[["coverage", "interval_width"]].mean()
        coverage = per_seed["coverage"].to_numpy()
        mean, _, low, high = t_interval(coverage, 1 - level)
        row = {
            "claim": "pia_calibrated_covers",
            "attack": CALIBRATED,
            "generator": generator,
            "description": (
                f"calibrated intervals (nominal {nominal:g}) from {n} samples of {generator} "
                f"hold the true share at least {least:g} of the time"
            ),
            "test": (
                f"{T_TEST} of each seed's coverage (mean over ratios), > {least:g}; against: "
                f"< {nominal:g}"
            ),
            "estimate": mean,
            "ci_low": low,
            "ci_high": high,
            "interval_width": float(per_seed["interval_width"].mean()),
            "p_value": one_sided_t_test(coverage, least)[0],
            "p_value_against": one_sided_t_test(coverage, nominal)[1],
        }
        rows.append(_finish(row, len(coverage)))
    return rows


def claims_table(
    rows: Iterable[Mapping[str, Any]],
    dataset: str,
    level: float = 0.05,
    correction: str = "holm",
) -> pd.DataFrame:
    """results/claims/{dataset}.csv: the rows with the columns of :data:`CLAIM_COLUMNS` (scope
    columns and ``interval_width`` empty where a claim has none), the verdicts corrected by
    ``correction`` within each claim id of the whole table (see :func:`correct`)."""
    table = pd.DataFrame.from_records(list(rows), columns=CLAIM_COLUMNS)
    table["dataset"] = dataset
    bad = table[["estimate"]].isna().any(axis=1)
    if bad.any():
        raise DataError(f"claims without an estimate: {table.loc[bad, 'claim'].tolist()}")
    return correct(table, level, correction)[CLAIM_COLUMNS]
