"""The sharer's defenses against property inference, and how much they hide and cost.

A defense is a stage between the sharer's table and the receiver's samples:

- ``rebalance`` (data level; the shuffle defense of Suri and Evans's distribution inference):
  before training, :func:`rebalance_table` resamples the sharer's table to a decoy property
  share, within each label value, so the label distribution is kept exactly. What it distorts:
  the property becomes independent of the label (P(y | property) = P(y) in the rebalanced
  table), the property's joint distribution with the other features is reweighted, and the rarer
  cells are filled with duplicated rows.
- ``decoy_sampling`` (sampling level, in the spirit of PriSampler, Hu and Pang 2023): the model
  is trained on the true table; :func:`decoy_samples` draws more rows from it than it serves and
  keeps rows so that the served property share equals the decoy, by the property column when
  the samples carry it, else by a property classifier the sharer trains on its own table
  (:func:`sharer_property_classifier`). Only a sampling service can be shared: the model itself
  still holds the true share.
- ``dp_sgd`` (record level): the model trained with differential privacy end to end
  (:func:`diffshare.generators.dp_training.fit_private`): category sets and numeric bounds from
  the dataset's declared public domain, quantiles and label counts released with Laplace noise
  (:mod:`diffshare.generators.dp_preprocessing`), the weights with DP-SGD (Opacus), one
  (epsilon, delta) in all.

:func:`served_utility` measures the label task on the served rows;
:mod:`diffshare.defenses.pia_report` summarises the sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from diffshare.attacks.pia.property import Property
from diffshare.data.schema import TableSchema
from diffshare.errors import ConfigError, DataError
from diffshare.receivers.tabular import make_classifier, train_and_predict

log = logging.getLogger(__name__)

#: The sharer's defenses, in the order of the tables.
DEFENSES = ("rebalance", "decoy_sampling", "dp_sgd")
#: The undefended reference's defense and setting.
NONE = "none"
#: Receivers of the utility columns.
UTILITY_CLASSIFIERS = ("logreg", "hgb")


def check_defense_settings(settings: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the key and value unless ``defense.pia`` is usable:
    known methods and a decoy in (0, 1). A family outside ``pia.generators`` is allowed: the
    defense targets build its undefended models too (and a PIA-only config need not list the
    defense's families). A defense a family cannot take is skipped, not refused
    (:func:`skip_reason`)."""
    unknown = [m for m in settings["methods"] if m not in DEFENSES]
    if unknown:
        raise ConfigError(
            f"defense.pia.methods: unknown defense {unknown[0]!r}; choose from {list(DEFENSES)}"
        )
    if not 0.0 < float(settings["decoy"]) < 1.0:
        raise ConfigError(f"defense.pia.decoy must be in (0, 1), got {settings['decoy']!r}")
    from diffshare.validation import check_sweep  # the decoy and epsilons are path segments

    check_sweep("defense.pia.decoy", [settings["decoy"]])
    check_sweep("defense.pia.epsilons", list(settings.get("epsilons") or []))


def skip_reason(defense: str, family: str, persistence: str) -> str | None:
    """Why ``defense`` cannot defend a model of ``family`` (whose ``persistence`` is ``safe``
    or ``sample_only``), or None when it can: DP-SGD needs diffshare's own training loop, which
    only tabddpm has; decoy sampling draws more rows than it serves from a saved model, which a
    sample-only family never has."""
    if defense == "dp_sgd" and family != "tabddpm":
        return (
            f"dp_sgd trains only tabddpm privately (it needs our training loop; {family} has none)"
        )
    if defense == "decoy_sampling" and persistence == "sample_only":
        return f"decoy_sampling draws from a saved model, and {family} is sample-only (never saved)"
    return None


# -- rebalance -----------------------------------------------------------------------------------
def _allocate(total: int, sizes: np.ndarray, share: float) -> np.ndarray:
    """Integers summing to ``total`` (= round(share * sizes.sum())), near ``share * sizes``:
    floors, then one more to the largest remainders."""
    exact = share * sizes
    counts = np.floor(exact).astype(np.int64)
    left = total - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:left]] += 1
    return counts


def rebalance_rows(
    has: np.ndarray, labels: np.ndarray, decoy: float, seed: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Positions (into ``has``) of a resampled table of the same size whose property share is
    exactly ``round(decoy * n) / n`` and whose count of every label value is unchanged.

    ``has``: 0/1 per row, shape (n,); ``labels``: the label per row, shape (n,). Within each label
    value, the decoy share of its rows is drawn from its rows with the property and the rest from
    those without: without replacement where a cell has enough rows, else all of them plus draws
    with replacement. Returns the shuffled positions, shape (n,), and a record (realised share,
    duplicated rows). Raises :class:`DataError` when a cell that needs rows has none."""
    if not 0.0 <= decoy <= 1.0:
        raise ConfigError(f"decoy share must be in [0, 1], got {decoy}")
    has = np.asarray(has).astype(bool)
    labels = np.asarray(labels)
    if has.shape != labels.shape or has.ndim != 1 or has.size == 0:
        raise DataError(
            f"has and labels must be equal, non-empty 1-d arrays: {has.shape}, {labels.shape}"
        )
    values, sizes = np.unique(labels, return_counts=True)
    wanted = _allocate(int(round(decoy * has.size)), sizes, decoy)
    rng = np.random.default_rng(seed)
    chosen, duplicated = [], 0
    for value, size, k in zip(values, sizes, wanted, strict=True):
        for side, need in ((True, int(k)), (False, int(size - k))):
            cell = np.flatnonzero((labels == value) & (has == side))
            if need and not cell.size:
                raise DataError(
                    f"cannot rebalance to a decoy share of {decoy}: no row with label "
                    f"{str(value)!r} {'has' if side else 'lacks'} the property, and {need} are "
                    "needed"
                )
            if need <= cell.size:
                chosen.append(rng.choice(cell, size=need, replace=False))
            else:
                chosen += [cell, rng.choice(cell, size=need - cell.size, replace=True)]
                duplicated += need - cell.size
    positions = rng.permutation(np.concatenate(chosen))
    record = {
        "decoy": float(decoy),
        "true_ratio": float(has.mean()),
        "served_ratio": float(has[positions].mean()),
        "duplicated_rows": int(duplicated),
        "size": int(positions.size),
    }
    return positions, record


def rebalance_table(
    table: pd.DataFrame,
    has: np.ndarray,
    *,
    schema: TableSchema,
    decoy: float,
    seed: int,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The sharer's ``table`` resampled to the ``decoy`` property share with its label counts
    kept (:func:`rebalance_rows`); ``has``: the property per row (0/1), which the sharer knows
    even when the table it trains on leaves the column out. The result has a fresh ``row_id``
    index (rows may repeat)."""
    if len(has) != len(table):
        raise DataError(f"{len(has)} property indicators for a table of {len(table)} rows")
    positions, record = rebalance_rows(has, table[schema.label].astype(str).to_numpy(), decoy, seed)
    rebalanced = table.iloc[positions].reset_index(drop=True)
    rebalanced.index.name = "row_id"
    return rebalanced, record


# -- decoy sampling ------------------------------------------------------------------------------
def sharer_property_classifier(
    table: pd.DataFrame,
    has: np.ndarray,
    *,
    schema: TableSchema,
    classifier: str = "hgb",
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> Callable[[pd.DataFrame], np.ndarray]:
    """The sharer's property classifier for samples without the property column: fitted on its
    own ``table`` (the columns its model sees, ``schema``'s features and label) against ``has``
    (0/1 per row); returns a function from rows to predicted 0/1 (int8, shape (n_rows,))."""
    has = np.asarray(has).astype(np.int8)
    if len(np.unique(has)) < 2:
        raise DataError("the sharer's table holds one property value; no classifier can be fitted")
    features = [*schema.numeric, *schema.categorical, schema.label]
    target = replace(
        schema, categorical=[*schema.categorical, schema.label], label="_property", positive="1"
    )
    model = make_classifier(classifier, target, seed=seed, params=params)
    model.fit(table[features], has)

    def predict(rows: pd.DataFrame) -> np.ndarray:
        aligned = rows[features].copy()
        for column in [*schema.categorical, schema.label]:
            aligned[column] = pd.Categorical(
                aligned[column].astype(str), categories=table[column].cat.categories
            )
        return model.predict(aligned).astype(np.int8)

    return predict


def decoy_samples(
    draw: Callable[[int, int], pd.DataFrame],
    indicator: Callable[[pd.DataFrame], np.ndarray],
    *,
    n: int,
    decoy: float,
    seed: int,
    max_draw_factor: float = 20.0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``n`` served rows of which exactly ``round(decoy * n)`` have the property by
    ``indicator`` (the column, or the sharer's classifier), chosen from rows of ``draw(count,
    seed)`` (the model's sampler) drawn in batches of ``n`` until both quotas are filled, in draw
    order, then shuffled. Raises :class:`DataError` when more than ``max_draw_factor * n`` rows
    do not fill them (the model rarely generates one side)."""
    if n < 1:
        raise ConfigError(f"served rows must be at least 1, got {n}")
    if not 0.0 <= decoy <= 1.0:
        raise ConfigError(f"decoy share must be in [0, 1], got {decoy}")
    need = {1: int(round(decoy * n)), 0: n - int(round(decoy * n))}
    kept: dict[int, list[pd.DataFrame]] = {1: [], 0: []}
    count, found = {1: 0, 0: 0}, {1: 0, 0: 0}
    drawn, batch = 0, 0
    raw_has = []
    while count[1] < need[1] or count[0] < need[0]:
        if drawn >= max_draw_factor * n:
            raise DataError(
                f"decoy sampling drew {drawn} rows for {n} served at share {decoy} and found "
                f"{found[1]} with and {found[0]} without the property (needed {need[1]} and "
                f"{need[0]}); raise defense.pia.max_draw_factor or choose another decoy"
            )
        rows = draw(n, seed * 1000 + batch)
        has = np.asarray(indicator(rows)).astype(np.int8)
        raw_has.append(has)
        drawn, batch = drawn + len(rows), batch + 1
        for side in (1, 0):
            found[side] += int((has == side).sum())
            take = rows[has == side].iloc[: max(0, need[side] - count[side])]
            kept[side].append(take)
            count[side] += len(take)
    served = pd.concat([*kept[1], *kept[0]])
    order = np.random.default_rng(seed).permutation(len(served))
    served = served.iloc[order].reset_index(drop=True)
    served.index.name = "row_id"
    record = {
        "decoy": float(decoy),
        "served": int(n),
        "drawn": int(drawn),
        "raw_share": float(np.concatenate(raw_has).mean()),
        "served_share": need[1] / n,
    }
    return served, record


# -- utility -------------------------------------------------------------------------------------
def served_utility(
    samples: pd.DataFrame,
    test: pd.DataFrame,
    *,
    schema: TableSchema,
    params: Mapping[str, Mapping[str, Any]],
    seed: int = 0,
    use_sensitive: bool = True,
) -> dict[str, Any]:
    """``accuracy_logreg`` and ``accuracy_hgb``: the receiver's classifiers trained on the
    served ``samples`` (with ``params`` per classifier), accuracy on the real ``test`` rows.

    ``single_label`` is the one label value the samples hold, or ``None``. A heavily noised
    model (dp_sgd at a small epsilon) can serve rows of one label only; no classifier can be
    fitted to them, and the only one they support predicts that label for every row, so both
    accuracies are then the share of ``test`` rows with that label, and ``single_label`` says
    so."""
    schema.check_table(samples, "served samples")
    labels = np.unique(schema.labels(samples))
    if len(labels) == 1:
        label = int(labels[0])
        accuracy = float((schema.labels(test) == label).mean())
        log.warning(
            "the served samples hold one label value (%d); both classifiers predict it "
            "(accuracy %.4f on the test rows)",
            label,
            accuracy,
        )
        return {f"accuracy_{name}": accuracy for name in UTILITY_CLASSIFIERS} | {
            "single_label": label
        }
    result: dict[str, Any] = {"single_label": None}
    for name in UTILITY_CLASSIFIERS:
        predictions = train_and_predict(
            name,
            samples,
            test,
            schema,
            use_sensitive=use_sensitive,
            seed=seed,
            params=params.get(name),
        )
        result[f"accuracy_{name}"] = float((predictions["y_true"] == predictions["y_pred"]).mean())
    return result


def setting_name(defense: str, value: float | None, sweep_value: Callable[[float], str]) -> str:
    """The ``setting`` of a defense, as its path segment: ``decoy~<share>`` (rebalance,
    decoy_sampling), ``epsilon~<epsilon>`` (dp_sgd), ``none`` (the undefended reference)."""
    if defense == NONE:
        return NONE
    if defense not in DEFENSES:
        raise ConfigError(f"unknown defense {defense!r}; choose from {list(DEFENSES)}")
    key = "epsilon" if defense == "dp_sgd" else "decoy"
    return f"{key}~{sweep_value(value)}"


def property_indicator(
    table: pd.DataFrame, pool: pd.DataFrame | None, prop: Property
) -> np.ndarray:
    """The property per row of the sharer's ``table``: from its own column, or, when the table
    leaves the column out, from the training ``pool`` rows it was drawn from (by ``row_id``)."""
    if prop.column in table.columns:
        return prop.indicator(table, "the sharer's table")
    if pool is None:
        raise DataError(f"the sharer's table has no column {prop.column!r} and no pool was given")
    absent = table.index.difference(pool.index)
    if len(absent):
        raise DataError(f"{len(absent)} rows of the sharer's table are not in the pool")
    return prop.indicator(pool.loc[table.index], "the pool")
