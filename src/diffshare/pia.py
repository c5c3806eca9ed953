"""The property inference attack (PIA): the receiver estimates a private proportion of the
sharer's training data from samples of the shared model.

The sharer's table holds a share ``p`` of rows with a property (``sex == Female``, say). The
receiver draws ``n`` samples, labels each with a property discriminator ``g`` and estimates
``p_hat = mean g(x)``. If ``g`` is unbiased and the samples follow the sharer's distribution,
Hoeffding's inequality gives ``P(|p_hat - p| >= eps) <= 2 exp(-2 n eps^2)``, so
``eps(n, delta) = sqrt(ln(2 / delta) / (2 n))`` (:func:`hoeffding_eps`).

Three discriminators (attacks):

- ``column``: the samples carry the property column; ``g`` reads it.
- ``aux``: ``g`` is a classifier the receiver trains on auxiliary data (a real split disjoint from
  the sharer's pool) without the property column; its hard predictions are averaged.
- ``aux_corrected``: the ``aux`` estimate corrected with the classifier's true- and false-positive
  rates measured on held-out auxiliary rows, ``(p_hat - FPR) / (TPR - FPR)`` clipped to [0, 1]
  (:func:`correct`).

Stage functions: :func:`ratio_subset` (pool -> the sharer's table at an exact ratio),
:func:`estimate_property` (samples + auxiliary data -> one estimate per attack, query count and
repeat), :func:`pia_table` (estimates -> results/pia/{dataset}.csv) and :func:`plot_pia`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from diffshare.datasets import TableSchema
from diffshare.downstream import make_classifier
from diffshare.errors import ConfigError, DataError

log = logging.getLogger(__name__)

ATTACKS = ("column", "aux", "aux_corrected")
#: Attacks on images: no property column, and CLIP zero-shot when its weights are given.
IMAGE_ATTACKS = ("aux", "aux_corrected", "zero_shot")

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
]


@dataclass(frozen=True)
class Property:
    """A row property: ``column == value`` (compared as text, as prepared tables store it)."""

    column: str
    value: str

    @classmethod
    def from_config(cls, entry: Mapping[str, Any]) -> Property:
        return cls(column=str(entry["column"]), value=str(entry["value"]))

    def __str__(self) -> str:
        return f"{self.column} == {self.value!r}"

    def indicator(self, table: pd.DataFrame, what: str = "table") -> np.ndarray:
        """1 where a row has the property, else 0; int8, shape (n_rows,)."""
        if self.column not in table.columns:
            raise DataError(
                f"{what} has no column {self.column!r} (property {self}); "
                f"it has {list(table.columns)}"
            )
        return (table[self.column].astype(str).to_numpy() == self.value).astype(np.int8)

    def check_schema(self, schema: TableSchema, *, hide: bool = False) -> None:
        """Raise :class:`ConfigError` unless the property is a categorical column or the label
        of ``schema``, with ``value`` among its categories when those are known."""
        if self.column not in [*schema.categorical, schema.label]:
            raise ConfigError(
                f"property column {self.column!r} must be a categorical column or the label "
                f"(categorical: {schema.categorical}, label: {schema.label!r})"
            )
        if hide and self.column == schema.label:
            raise ConfigError(
                f"pia.hide_property cannot hide the label column {self.column!r}: the shared "
                "model is conditioned on it"
            )
        known = schema.categories.get(self.column)
        if known and self.value not in known:
            raise ConfigError(
                f"property value {self.value!r} never occurs in column {self.column!r} "
                f"(values: {known})"
            )


def hoeffding_eps(n_queries: int, delta: float = 0.05) -> float:
    """The smallest eps with ``2 exp(-2 n eps^2) <= delta``: ``sqrt(ln(2 / delta) / (2 n))``."""
    if int(n_queries) < 1:
        raise ConfigError(f"the query count must be at least 1, got {n_queries}")
    if not 0.0 < delta < 1.0:
        raise ConfigError(f"delta must be in (0, 1), got {delta}")
    return math.sqrt(math.log(2.0 / delta) / (2.0 * int(n_queries)))


def hoeffding_queries(eps: float, delta: float = 0.05) -> int:
    """The fewest queries whose Hoeffding bound at ``delta`` is at most ``eps``."""
    if eps <= 0.0:
        raise ConfigError(f"eps must be positive, got {eps}")
    if not 0.0 < delta < 1.0:
        raise ConfigError(f"delta must be in (0, 1), got {delta}")
    return math.ceil(math.log(2.0 / delta) / (2.0 * eps * eps))


def ratio_subset(
    pool: pd.DataFrame, prop: Property, ratio: float, size: int, seed: int
) -> pd.DataFrame:
    """``size`` rows of ``pool`` of which exactly ``round(ratio * size)`` have the property,
    drawn without replacement and shuffled; the index (``row_id``) is kept."""
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"property ratio must be in [0, 1], got {ratio}")
    if size < 1:
        raise ConfigError(f"subset size must be at least 1, got {size}")
    has = prop.indicator(pool, "the pool").astype(bool)
    k = int(round(ratio * size))
    available = {"with": int(has.sum()), "without": int((~has).sum())}
    needed = {"with": k, "without": size - k}
    for side in ("with", "without"):
        if needed[side] > available[side]:
            raise DataError(
                f"the pool has {available[side]} rows {side} property {prop}, but a subset of "
                f"{size} rows at ratio {ratio} needs {needed[side]}; lower pia.subset_size or "
                "choose ratios the pool can supply"
            )
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [
            rng.choice(np.flatnonzero(has), size=k, replace=False),
            rng.choice(np.flatnonzero(~has), size=size - k, replace=False),
        ]
    )
    return pool.iloc[rng.permutation(chosen)]


def batch_estimates(indicator: np.ndarray, n_queries: int, repeats: int) -> np.ndarray:
    """Means of ``repeats`` disjoint, consecutive batches of ``n_queries`` values, shape
    (repeats,)."""
    values = np.asarray(indicator, dtype=np.float64)
    if n_queries < 1 or repeats < 1:
        raise ConfigError(f"query count and repeats must be positive, got {n_queries}, {repeats}")
    needed = n_queries * repeats
    if len(values) < needed:
        raise DataError(
            f"{repeats} disjoint batches of {n_queries} queries need {needed} samples, "
            f"but only {len(values)} were drawn"
        )
    return values[:needed].reshape(repeats, n_queries).mean(axis=1)


def discriminator_rates(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """True- and false-positive rates of hard predictions against the truth (both 0/1)."""
    truth = np.asarray(truth).astype(bool)
    predicted = np.asarray(predicted).astype(bool)
    if truth.all() or not truth.any():
        raise DataError(
            "the held-out auxiliary rows must hold rows with and without the property to "
            f"measure the discriminator's rates ({int(truth.sum())} of {len(truth)} have it)"
        )
    return float(predicted[truth].mean()), float(predicted[~truth].mean())


def discriminator_record(
    name: str,
    truth: np.ndarray,
    fit_rows: np.ndarray,
    held_rows: np.ndarray,
    held_predicted: np.ndarray,
    start: float,
) -> dict[str, Any]:
    """TPR and FPR of a property discriminator on the held-out auxiliary rows, with the row
    counts, the auxiliary share and the seconds since ``start`` (logged too)."""
    tpr, fpr = discriminator_rates(truth[held_rows], held_predicted)
    log.info(
        "discriminator %s: TPR %.4f, FPR %.4f on %d held-out rows", name, tpr, fpr, len(held_rows)
    )
    return {
        "tpr": tpr,
        "fpr": fpr,
        "n_auxiliary_fit": int(len(fit_rows)),
        "n_auxiliary_holdout": int(len(held_rows)),
        "auxiliary_ratio": float(np.mean(truth)),
        "seconds": time.perf_counter() - start,
    }


def correct(estimates: np.ndarray, tpr: float, fpr: float) -> np.ndarray:
    """``(p_hat - FPR) / (TPR - FPR)`` clipped to [0, 1]: what a discriminator with these rates
    would report on data whose true share is the result."""
    if not tpr - fpr > 0.0:
        raise DataError(
            f"the property discriminator is no better than chance (TPR {tpr:.3f} <= FPR "
            f"{fpr:.3f}); its estimate cannot be corrected"
        )
    return np.clip((np.asarray(estimates, dtype=np.float64) - fpr) / (tpr - fpr), 0.0, 1.0)


def property_schema(schema: TableSchema, prop: Property) -> TableSchema:
    """The schema of the receiver's property classifier: the property column becomes the
    label; the dataset's label (which samples carry) becomes a categorical feature."""
    categorical = [c for c in schema.categorical if c != prop.column]
    if prop.column != schema.label:
        categorical.append(schema.label)
    return TableSchema(
        numeric=list(schema.numeric),
        categorical=categorical,
        label=prop.column,
        positive=prop.value,
        sensitive=schema.sensitive,
        privileged=schema.privileged,
        categories=dict(schema.categories),
    )


def _as_categories(table: pd.DataFrame, schema: TableSchema, columns: Iterable[str]):
    """``table`` with every categorical ``column`` cast to the prepared category set, so a
    classifier sees one encoding whatever generator wrote the rows."""
    table = table.copy()
    for column in columns:
        categories = schema.categories.get(column)
        if column in table.columns and categories:
            table[column] = pd.Categorical(table[column].astype(str), categories=categories)
    return table


def estimate_property(
    samples: pd.DataFrame,
    auxiliary: pd.DataFrame,
    schema: TableSchema,
    prop: Property,
    *,
    attacks: Sequence[str],
    queries: Sequence[int],
    repeats: int,
    classifier: str = "hgb",
    params: Mapping[str, Any] | None = None,
    holdout: float = 0.5,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every attack's estimate of the property's share from ``samples``.

    Returns a table with one row per attack, query count and repeat (columns ``attack``,
    ``n_queries``, ``repeat``, ``estimate``) and a record of the discriminator (its TPR and FPR
    on the held-out auxiliary rows, row counts, seconds). Repeat ``r`` of ``n`` queries reads
    samples ``r * n`` to ``(r + 1) * n - 1``: the repeats are disjoint.
    """
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise ConfigError(f"unknown PIA attacks {unknown}; choose from {list(ATTACKS)}")
    if not 0.0 < holdout < 1.0:
        raise ConfigError(f"pia.discriminator.holdout must be in (0, 1), got {holdout}")
    indicators: dict[str, np.ndarray] = {}
    record: dict[str, Any] = {"n_samples": int(len(samples))}
    if "column" in attacks:
        indicators["column"] = prop.indicator(samples, "the samples")
    if "aux" in attacks or "aux_corrected" in attacks:
        start = time.perf_counter()
        target = property_schema(schema, prop)
        truth = prop.indicator(auxiliary, "the auxiliary table")
        fit_rows, held_rows = train_test_split(
            np.arange(len(auxiliary)), test_size=holdout, random_state=seed, stratify=truth
        )
        model = make_classifier(classifier, target, seed=seed, params=params)
        model.fit(
            _as_categories(auxiliary.iloc[fit_rows], schema, target.categorical), truth[fit_rows]
        )
        held = _as_categories(auxiliary.iloc[held_rows], schema, target.categorical)
        held_predicted = model.predict(held)
        features = target.feature_columns()
        missing = [c for c in features if c not in samples.columns]
        if missing:
            raise DataError(f"the samples lack the discriminator's input columns {missing}")
        predicted = model.predict(_as_categories(samples[features], schema, target.categorical))
        indicators["aux"] = np.asarray(predicted, dtype=np.int8)
        record["classifier"] = classifier
        record.update(
            discriminator_record(classifier, truth, fit_rows, held_rows, held_predicted, start)
        )
    return attack_estimates(indicators, attacks, queries, repeats, record), record


def attack_estimates(
    indicators: Mapping[str, np.ndarray],
    attacks: Sequence[str],
    queries: Sequence[int],
    repeats: int,
    rates: Mapping[str, Any],
) -> pd.DataFrame:
    """One estimate per attack, query count and repeat from per-sample property indicators
    (``indicators[attack]``; ``aux_corrected`` reads ``aux`` and corrects it with
    ``rates["tpr"]`` and ``rates["fpr"]``). Columns ``attack, n_queries, repeat, estimate``."""
    rows = []
    for attack in attacks:
        source = "aux" if attack == "aux_corrected" else attack
        if source not in indicators:
            raise DataError(f"no property indicators for attack {attack!r}")
        for n in queries:
            values = batch_estimates(indicators[source], int(n), repeats)
            if attack == "aux_corrected":
                values = correct(values, rates["tpr"], rates["fpr"])
            rows += [
                {"attack": attack, "n_queries": int(n), "repeat": r, "estimate": float(v)}
                for r, v in enumerate(values)
            ]
    return pd.DataFrame.from_records(rows)


def pia_table(estimates: pd.DataFrame, delta: float = 0.05) -> pd.DataFrame:
    """Aggregate per-repeat estimates (columns ``dataset, generator, attack, true_ratio,
    n_queries, seed, repeat, estimate``) into one row per generator, attack, true ratio, query
    count and seed, with the columns of :data:`PIA_COLUMNS`."""
    required = [c for c in PIA_COLUMNS[:6] if c not in estimates.columns]
    if required or "estimate" not in estimates.columns:
        raise DataError(f"estimates lack the columns {required or ['estimate']}")
    if not np.isfinite(estimates["estimate"]).all():
        raise DataError("an estimate is not a finite number")
    frame = estimates.assign(error=(estimates["estimate"] - estimates["true_ratio"]).abs())
    frame["eps"] = frame["n_queries"].map(lambda n: hoeffding_eps(n, delta))
    frame["within"] = frame["error"] <= frame["eps"]
    keys = PIA_COLUMNS[:6]
    table = frame.groupby(keys, as_index=False, sort=True).agg(
        estimate_mean=("estimate", "mean"),
        estimate_std=("estimate", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0),
        abs_error=("error", "mean"),
        hoeffding_eps=("eps", "first"),
        within_bound_rate=("within", "mean"),
        repeats=("estimate", "size"),
    )
    return table[PIA_COLUMNS + ["repeats"]]


def plot_pia(table: pd.DataFrame, path: str) -> None:
    """Estimate against true ratio at the largest query count: one panel per attack, one line
    per generator (error bars: std over repeats), the identity line and the Hoeffding band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from diffshare.io import atomic_path

    attacks = [a for a in (*ATTACKS, "zero_shot") if a in set(table["attack"])]
    if not attacks:
        raise DataError("the PIA table has no rows to plot")
    n = int(table["n_queries"].max())
    rows = table[table["n_queries"] == n]
    mean = rows.groupby(["attack", "generator", "true_ratio"], as_index=False)[
        ["estimate_mean", "estimate_std"]
    ].mean()
    figure, axes = plt.subplots(
        1, len(attacks), figsize=(4.2 * len(attacks), 4), squeeze=False, constrained_layout=True
    )
    grid = np.linspace(0.0, 1.0, 101)
    eps = hoeffding_eps(n)
    for axis, attack in zip(axes[0], attacks, strict=True):
        axis.fill_between(
            grid, grid - eps, grid + eps, color="grey", alpha=0.2, label=f"Hoeffding band, n={n}"
        )
        axis.plot(grid, grid, color="black", linewidth=0.8, label="identity")
        for offset, (generator, group) in enumerate(
            mean[mean["attack"] == attack].groupby("generator")
        ):
            axis.errorbar(
                group["true_ratio"] + 0.006 * (offset - 1),
                group["estimate_mean"],
                yerr=group["estimate_std"],
                fmt="-o",
                markersize=4,
                capsize=2,
                label=generator,
            )
        axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="true ratio", ylabel="estimate", title=attack)
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper left")
    dataset = table["dataset"].iloc[0]
    figure.suptitle(f"Property inference on {dataset}: estimates from {n} samples")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)


def sharer_table(
    pool: pd.DataFrame,
    schema: TableSchema,
    prop: Property,
    *,
    ratio: float,
    size: int,
    seed: int,
    hide_property: bool = False,
) -> tuple[pd.DataFrame, TableSchema, dict[str, Any]]:
    """The sharer's training table at an exact property ratio, its schema (without the
    property column when ``hide_property``) and a record with the realised ratio."""
    prop.check_schema(schema, hide=hide_property)
    table = ratio_subset(pool, prop, ratio, size, seed)
    realised = float(prop.indicator(table).mean())
    if hide_property:
        schema = schema.without(prop.column)
        table = table.drop(columns=[prop.column])
    record = {
        "property": {"column": prop.column, "value": prop.value},
        "ratio": float(ratio),
        "true_ratio": realised,
        "size": int(len(table)),
        "seed": int(seed),
        "hide_property": bool(hide_property),
        "n_pool": int(len(pool)),
        "pool_ratio": float(prop.indicator(pool).mean()),
    }
    return table, schema, record


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
