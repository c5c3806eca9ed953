"""The receiver's downstream classifiers: trained on a real or synthetic table, tested on real data.

Three scikit-learn pipelines, chosen by name:

- ``logreg``: one-hot encoding and standard scaling, then logistic regression;
- ``hgb``: histogram gradient boosting with native categorical support;
- ``mlp``: one-hot encoding and standard scaling, then a multi-layer perceptron.

Hyperparameters go to the final estimator as keyword arguments (``classifier_params``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from diffshare.data.schema import TableSchema
from diffshare.errors import ConfigError, DataError

log = logging.getLogger(__name__)

CLASSIFIERS = ("logreg", "hgb", "mlp")

#: Defaults for the final estimator of each pipeline; the config may override any of them.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "logreg": {"C": 1.0, "max_iter": 2000},
    "hgb": {"max_iter": 200, "learning_rate": 0.1},
    "mlp": {"hidden_layer_sizes": [64, 32], "max_iter": 200, "early_stopping": True},
}


def _one_hot_and_scale(schema: TableSchema, features: list[str]) -> ColumnTransformer:
    categorical = [c for c in schema.categorical if c in features]
    numeric = [c for c in schema.numeric if c in features]
    return ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("numeric", StandardScaler(), numeric),
        ],
        sparse_threshold=0.0,
    )


def make_classifier(
    name: str,
    schema: TableSchema,
    *,
    use_sensitive: bool = True,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> Pipeline:
    """An unfitted scikit-learn pipeline that reads the feature columns of a prepared table."""
    if name not in CLASSIFIERS:
        raise ConfigError(f"unknown classifier {name!r}; choose one of {list(CLASSIFIERS)}")
    options = {**DEFAULT_PARAMS[name], **(params or {})}
    if "hidden_layer_sizes" in options:
        options["hidden_layer_sizes"] = tuple(options["hidden_layer_sizes"])
    features = schema.feature_columns(use_sensitive)
    try:
        if name == "logreg":
            estimator = LogisticRegression(**options)
            steps = [("encode", _one_hot_and_scale(schema, features)), ("classify", estimator)]
        elif name == "mlp":
            estimator = MLPClassifier(random_state=seed, **options)
            steps = [("encode", _one_hot_and_scale(schema, features)), ("classify", estimator)]
        else:
            estimator = HistGradientBoostingClassifier(
                categorical_features="from_dtype", random_state=seed, **options
            )
            select = ColumnTransformer([("select", "passthrough", features)])
            select.set_output(transform="pandas")
            steps = [("select", select), ("classify", estimator)]
    except TypeError as error:
        raise ConfigError(f"classifier {name!r}: invalid parameter: {error}") from error
    return Pipeline(steps)


def train_and_predict(
    name: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    schema: TableSchema,
    *,
    use_sensitive: bool = True,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Fit classifier ``name`` on ``train`` and predict ``test``.

    Returns one row per test row (index ``row_id``) with the columns ``y_true``, ``y_pred``
    (int8, 1 = positive label), ``y_score`` (predicted probability of the positive label) and
    ``s`` (int8, 1 = privileged group).
    """
    schema.check_table(train, "training table")
    schema.check_table(test, "test table")
    y_train = schema.labels(train)
    if len(np.unique(y_train)) < 2:
        raise DataError(
            f"training table holds only one label value ({int(y_train[0])}); "
            "a classifier cannot be trained on it"
        )
    model = make_classifier(name, schema, use_sensitive=use_sensitive, seed=seed, params=params)
    # Same category sets in train and test, so that every pipeline sees one encoding.
    train = align_categories(train, test, schema)
    start = time.perf_counter()
    model.fit(train, y_train)
    log.info("trained %s on %d rows in %.2f s", name, len(train), time.perf_counter() - start)
    score = model.predict_proba(test)[:, list(model.classes_).index(1)]
    predictions = pd.DataFrame(
        {
            "y_true": schema.labels(test),
            "y_pred": (score >= 0.5).astype(np.int8),
            "y_score": score.astype(np.float64),
            "s": schema.groups(test),
        },
        index=test.index,
    )
    return predictions


def align_categories(train: pd.DataFrame, test: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    train = train.copy()
    for column in schema.categorical:
        if isinstance(test[column].dtype, pd.CategoricalDtype):
            train[column] = train[column].astype(test[column].dtype)
    return train
