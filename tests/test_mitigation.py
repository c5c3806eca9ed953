"""The receiver's mitigations and the defense table, on small tables with known answers."""

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from diffshare.data.schema import TableSchema
from diffshare.defenses.fpa_report import DEFENSE_FPA_COLUMNS, defense_fpa_table
from diffshare.defenses.mitigation import mitigated_predictions, reweighing_weights
from diffshare.errors import ConfigError, DataError
from diffshare.evaluation.fairness import evaluate

SCHEMA = TableSchema(
    numeric=["skill", "hours"],
    categorical=["job", "sex"],
    label="income",
    positive="high",
    sensitive="sex",
    privileged="M",
    categories={"job": ["a", "b", "c"], "sex": ["F", "M"], "income": ["high", "low"]},
)


def poisoned_table(rng, n, bias):
    """A table whose label depends on skill and, by ``bias`` on the logit, on sex."""
    s = rng.random(n) < 0.6
    skill = rng.normal(0, 1, n)
    logit = 1.5 * skill + bias * (s - 0.5) - 0.8
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "skill": skill,
            "hours": rng.normal(40, 8, n),
            "job": pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["a", "b", "c"]),
            "sex": pd.Categorical(np.where(s, "M", "F"), categories=["F", "M"]),
            "income": pd.Categorical(np.where(y, "high", "low"), categories=["high", "low"]),
        }
    )


@pytest.fixture(autouse=True)
def one_thread():
    """One OpenMP thread: on a small, busy machine spinning threads cost tenfold."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(0)
    return poisoned_table(rng, 800, bias=3.0), poisoned_table(rng, 500, bias=0.0)


def test_reweighing_makes_s_and_y_independent_in_the_weighted_table():
    rng = np.random.default_rng(1)
    s = (rng.random(5000) < 0.3).astype(int)
    y = (rng.random(5000) < np.where(s == 1, 0.6, 0.1)).astype(int)
    weights = reweighing_weights(s, y)
    joint = np.array([[weights[(s == a) & (y == b)].sum() for b in (0, 1)] for a in (0, 1)])
    joint /= joint.sum()
    np.testing.assert_allclose(joint, np.outer(joint.sum(axis=1), joint.sum(axis=0)))
    # The weighted marginals are the table's own, and the weights sum to the row count.
    np.testing.assert_allclose(joint.sum(axis=1), [np.mean(s == 0), np.mean(s == 1)])
    np.testing.assert_allclose(joint.sum(axis=0), [np.mean(y == 0), np.mean(y == 1)])
    assert weights.sum() == pytest.approx(len(s))
    # Under-represented cells weigh more: privileged negatives are rare here.
    assert weights[(s == 1) & (y == 0)][0] > 1 > weights[(s == 1) & (y == 1)][0]


def test_reweighing_needs_every_cell():
    with pytest.raises(DataError, match=r"\(s, y\) = \[\(1, 0\)\]"):
        reweighing_weights([0, 0, 1, 1], [0, 1, 1, 1])


@pytest.mark.parametrize("classifier", ["logreg", "hgb"])
def test_mitigations_reduce_the_planted_disparity(tables, classifier):
    train, test = tables
    results = {}
    for mitigation, settings in [
        ("none", None),
        ("reweighing", None),
        ("threshold_optimizer", None),
        ("exponentiated_gradient", {"max_iter": 3, "eps": 0.02}),
    ]:
        predictions = mitigated_predictions(
            mitigation,
            classifier,
            train,
            test,
            SCHEMA,
            settings=settings,
            params={"max_iter": 50} if classifier == "hgb" else None,
            seed=0,
        )
        assert list(predictions.columns) == ["y_true", "y_pred", "y_score", "s"]
        assert predictions.index.equals(test.index)
        assert predictions["y_score"].between(0, 1).all()
        results[mitigation] = evaluate(predictions)
    unmitigated = results["none"]["dp_difference"]
    assert unmitigated > 0.2
    # Reweighing removes the S-Y association of the training table, not the classifier's use of
    # s through other features, so it reduces the disparity less than the constrained learners.
    assert results["reweighing"]["dp_difference"] < 0.8 * unmitigated
    for mitigation in ("threshold_optimizer", "exponentiated_gradient"):
        assert results[mitigation]["dp_difference"] < unmitigated / 2, mitigation
    for mitigation, metrics in results.items():
        assert metrics["accuracy"] > 0.6, mitigation


def test_mitigations_are_seeded(tables):
    train, test = tables
    first, second = (
        mitigated_predictions("threshold_optimizer", "logreg", train, test, SCHEMA, seed=3)
        for _ in range(2)
    )
    pd.testing.assert_frame_equal(first, second)


def test_unknown_mitigation_or_setting_is_named(tables):
    train, test = tables
    with pytest.raises(ConfigError, match="unknown mitigation 'fair'"):
        mitigated_predictions("fair", "logreg", train, test, SCHEMA)
    with pytest.raises(ConfigError, match=r"unknown settings \['iterations'\]"):
        mitigated_predictions(
            "exponentiated_gradient", "logreg", train, test, SCHEMA, settings={"iterations": 3}
        )


def record(attack, alpha, seed, classifier, accuracy, dp, mitigation=None):
    row = {
        "dataset": "toy",
        "seed": seed,
        "classifier": classifier,
        "accuracy": accuracy,
        "dp_difference": dp,
        "eo_difference": 0.1,
    }
    if mitigation is None:
        return {**row, "source": f"synthetic/attack~{attack}/alpha~{alpha}"}
    return {**row, "attack": attack, "alpha": alpha, "mitigation": mitigation}


def test_defense_table_losses_and_recovery_known_values():
    unmitigated = [
        record("none", "0", 0, "logreg", 0.85, 0.10),
        record("mi_greedy", "0.5", 0, "logreg", 0.80, 0.30),
    ]
    mitigated = [
        record("none", 0.0, 0, "logreg", 0.83, 0.02, "reweighing"),
        record("mi_greedy", 0.5, 0, "logreg", 0.82, 0.15, "reweighing"),
    ]
    table = defense_fpa_table(unmitigated, mitigated)
    assert list(table.columns[: len(DEFENSE_FPA_COLUMNS)]) == DEFENSE_FPA_COLUMNS
    row = table.set_index(["attack", "mitigation"])
    assert row.loc[("mi_greedy", "none"), "fairness_loss"] == pytest.approx(0.20)
    assert row.loc[("mi_greedy", "none"), "recovered"] == pytest.approx(0.0)
    assert row.loc[("mi_greedy", "reweighing"), "fairness_loss"] == pytest.approx(0.05)
    assert row.loc[("mi_greedy", "reweighing"), "accuracy_loss"] == pytest.approx(0.03)
    assert row.loc[("mi_greedy", "reweighing"), "recovered"] == pytest.approx(0.75)
    # The unpoisoned model lost no fairness: nothing to recover.
    assert np.isnan(row.loc[("none", "reweighing"), "recovered"])
    assert row.loc[("none", "reweighing"), "fairness_loss"] == pytest.approx(-0.08)


def test_defense_table_needs_the_unpoisoned_receiver():
    with pytest.raises(DataError, match="no unpoisoned"):
        defense_fpa_table(
            [record("mi_greedy", "0.5", 0, "logreg", 0.8, 0.3)],
            [record("mi_greedy", 0.5, 0, "logreg", 0.8, 0.1, "reweighing")],
        )
