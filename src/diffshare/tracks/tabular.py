"""The tabular track: prepared tables -> arrays for the attack cores, and back."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from diffshare.attacks.fpa.mine import mine_terms
from diffshare.attacks.fpa.selection import select_rows
from diffshare.attacks.pia.discriminator import discriminator_record
from diffshare.attacks.pia.estimate import ATTACKS, attack_estimates
from diffshare.attacks.pia.property import Property, ratio_subset
from diffshare.data.tabular import TableSchema
from diffshare.errors import ConfigError, DataError
from diffshare.receivers.tabular import make_classifier


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
