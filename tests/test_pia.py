"""The property inference estimator, its bound, the correction and the sharer's tables."""

import math

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from diffshare.attacks.pia.bounds import hoeffding_eps, hoeffding_queries
from diffshare.attacks.pia.discriminator import discriminator_rates
from diffshare.attacks.pia.estimate import batch_estimates, correct
from diffshare.attacks.pia.property import Property, ratio_rows, sharer_rows
from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.errors import ConfigError, DataError
from diffshare.reporting.tables import PIA_COLUMNS, generator_comparison, pia_table
from diffshare.tracks.tabular import estimate_property, property_schema, sharer_schema, sharer_set

FEMALE = Property("sex", "Female")
LOGREG = {"classifier": "logreg", "params": {}, "holdout": 0.5}


@pytest.fixture(scope="module")
def adult(catalogue):
    entry = {**catalogue["adult"], "max_rows": {"train": 4000, "test": 3000}}
    return prepare(DatasetSpec.from_config("adult", entry, REPO))


def test_hoeffding_bound_matches_the_paper():
    # The paper: n = 738 queries give eps = 0.05 at delta = 0.05.
    assert hoeffding_queries(0.05, 0.05) == 738
    assert hoeffding_eps(738) <= 0.05 < hoeffding_eps(737)
    assert hoeffding_eps(1000) == pytest.approx(math.sqrt(math.log(40) / 2000))
    # The bound holds: 2 exp(-2 n eps^2) equals delta at eps(n, delta).
    assert 2 * math.exp(-2 * 200 * hoeffding_eps(200, 0.1) ** 2) == pytest.approx(0.1)


@pytest.mark.parametrize(("n", "delta"), [(0, 0.05), (10, 0.0), (10, 1.0)])
def test_hoeffding_bound_refuses_bad_arguments(n, delta):
    with pytest.raises(ConfigError):
        hoeffding_eps(n, delta)


def test_correction_inverts_a_known_bias():
    # A discriminator with TPR 0.8 and FPR 0.1 reports 0.1 + 0.7 p on data with share p.
    truth = np.array([0.0, 0.3, 0.6, 1.0])
    reported = 0.1 + 0.7 * truth
    np.testing.assert_allclose(correct(reported, 0.8, 0.1), truth)
    # Estimates beyond what the rates allow are clipped to [0, 1].
    np.testing.assert_array_equal(correct(np.array([0.0, 0.95]), 0.8, 0.1), [0.0, 1.0])


def test_correction_refuses_a_useless_discriminator():
    with pytest.raises(DataError, match=r"no better than chance \(TPR 0.400 <= FPR 0.400\)"):
        correct(np.array([0.5]), 0.4, 0.4)


def test_rates_of_hard_predictions():
    truth = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0])
    predicted = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0])
    assert discriminator_rates(truth, predicted) == (0.75, 0.2)
    with pytest.raises(DataError, match="with and without the property"):
        discriminator_rates(np.ones(4), np.ones(4))


def test_batch_estimates_use_disjoint_batches():
    values = np.repeat([1, 0, 1, 1], 5)  # four batches of five: all 1, all 0, ...
    np.testing.assert_array_equal(batch_estimates(values, 5, 4), [1.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(batch_estimates(values, 10, 2), [0.5, 1.0])
    with pytest.raises(DataError, match="3 disjoint batches of 10 queries need 30 samples"):
        batch_estimates(values, 10, 3)


def test_rows_have_the_exact_ratio():
    has = np.repeat([1, 0], [300, 700])
    for ratio in (0.0, 0.1, 0.5, 0.9):
        rows = ratio_rows(has, ratio, 250, seed=3)
        assert rows.shape == (250,) and len(set(rows)) == 250
        assert has[rows].sum() == round(250 * ratio)
    # Seeded, and shuffled: the property's rows are not all first.
    a, b = (ratio_rows(has, 0.5, 200, seed=1) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not (has[a][:100] == 1).all()


def test_sharer_rows_of_a_table_with_their_record(adult):
    train, _, _ = adult
    rows, record = sharer_rows(train, FEMALE, ratio=0.1, size=1000, seed=3)
    assert FEMALE.indicator(train.iloc[rows]).sum() == 100
    assert record["true_ratio"] == 0.1 and record["size"] == 1000
    assert record["n_pool"] == len(train)
    assert record["pool_ratio"] == pytest.approx(FEMALE.indicator(train).mean())


def test_subset_larger_than_the_pool_can_supply_is_refused(adult):
    train, _, _ = adult
    females = int(FEMALE.indicator(train).sum())
    with pytest.raises(DataError, match=rf"the pool has {females} rows with property sex == "):
        sharer_rows(train, FEMALE, ratio=0.9, size=3000, seed=0)
    with pytest.raises(ConfigError, match="ratio must be in"):
        ratio_rows(FEMALE.indicator(train), 1.5, 10, seed=0)


def test_property_column_must_exist():
    with pytest.raises(DataError, match="has no column 'gender'"):
        Property("gender", "F").indicator(pd.DataFrame({"sex": ["F"]}))


def test_hidden_property_is_left_out_of_table_and_schema(adult):
    train, _, schema = adult
    table, record = sharer_set(
        train, FEMALE, schema=schema, ratio=0.3, size=500, seed=0, hide_property=True
    )
    hidden = sharer_schema(schema, FEMALE, hide_property=True)
    assert "sex" not in table.columns and "sex" not in hidden.categorical
    hidden.check_table(table)
    assert record["true_ratio"] == 0.3 and record["hide_property"] is True
    assert sharer_schema(schema, FEMALE, hide_property=False) == schema
    with pytest.raises(ConfigError, match="cannot hide the label column 'income'"):
        sharer_set(
            train,
            Property("income", ">50K"),
            schema=schema,
            ratio=0.3,
            size=10,
            seed=0,
            hide_property=True,
        )
    with pytest.raises(ConfigError, match="value 'female' never occurs in column 'sex'"):
        sharer_set(train, Property("sex", "female"), schema=schema, ratio=0.3, size=10, seed=0)


def test_property_classifier_schema_predicts_the_property(adult):
    _, _, schema = adult
    target = property_schema(schema, FEMALE)
    assert target.label == "sex" and target.positive == "Female"
    assert "sex" not in target.feature_columns() and "income" in target.feature_columns()


def test_estimates_from_rows_with_a_known_share(adult):
    # Real training rows at share 0.1 stand in for a perfect generator's samples: `column` is
    # exact, and correcting the auxiliary classifier removes most of its bias (which grows with
    # the distance from the auxiliary data's own share, about 0.33).
    train, test, schema = adult
    samples, _ = sharer_set(train, FEMALE, schema=schema, ratio=0.1, size=2000, seed=0)
    estimates, record = estimate_property(
        samples,
        test,
        FEMALE,
        schema=schema,
        attacks=["column", "aux", "aux_corrected"],
        queries=[200, 500],
        repeats=4,
        discriminator=LOGREG,
        seed=0,
    )
    assert len(estimates) == 3 * 2 * 4
    column = estimates[estimates["attack"] == "column"]
    batches = FEMALE.indicator(samples)[:2000].astype(float)
    assert column[column["n_queries"] == 500]["estimate"].tolist() == [
        batches[i * 500 : (i + 1) * 500].mean() for i in range(4)
    ]
    assert record["discriminator"] == "logreg"
    assert 0.5 < record["tpr"] <= 1 and 0 <= record["fpr"] < record["tpr"]
    assert record["n_auxiliary_fit"] + record["n_auxiliary_holdout"] == len(test)
    mean = estimates[estimates["n_queries"] == 500].groupby("attack")["estimate"].mean()
    assert abs(mean["aux_corrected"] - 0.1) < abs(mean["aux"] - 0.1) / 2
    assert abs(mean["aux_corrected"] - 0.1) < 0.05


def test_column_attack_needs_the_property_column(adult):
    train, test, schema = adult
    samples = train.drop(columns=["sex"]).iloc[:100]
    with pytest.raises(DataError, match="the samples has no column 'sex'"):
        estimate_property(
            samples, test, FEMALE, schema=schema, attacks=["column"], queries=[10], repeats=2,
            discriminator=LOGREG,
        )  # fmt: skip
    # Without the column the auxiliary attacks still run.
    estimates, _ = estimate_property(
        samples, test, FEMALE, schema=schema, attacks=["aux"], queries=[10], repeats=2,
        discriminator=LOGREG,
    )  # fmt: skip
    assert len(estimates) == 2


def test_table_aggregates_repeats():
    estimates = pd.DataFrame(
        {
            "dataset": "d",
            "generator": "g",
            "attack": "column",
            "true_ratio": 0.5,
            "n_queries": 100,
            "seed": 0,
            "repeat": [0, 1, 2, 3],
            "estimate": [0.5, 0.6, 0.4, 0.9],
        }
    )
    table = pia_table(estimates)
    assert list(table.columns[: len(PIA_COLUMNS)]) == PIA_COLUMNS
    row = table.iloc[0]
    eps = hoeffding_eps(100)  # 0.136
    assert row["estimate_mean"] == pytest.approx(0.6)
    assert row["estimate_std"] == pytest.approx(np.std([0.5, 0.6, 0.4, 0.9], ddof=1))
    assert row["abs_error"] == pytest.approx((0 + 0.1 + 0.1 + 0.4) / 4)
    assert row["hoeffding_eps"] == pytest.approx(eps)
    assert row["within_bound_rate"] == 0.75 and row["repeats"] == 4
    with pytest.raises(DataError, match="not a finite number"):
        pia_table(estimates.assign(estimate=np.nan))


def test_comparison_marks_where_the_diffusion_model_is_best():
    table = pd.DataFrame(
        {
            "generator": ["tabddpm", "ctgan", "tabddpm", "ctgan", "tabddpm"],
            "attack": "column",
            "true_ratio": [0.1, 0.1, 0.5, 0.5, 0.5],
            "n_queries": [1000, 1000, 1000, 1000, 100],
            "abs_error": [0.01, 0.05, 0.04, 0.02, 0.0],
        }
    )
    comparison = generator_comparison(table)
    assert comparison["tabddpm"].tolist() == [0.01, 0.04]  # the n = 100 row is left out
    assert comparison["tabddpm_best"].tolist() == [True, False]
