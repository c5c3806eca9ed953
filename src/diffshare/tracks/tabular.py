"""The tabular track's adapter: prepared tables -> arrays for the attack cores, and back.

The stages have the names and the argument order of :mod:`diffshare.tracks.image`'s (a workflow
script picks the module with :func:`diffshare.tracks.adapter`); a table needs its
:class:`~diffshare.data.schema.TableSchema`, passed as ``schema``:

- :func:`read_set`, :func:`write_set`: a table to and from its Parquet file.
- :func:`mine_row_terms`: MINE on the encoded pool -> row terms (fairness poisoning).
- :func:`select`: the sharer's (possibly poisoned) subset of the pool.
- :func:`receiver_predictions`: the receiver's classifier, trained on a table, predicting the
  real test rows.
- :func:`sharer_set` (and :func:`sharer_schema`): the sharer's table at an exact property ratio.
- :func:`estimate_property`: every property inference attack's estimates from samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import diffshare.attacks.pia.estimate as pia
from diffshare.attacks.fpa.selection import select_rows
from diffshare.attacks.pia.discriminator import DiscriminatorSettings, PropertyDiscriminator
from diffshare.attacks.pia.property import Property, sharer_rows
from diffshare.data.schema import TableSchema
from diffshare.errors import DataError
from diffshare.receivers.tabular import CLASSIFIERS, make_classifier, train_and_predict
from diffshare.storage import read_parquet, write_parquet
from diffshare.tracks.common import terms_array, terms_table

#: The property inference attacks on tables.
PIA_ATTACKS = ("column", "aux", "aux_corrected")
#: The property discriminators: the downstream classifiers.
DISCRIMINATORS = CLASSIFIERS


def read_set(path: str) -> pd.DataFrame:
    """A table (training split, subset, samples) from its Parquet file."""
    return read_parquet(path)


def write_set(data: pd.DataFrame, path: str) -> None:
    """Write a table to its Parquet file."""
    write_parquet(data, path)


# -- fairness poisoning -------------------------------------------------------------------------
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
    pool: pd.DataFrame, *, schema: TableSchema, include_sensitive: bool, seed: int, **mine: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Train MINE once on the encoded pool; return per-row T(x, 0) and T(x, 1) (columns ``t0``,
    ``t1``, index ``row_id``) and a record with the pool's I(X;Y) and I(S;Y) in nats."""
    # Imported here: MINE is the tabular track's one torch network, and the jobs of every other
    # stage (classifiers, selections, estimates) start faster without torch.
    from diffshare.attacks.fpa.mine import mine_terms

    x = encode_features(pool, schema, include_sensitive)
    terms, record = mine_terms(x, schema.labels(pool), schema.groups(pool), seed=seed, **mine)
    return terms_table(terms, pool.index), {**record, "include_sensitive": include_sensitive}


def select(
    attack: str, pool: pd.DataFrame, terms: pd.DataFrame, *, schema: TableSchema, **settings: Any
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The sharer's subset of a tabular ``pool`` for ``attack`` (``settings``: those of
    :func:`~diffshare.attacks.fpa.selection.select_rows`).

    Returns ``(table, rows, record)``: the subset as a training table with its (possibly
    flipped) labels, the chosen ``row_id`` values with those labels and ``flipped``, and the
    record of :func:`~diffshare.attacks.fpa.selection.select_rows`.
    """
    y = schema.labels(pool).astype(np.int64)
    selection, record = select_rows(
        attack, schema.groups(pool), y, terms_array(terms, pool.index), **settings
    )
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
    return table, rows, record


def receiver_predictions(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    schema: TableSchema,
    classifier: str,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    use_sensitive: bool = True,
) -> pd.DataFrame:
    """The receiver's ``classifier`` trained on ``train``, predicting the real ``test`` rows:
    ``y_true, y_pred, y_score, s`` per test row
    (:func:`~diffshare.receivers.tabular.train_and_predict`)."""
    return train_and_predict(
        classifier, train, test, schema, use_sensitive=use_sensitive, seed=seed, params=params
    )


# -- property inference ------------------------------------------------------------------------
def attribute_table(pool: pd.DataFrame) -> pd.DataFrame:
    """A table's attributes are its columns (the image track reads them off its images)."""
    return pool


def sharer_set(
    pool: pd.DataFrame,
    prop: Property,
    *,
    schema: TableSchema,
    ratio: float,
    size: int,
    seed: int,
    hide_property: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The sharer's training table at an exact property ratio
    (:func:`~diffshare.attacks.pia.property.sharer_rows`), without the property column when
    ``hide_property`` (:func:`sharer_schema` gives its schema), and a record with the realised
    ratio."""
    schema.check_property(prop.column, prop.value, hide=hide_property)
    rows, record = sharer_rows(pool, prop, ratio=ratio, size=size, seed=seed)
    table = pool.iloc[rows]
    if hide_property:
        table = table.drop(columns=[prop.column])
    return table, {**record, "hide_property": bool(hide_property)}


def sharer_schema(schema: TableSchema, prop: Property, *, hide_property: bool) -> TableSchema:
    """The schema of the sharer's table: without the property column when it is hidden."""
    return schema.without(prop.column) if hide_property else schema


def property_schema(schema: TableSchema, prop: Property) -> TableSchema:
    """The schema of the receiver's property classifier: the property column becomes the
    label; the dataset's label (which samples carry) becomes a categorical feature."""
    categorical = [c for c in schema.categorical if c != prop.column]
    if prop.column != schema.label:
        categorical.append(schema.label)
    return replace(
        schema,
        numeric=list(schema.numeric),
        categorical=categorical,
        label=prop.column,
        positive=prop.value,
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
    prop: Property,
    *,
    schema: TableSchema,
    attacks: Sequence[str],
    queries: Sequence[int],
    repeats: int,
    discriminator: Mapping[str, Any],
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every attack's estimates of the property's share in the sharer's table from ``samples``
    (:func:`diffshare.attacks.pia.estimate.estimate_property`: its table and record).

    ``column`` reads the samples' property column; ``aux`` and ``aux_corrected`` train the
    ``discriminator`` (``{classifier: hgb | logreg | mlp, params, holdout}``; ``params`` go to
    the classifier's final estimator) on the receiver's ``auxiliary`` table, the property as
    its label, the dataset's label as a feature.
    """
    settings = DiscriminatorSettings.from_config(discriminator, DISCRIMINATORS, "pia.discriminator")
    needs_discriminator = pia.check_attacks(attacks, PIA_ATTACKS, "tabular")
    indicators = {}
    if "column" in attacks:
        indicators["column"] = prop.indicator(samples, "the samples")
    property_discriminator = None
    if needs_discriminator:
        target = property_schema(schema, prop)
        features = target.feature_columns()
        missing = [c for c in features if c not in samples.columns]
        if missing:
            raise DataError(f"the samples lack the discriminator's input columns {missing}")
        property_discriminator = PropertyDiscriminator(
            model=make_classifier(settings.classifier, target, seed=seed, params=settings.params),
            settings=settings,
            auxiliary=_as_categories(auxiliary, schema, target.categorical),
            truth=prop.indicator(auxiliary, "the auxiliary table"),
            samples=_as_categories(samples[features], schema, target.categorical),
        )
    return pia.estimate_property(
        len(samples), attacks, queries, repeats, indicators, property_discriminator, seed=seed
    )
