"""Fairness and accuracy of a classifier's test-set predictions, computed with fairlearn.

Group s=1 is the privileged group. Every metric is a rate in [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from diffshare.errors import DataError

PREDICTION_COLUMNS = ("y_true", "y_pred", "y_score", "s")
GROUP_NAMES = {1: "privileged", 0: "unprivileged"}


def check_predictions(predictions: pd.DataFrame) -> None:
    """Raise :class:`DataError` unless ``predictions`` holds 0/1 predictions for both groups."""
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise DataError(f"predictions lack the columns {missing}")
    if predictions.empty:
        raise DataError("predictions are empty")
    for column in ("y_true", "y_pred", "s"):
        values = set(np.unique(predictions[column].to_numpy()).tolist())
        if not values <= {0, 1}:
            raise DataError(f"predictions column {column!r} must be 0/1, found {sorted(values)}")
    if not np.isfinite(predictions["y_score"].to_numpy(dtype=float)).all():
        raise DataError("predictions column 'y_score' holds non-finite values")
    for group, name in GROUP_NAMES.items():
        in_group = predictions["s"].to_numpy() == group
        if not in_group.any():
            raise DataError(f"the test set holds no row of the {name} group (s={group})")
        y_true = predictions["y_true"].to_numpy()[in_group]
        if y_true.min() == y_true.max():
            raise DataError(
                f"the {name} group (s={group}) has only label {int(y_true[0])} in the test set; "
                "equalized odds is undefined"
            )


def evaluate(predictions: pd.DataFrame) -> dict[str, Any]:
    """Accuracy and group fairness of ``predictions`` (columns y_true, y_pred, y_score, s).

    Returns a flat dict: ``accuracy``, ``dp_difference`` (|P(f=1|s=1) - P(f=1|s=0)|), ``dp_ratio``
    (min over max selection rate; 1.0 when both groups have the same rate, zero included),
    ``eo_difference`` (the larger of the TPR and FPR gaps), and per group
    ``selection_rate_*``, ``accuracy_*``, ``tpr_*``, ``fpr_*`` and ``n_test_*``.
    """
    check_predictions(predictions)
    y_true = predictions["y_true"].to_numpy(dtype=int)
    y_pred = predictions["y_pred"].to_numpy(dtype=int)
    groups = predictions["s"].to_numpy(dtype=int)
    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "n_test": lambda y_t, y_p: len(y_t),
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=pd.Series(groups, name="s"),
    )
    rates = frame.by_group
    selection = rates["selection_rate"]
    if selection.max() == selection.min():
        dp_ratio = 1.0  # equal rates, including both zero: fairlearn's 0/0 would give NaN
    else:
        dp_ratio = float(demographic_parity_ratio(y_true, y_pred, sensitive_features=groups))
    metrics: dict[str, Any] = {
        "n_test": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "dp_difference": float(
            demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
        ),
        "dp_ratio": dp_ratio,
        "eo_difference": float(
            equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
        ),
    }
    for group, name in GROUP_NAMES.items():
        for metric in ("selection_rate", "accuracy", "tpr", "fpr"):
            metrics[f"{metric}_{name}"] = float(rates.loc[group, metric])
        metrics[f"n_test_{name}"] = int(rates.loc[group, "n_test"])
    bad = [k for k, v in metrics.items() if isinstance(v, float) and not np.isfinite(v)]
    if bad:
        raise DataError(f"metrics {bad} are not finite for these predictions")
    return metrics
