"""The receiver's fairness mitigations: train a fair classifier on a (possibly poisoned) model's
samples anyway.

Every mitigation wraps one of the receiver's classifiers
(:func:`diffshare.receivers.tabular.make_classifier`; on images the CNN, through
:mod:`diffshare.defenses.image`) in one core for both tracks (:func:`fit_and_predict`) and
returns test predictions in the format of :func:`~diffshare.receivers.tabular.train_and_predict`
(``y_true, y_pred, y_score, s``), so that :func:`diffshare.evaluation.fairness.evaluate` scores
them like every other receiver:

- ``none``: the classifier as it is;
- ``reweighing`` (Kamiran and Calders 2012): each training row weighted by
  w(s, y) = P(s) P(y) / P(s, y), computed on the samples, which makes S and Y independent in the
  weighted table and so undoes exactly the association a fairness poisoning plants;
- ``exponentiated_gradient``: fairlearn's reductions approach (Agarwal et al. 2018) under a
  demographic-parity constraint; it refits the classifier (with sample weights) up to
  ``max_iter`` times, and predicts with the randomised classifier it finds (seeded);
- ``threshold_optimizer``: fairlearn's post-processing (Hardt et al. 2016) under a
  demographic-parity constraint: group-specific thresholds on the scores of the classifier,
  trained plainly first (``prefit``), chosen on the samples (seeded randomisation between
  thresholds at prediction time; it reads each test row's s, which the receiver's test table
  holds).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from diffshare.data.schema import TableSchema
from diffshare.defenses.audit import sy_table
from diffshare.errors import ConfigError, DataError
from diffshare.receivers.tabular import align_categories, make_classifier

log = logging.getLogger(__name__)

#: The mitigations, ``none`` (the unmitigated receiver) first.
MITIGATIONS = ("none", "reweighing", "exponentiated_gradient", "threshold_optimizer")

#: Settings of fairlearn's ExponentiatedGradient that the config may set.
EXPONENTIATED_GRADIENT_KEYS = ("eps", "max_iter", "nu", "eta0")


def reweighing_weights(s: Any, y: Any) -> np.ndarray:
    """Kamiran-Calders weights w(s, y) = P(s) P(y) / P(s, y) of each row, shape (n,), from the
    rows' own 0/1 ``s`` and ``y``. The weighted shares of the (s, y) cells are P(s) P(y), so S and
    Y are independent in the weighted table. Raises :class:`DataError` when a cell is empty (its
    weight is undefined)."""
    counts = sy_table(s, y, what="training table")
    empty = [(int(a), int(b)) for a, b in zip(*np.nonzero(counts == 0), strict=True)]
    if empty:
        raise DataError(
            f"reweighing needs every (s, y) cell; the training table has none of (s, y) = {empty}"
        )
    joint = counts / counts.sum()
    weights = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True) / joint
    return weights[np.asarray(s, dtype=int), np.asarray(y, dtype=int)]


def check_mitigation(name: str) -> str:
    if name not in MITIGATIONS:
        raise ConfigError(f"unknown mitigation {name!r}; choose one of {list(MITIGATIONS)}")
    return name


def mitigated_predictions(
    mitigation: str,
    classifier: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    schema: TableSchema,
    *,
    params: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    use_sensitive: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """Train ``classifier`` (with its ``params``) on ``train`` under ``mitigation`` and predict
    the real ``test`` rows. ``settings`` are the mitigation's own (for
    ``exponentiated_gradient``: any of :data:`EXPONENTIATED_GRADIENT_KEYS`). Returns one row
    per test row: ``y_true``, ``y_pred`` (int8), ``y_score`` (probability of the positive label,
    float) and ``s`` (int8, 1 = privileged)."""
    check_mitigation(mitigation)
    schema.check_table(train, "training table")
    schema.check_table(test, "test table")
    y_train, s_train = schema.labels(train), schema.groups(train)
    if len(np.unique(y_train)) < 2:
        raise DataError(
            f"training table holds only one label value ({int(y_train[0])}); "
            "a classifier cannot be trained on it"
        )
    model = make_classifier(
        classifier, schema, use_sensitive=use_sensitive, seed=seed, params=params
    )
    train = align_categories(train, test, schema)
    s_test = schema.groups(test)
    start = time.perf_counter()
    y_pred, score = fit_and_predict(
        mitigation,
        model,
        train,
        y_train,
        s_train,
        test,
        s_test,
        sample_weight_name="classify__sample_weight",
        settings=settings,
        seed=seed,
    )
    log.info(
        "%s %s on %d rows in %.2f s",
        mitigation,
        classifier,
        len(train),
        time.perf_counter() - start,
    )
    return predictions_table(schema.labels(test), y_pred, score, s_test, index=test.index)


def predictions_table(
    y_true: Any, y_pred: Any, score: Any, s: Any, *, index: pd.Index | None = None
) -> pd.DataFrame:
    """The receiver's predictions format (``y_true`` and ``s`` as given, ``y_pred`` int8,
    ``y_score`` float in [0, 1]), which :func:`diffshare.evaluation.fairness.evaluate` scores."""
    return pd.DataFrame(
        {
            "y_true": np.asarray(y_true),
            "y_pred": np.asarray(y_pred).astype(np.int8),
            # fairlearn's mixtures can stray past [0, 1] by rounding
            "y_score": np.clip(np.asarray(score, dtype=np.float64), 0.0, 1.0),
            "s": np.asarray(s),
        },
        index=index,
    )


def fit_and_predict(
    mitigation: str,
    model: Any,
    train: Any,
    y_train: np.ndarray,
    s_train: np.ndarray,
    test: Any,
    s_test: np.ndarray,
    *,
    sample_weight_name: str = "sample_weight",
    settings: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Both tracks' mitigation core: fit the unfitted receiver ``model`` (a scikit-learn
    pipeline on a table, the CNN on images: anything with ``fit(X, y, **{sample_weight_name:
    w})``, ``predict_proba`` and ``classes_``) on ``train`` (0/1 ``y_train``, ``s_train``)
    under ``mitigation``, and predict ``test`` (whose rows' 0/1 ``s_test`` the
    threshold optimizer reads). Returns ``(y_pred, score)``: the 0/1 predictions and the
    probability of the positive label, each of shape (n_test,).

    ``threshold_optimizer`` fits the model plainly, then fairlearn's ThresholdOptimizer on its
    scores (``prefit``); ``exponentiated_gradient`` refits clones of the model with fairlearn's
    weights (``settings``: any of :data:`EXPONENTIATED_GRADIENT_KEYS`)."""
    check_mitigation(mitigation)
    settings = dict(settings or {})
    if mitigation in ("none", "reweighing"):
        fit_params = {}
        if mitigation == "reweighing":
            fit_params[sample_weight_name] = reweighing_weights(s_train, y_train)
        model.fit(train, y_train, **fit_params)
        score = model.predict_proba(test)[:, list(model.classes_).index(1)]
        return (score >= 0.5).astype(np.int8), score
    if mitigation == "exponentiated_gradient":
        from fairlearn.reductions import DemographicParity, ExponentiatedGradient

        unknown = sorted(set(settings) - set(EXPONENTIATED_GRADIENT_KEYS))
        if unknown:
            raise ConfigError(
                f"defense.exponentiated_gradient: unknown settings {unknown}; "
                f"choose from {list(EXPONENTIATED_GRADIENT_KEYS)}"
            )
        reduction = ExponentiatedGradient(
            model, DemographicParity(), sample_weight_name=sample_weight_name, **settings
        )
        reduction.fit(train, y_train, sensitive_features=s_train)
        log.info(
            "exponentiated gradient: %d iterations, %d predictors with weight > 0",
            reduction.n_oracle_calls_,
            int((reduction.weights_ > 0).sum()),
        )
        score = reduction._pmf_predict(test)[:, 1]
        return np.asarray(reduction.predict(test, random_state=seed)), score
    from fairlearn.postprocessing import ThresholdOptimizer

    model.fit(train, y_train)
    optimizer = ThresholdOptimizer(
        estimator=model,
        constraints="demographic_parity",
        objective="accuracy_score",
        predict_method="predict_proba",
        prefit=True,
    )
    optimizer.fit(train, y_train, sensitive_features=s_train)
    score = optimizer._pmf_predict(test, sensitive_features=s_test)[:, 1]
    return np.asarray(optimizer.predict(test, sensitive_features=s_test, random_state=seed)), score
