import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
)

from diffshare.errors import DataError
from diffshare.evaluation.fairness import evaluate


def predictions(y_true, y_pred, s):
    return pd.DataFrame(
        {"y_true": y_true, "y_pred": y_pred, "y_score": np.asarray(y_pred, float), "s": s}
    )


# Privileged group (s=1): every prediction right, selection rate 2/4, TPR 1, FPR 0.
# Unprivileged group (s=0): one positive missed, selection rate 1/4, TPR 1/2, FPR 0.
HAND = predictions(
    y_true=[1, 1, 0, 0, 1, 1, 0, 0],
    y_pred=[1, 1, 0, 0, 1, 0, 0, 0],
    s=[1, 1, 1, 1, 0, 0, 0, 0],
)


def test_metrics_match_hand_computed_values():
    metrics = evaluate(HAND)
    assert metrics["accuracy"] == pytest.approx(7 / 8)
    assert metrics["selection_rate_privileged"] == pytest.approx(0.5)
    assert metrics["selection_rate_unprivileged"] == pytest.approx(0.25)
    assert metrics["dp_difference"] == pytest.approx(0.25)
    assert metrics["dp_ratio"] == pytest.approx(0.5)
    assert metrics["eo_difference"] == pytest.approx(0.5)  # TPR gap 1/2 beats FPR gap 0
    assert metrics["accuracy_privileged"] == pytest.approx(1.0)
    assert metrics["accuracy_unprivileged"] == pytest.approx(0.75)
    assert (metrics["n_test_privileged"], metrics["n_test_unprivileged"]) == (4, 4)


def test_metrics_match_fairlearn_on_random_predictions():
    rng = np.random.default_rng(0)
    y_true, y_pred, s = (rng.integers(0, 2, 500) for _ in range(3))
    metrics = evaluate(predictions(y_true, y_pred, s))
    assert metrics["dp_difference"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, sensitive_features=s)
    )
    assert metrics["dp_ratio"] == pytest.approx(
        demographic_parity_ratio(y_true, y_pred, sensitive_features=s)
    )
    assert metrics["eo_difference"] == pytest.approx(
        equalized_odds_difference(y_true, y_pred, sensitive_features=s)
    )
    assert metrics["accuracy"] == pytest.approx(np.mean(y_true == y_pred))


def test_parity_ratio_is_one_when_no_group_is_ever_selected():
    metrics = evaluate(predictions([1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 0, 0]))
    assert metrics["dp_ratio"] == 1.0 and metrics["dp_difference"] == 0.0


def test_a_missing_group_is_an_error():
    with pytest.raises(DataError, match=r"no row of the unprivileged group \(s=0\)"):
        evaluate(predictions([1, 0], [1, 0], [1, 1]))


def test_a_group_with_one_label_is_an_error():
    with pytest.raises(DataError, match="equalized odds is undefined"):
        evaluate(predictions([1, 0, 1, 1], [1, 0, 1, 1], [1, 1, 0, 0]))


def test_non_binary_predictions_are_refused():
    with pytest.raises(DataError, match=r"column 'y_pred' must be 0/1, found \[0, 1, 2\]"):
        evaluate(predictions([1, 0, 1, 0], [2, 0, 1, 0], [1, 1, 0, 0]))
