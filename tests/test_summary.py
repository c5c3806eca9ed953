"""Intervals over seeds and the one-sided tests, on inputs with known answers."""

import math

import numpy as np
import pandas as pd
import pytest

from diffshare.errors import DataError
from diffshare.reporting.summary import (
    fpa_summary,
    one_sided_t_test,
    pia_summary,
    summarise,
    t_interval,
)


def test_t_interval_of_five_seeds():
    mean, std, low, high = t_interval([1, 2, 3, 4, 5])
    assert mean == 3 and std == pytest.approx(math.sqrt(2.5))
    # t(0.975, 4) = 2.7764451; half width = 2.7764451 * sqrt(2.5) / sqrt(5)
    assert (low, high) == pytest.approx((3 - 1.9632432, 3 + 1.9632432), abs=1e-6)


def test_one_seed_has_no_interval():
    mean, std, low, high = t_interval([0.25])
    assert mean == 0.25 and math.isnan(std) and math.isnan(low) and math.isnan(high)
    assert all(math.isnan(p) for p in one_sided_t_test([0.25]))


def test_bad_values_are_refused():
    with pytest.raises(DataError, match="no values"):
        t_interval([])
    with pytest.raises(DataError, match="finite"):
        t_interval([0.1, float("nan")])


def test_t_interval_covers_the_mean_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    draws = rng.normal(0.3, 0.1, size=(4000, 5))
    covered = [low <= 0.3 <= high for _, _, low, high in map(t_interval, draws)]
    assert np.mean(covered) == pytest.approx(0.95, abs=0.012)


def test_one_sided_t_test_known_answer():
    greater, less = one_sided_t_test([1, 2, 3, 4, 5], 0.0)
    # t = 3 / (sqrt(2.5) / sqrt(5)) = 4.2426 on 4 degrees of freedom
    assert greater == pytest.approx(0.00662, abs=1e-5)  # from a t table
    assert less == pytest.approx(1 - greater)
    assert one_sided_t_test([0.2, 0.2, 0.2]) == (0.0, 1.0)  # no spread: certain
    assert one_sided_t_test([0.0, 0.0]) == (0.5, 0.5)


def test_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(1)
    p = np.array([one_sided_t_test(rng.normal(size=5))[0] for _ in range(3000)])
    assert np.mean(p < 0.05) == pytest.approx(0.05, abs=0.012)
    assert np.mean(p < 0.5) == pytest.approx(0.5, abs=0.03)


def fpa_rows(seeds, loss=0.1):
    return pd.DataFrame(
        {
            "dataset": "adult",
            "attack": "mi_greedy",
            "alpha": 0.5,
            "classifier": "logreg",
            "seed": seeds,
            "accuracy_loss": [0.01 * (s + 1) for s in seeds],
            "fairness_loss": loss,
            "accuracy": 0.8,
            "dp_difference": 0.3,
            "eo_difference": 0.2,
        }
    )


def test_fpa_summary_columns_and_values():
    summary = fpa_summary(fpa_rows([0, 1, 2]))
    assert len(summary) == 1 and summary["n_seeds"].iloc[0] == 3
    for metric in ("accuracy_loss", "fairness_loss", "accuracy", "dp_difference", "eo_difference"):
        assert {f"{metric}_{s}" for s in ("mean", "std", "ci_low", "ci_high")} <= set(summary)
    assert summary["accuracy_loss_mean"].iloc[0] == pytest.approx(0.02)


def test_one_seed_summary_leaves_intervals_empty(tmp_path):
    summary = fpa_summary(fpa_rows([0]))
    assert summary["n_seeds"].iloc[0] == 1
    assert summary["fairness_loss_ci_low"].isna().all()
    summary.to_csv(tmp_path / "s.csv", index=False)
    assert ",0.1,,," in (tmp_path / "s.csv").read_text()  # mean, then empty std and bounds


def test_two_rows_of_one_seed_are_refused():
    with pytest.raises(DataError, match="more than one row per seed"):
        summarise(fpa_rows([0, 0]), ["attack"], ["fairness_loss"])


def test_pia_summary_pools_the_within_bound_rate():
    table = pd.DataFrame(
        {
            "dataset": "adult",
            "generator": "tabddpm",
            "attack": "column",
            "true_ratio": 0.3,
            "n_queries": 100,
            "seed": [0, 1],
            "abs_error": [0.02, 0.04],
            "within_bound_rate": [1.0, 0.5],
            "repeats": [10, 10],
        }
    )
    summary = pia_summary(table)
    assert summary["abs_error_mean"].iloc[0] == pytest.approx(0.03)
    assert summary["within_bound_rate"].iloc[0] == pytest.approx(0.75)
