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
  ``1 - delta`` of the time, per generator and attack, at the largest query count.
- ``diffusion_leaks_more``: property inference errs less on a diffusion model than on a
  non-diffusion generator, per attack (paired over seeds and ratios).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from scipy import stats

from diffshare.errors import DataError
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
    "test",
    "p_value",
    "p_value_against",
    "n_seeds",
    "verdict",
]
ACCURACY_BUDGET = 0.05
T_TEST = "one-sided t test over seeds"


def verdict(n_seeds: int, p_holds: float, p_against: float, level: float) -> str:
    """``holds``, ``fails`` or ``inconclusive`` (always with fewer than two seeds)."""
    if n_seeds < 2:
        return "inconclusive"
    if p_holds < level:
        return "holds"
    if p_against < level:
        return "fails"
    return "inconclusive"


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


def _finish(row: dict[str, Any], n_seeds: int, level: float) -> dict[str, Any]:
    row["n_seeds"] = int(n_seeds)
    row["verdict"] = verdict(n_seeds, row["p_value"], row["p_value_against"], level)
    return row


def fpa_claims(
    table: pd.DataFrame, selections: Iterable[Mapping[str, Any]], level: float = 0.05
) -> list[dict[str, Any]]:
    """Claims 1 to 4 from a results/fpa table (one row per attack, alpha, seed, classifier) and
    the selection records of its subsets (``mi_xy_after``, ``mi_xy_target``,
    ``mi_xy_tolerance``)."""
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
        rows.append(_finish({**row, **_t_row(values, 0.0, True, level)}, len(values), level))
        if attack != "mi_greedy":
            continue
        values = group.sort_values("seed")["accuracy_loss"].to_numpy()
        row = {"claim": "greedy_accuracy_loss_small", **scope}
        row["description"] = (
            f"greedy poisoning at alpha {alpha:g} costs the {classifier} receiver at most "
            f"{ACCURACY_BUDGET} accuracy"
        )
        row["test"] = f"{T_TEST}, accuracy_loss < {ACCURACY_BUDGET}"
        rows.append(
            _finish({**row, **_t_row(values, ACCURACY_BUDGET, False, level)}, len(values), level)
        )
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
            rows.append(_finish({**row, **t_row}, len(differences), level))
    rows += _mi_xy_claims(list(selections), level)
    return rows


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
        rows.append(_finish(row, len(success), level))
    return rows


def pia_claims(
    table: pd.DataFrame,
    delta: float,
    level: float = 0.05,
    diffusion: Mapping[str, bool] | None = None,
) -> list[dict[str, Any]]:
    """Claims 5 and 6 from a results/pia table (one row per generator, attack, true ratio,
    query count and seed), at its largest query count. ``diffusion``: whether each generator
    family is a diffusion model (the registry's :attr:`~diffshare.generators.Family.diffusion`,
    plugins included); every diffusion family is compared with every other family of the
    table, in the table's order."""
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
    for (generator, attack), group in largest.groupby(["generator", "attack"]):
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
        rows.append(_finish(row, group["seed"].nunique(), level))
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
                rows.append(_finish(row, n_seeds, level))
    return rows


def claims_table(rows: Iterable[Mapping[str, Any]], dataset: str) -> pd.DataFrame:
    """results/claims/{dataset}.csv: the rows with the columns of :data:`CLAIM_COLUMNS` (scope
    columns empty where a claim has no such scope)."""
    table = pd.DataFrame.from_records(list(rows), columns=CLAIM_COLUMNS)
    table["dataset"] = dataset
    bad = table[["estimate"]].isna().any(axis=1)
    if bad.any():
        raise DataError(f"claims without an estimate: {table.loc[bad, 'claim'].tolist()}")
    return table
