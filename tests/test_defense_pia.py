"""The sharer's defenses against property inference: rebalancing, decoy sampling, DP-SGD, and the
leakage slope."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO
from diffshare.attacks.pia.property import Property
from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.defenses.pia import (
    check_defense_settings,
    decoy_samples,
    rebalance_rows,
    rebalance_table,
    served_utility,
    sharer_property_classifier,
)
from diffshare.defenses.pia_report import (
    DEFENSE_COLUMNS,
    LEAKAGE_COLUMNS,
    PRIVACY_COLUMNS,
    defense_table,
    leakage_slope,
    leakage_table,
)
from diffshare.errors import ConfigError, DataError
from diffshare.generators.dp_preprocessing import PublicDomain
from diffshare.generators.dp_training import fit_private
from diffshare.generators.tabddpm import TabularDiffusion, TabularDiffusionConfig

FEMALE = Property("sex", "Female")
TINY = dict(hidden_dims=[32, 32], embedding_dim=16, num_timesteps=10, batch_size=128)


# tiny networks on one torch thread (tests/conftest.py: one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def adult(catalogue):
    entry = {**catalogue["adult"], "max_rows": {"train": 1500, "test": 300}}
    return prepare(DatasetSpec.from_config("adult", entry, REPO))


@pytest.fixture(scope="module")
def domain(catalogue):
    return PublicDomain.from_config("adult", catalogue["adult"]["domain"])


@pytest.fixture(scope="module")
def tiny_model(adult):
    train, _, schema = adult
    return TabularDiffusion(TabularDiffusionConfig(steps=40, **TINY), seed=0).fit(train, schema)


def test_utility_of_served_rows_with_both_labels_is_the_classifiers(adult):
    train, test, schema = adult
    utility = served_utility(train, test, schema=schema, params={}, seed=0)
    assert utility["single_label"] is None
    majority = max(schema.labels(test).mean(), 1 - schema.labels(test).mean())
    assert utility["accuracy_logreg"] > majority and utility["accuracy_hgb"] > majority


@pytest.mark.parametrize("label", [0, 1])
def test_served_rows_of_one_label_get_the_constant_classifier_they_support(adult, label):
    # A heavily noised model can serve one label only: no classifier fits it, the receiver's
    # only model predicts that label, and the record says so instead of the job failing.
    train, test, schema = adult
    one = train[schema.labels(train) == label]
    utility = served_utility(one, test, schema=schema, params={}, seed=0)
    share = float((schema.labels(test) == label).mean())
    assert utility == {"accuracy_logreg": share, "accuracy_hgb": share, "single_label": label}


# -- rebalance ------------------------------------------------------------------------------------
@pytest.mark.parametrize("decoy", [0.5, 0.2, 0.77])
def test_rebalanced_rows_hit_the_decoy_and_keep_every_label_count(decoy):
    rng = np.random.default_rng(0)
    has = (rng.random(1001) < 0.1).astype(np.int8)
    labels = np.where(rng.random(1001) < 0.3, ">50K", "<=50K")
    positions, record = rebalance_rows(has, labels, decoy, seed=1)
    assert positions.size == 1001
    assert has[positions].sum() == round(decoy * 1001)
    assert record["served_ratio"] == has[positions].mean()
    for value in (">50K", "<=50K"):
        assert (labels[positions] == value).sum() == (labels == value).sum()
    # The property is now (up to rounding) independent of the label.
    for value in (">50K", "<=50K"):
        assert abs(has[positions][labels[positions] == value].mean() - decoy) < 0.01


def test_rebalanced_adult_table_hits_the_decoy_exactly(adult):
    train, _, schema = adult
    table = train.iloc[:600]
    has = FEMALE.indicator(table)
    rebalanced, record = rebalance_table(table, has, schema=schema, decoy=0.5, seed=0)
    assert len(rebalanced) == len(table)
    assert FEMALE.indicator(rebalanced).sum() == 300
    assert rebalanced["income"].value_counts().to_dict() == table["income"].value_counts().to_dict()
    assert list(rebalanced.columns) == list(table.columns)
    assert record["duplicated_rows"] > 0  # Adult has fewer women than the decoy needs


def test_rebalance_names_the_empty_cell_it_needs():
    has = np.array([1, 1, 0, 0])
    labels = np.array(["a", "a", "b", "b"])  # no row of label a lacks the property
    with pytest.raises(DataError, match="label 'a' lacks the property"):
        rebalance_rows(has, labels, 0.5, seed=0)


# -- decoy sampling -------------------------------------------------------------------------------
def test_decoy_sampling_serves_the_decoy_share_from_a_tiny_model(tiny_model):
    draw = lambda count, seed: tiny_model.sample(count, seed=seed)  # noqa: E731
    served, record = decoy_samples(draw, FEMALE.indicator, n=300, decoy=0.5, seed=3)
    assert len(served) == 300
    assert FEMALE.indicator(served).sum() == 150
    assert record["drawn"] >= 300 and record["raw_share"] < 0.5  # the model leans Male
    again, _ = decoy_samples(draw, FEMALE.indicator, n=300, decoy=0.5, seed=3)
    pd.testing.assert_frame_equal(served, again)


def test_decoy_sampling_stops_naming_what_it_found():
    def draw(count, seed):
        return pd.DataFrame({"sex": ["Male"] * count})

    with pytest.raises(DataError, match="0 with and 40 without"):
        decoy_samples(draw, FEMALE.indicator, n=20, decoy=0.5, seed=0, max_draw_factor=2)


def test_sharer_classifier_serves_rows_without_the_column_near_the_decoy(adult):
    train, _, schema = adult
    table = train.iloc[:1000]
    predict = sharer_property_classifier(
        table.drop(columns=["sex"]),
        FEMALE.indicator(table),
        schema=schema.without("sex"),
        classifier="logreg",
    )

    def draw(count, seed):  # a model that reproduces the sharer's table, property column kept
        return train.sample(count, replace=True, random_state=seed)

    served, _ = decoy_samples(draw, predict, n=400, decoy=0.5, seed=0)
    assert predict(served.drop(columns=["sex"])).mean() == 0.5
    # The rows' real property share moves from the table's (about a third) towards the decoy.
    share = FEMALE.indicator(table).mean()
    assert share < 0.36 and FEMALE.indicator(served).mean() > share + 0.07


# -- DP-SGD ---------------------------------------------------------------------------------------
def test_per_sample_loss_averages_to_the_training_loss(tiny_model, adult):
    train, _, _ = adult
    x_num, codes, y = tiny_model.layout_.encode(train.iloc[:64], tiny_model.quantiles_, "cpu")
    losses = []
    for per_sample in (False, True):
        generator = torch.Generator().manual_seed(5)
        losses.append(tiny_model._loss(x_num, codes, y, generator, per_sample=per_sample))
    (mean_num, mean_cat), (rows_num, rows_cat) = losses
    assert rows_num.shape == (64,) and rows_cat.shape == (64,)
    assert torch.allclose(rows_num.mean(), mean_num) and torch.allclose(rows_cat.mean(), mean_cat)


@pytest.mark.parametrize("mode, accountant", [("ghost", "prv"), ("hooks", "rdp")])
def test_dp_sgd_trains_a_tiny_table_and_reports_a_finite_epsilon(adult, domain, mode, accountant):
    train, _, schema = adult
    table = train.iloc[:300]
    model = TabularDiffusion(TabularDiffusionConfig(**TINY), seed=0)
    record = fit_private(
        model,
        table,
        schema,
        domain=domain,
        target_epsilon=5.0,
        epochs=3,
        batch_size=64,
        grad_sample_mode=mode,
        accountant=accountant,
    )
    assert math.isfinite(record["spent_epsilon"]) and 0 < record["spent_epsilon"] <= 5.0 * 1.01
    assert record["epsilon_preprocessing"] == pytest.approx(0.5)  # the default share, 0.1
    assert record["spent_epsilon"] == pytest.approx(0.5 + record["spent_epsilon_training"])
    assert record["spent_epsilon_training"] <= record["epsilon_training"] * 1.01
    assert record["noise_multiplier"] > 0 and record["steps"] >= 1
    samples = model.sample(50, seed=0)
    assert list(samples.columns) == list(table.columns) and len(samples) == 50


def test_smaller_epsilon_means_more_noise(adult, domain):
    train, _, schema = adult
    table = train.iloc[:300]
    noise = []
    for epsilon in (1.0, 10.0):
        model = TabularDiffusion(TabularDiffusionConfig(**TINY), seed=0)
        noise.append(
            fit_private(
                model,
                table,
                schema,
                domain=domain,
                target_epsilon=epsilon,
                epochs=1,
                accountant="rdp",
            )["noise_multiplier"]
        )
    assert noise[0] > 2 * noise[1]


def test_dp_sgd_names_an_invalid_setting(adult, domain):
    train, _, schema = adult
    model = TabularDiffusion(TabularDiffusionConfig(**TINY), seed=0)
    with pytest.raises(ConfigError, match="target_epsilon=0"):
        fit_private(model, train, schema, domain=domain, target_epsilon=0)
    with pytest.raises(ConfigError, match="preprocessing_epsilon_share=1.0"):
        fit_private(
            model,
            train,
            schema,
            domain=domain,
            target_epsilon=1.0,
            preprocessing_epsilon_share=1.0,
        )
    with pytest.raises(ConfigError, match="domain=None"):
        fit_private(model, train, schema, domain=None, target_epsilon=1.0)


# -- tables ---------------------------------------------------------------------------------------
def test_slope_of_known_lines():
    ratios = [0.1, 0.3, 0.5, 0.7, 0.9]
    assert leakage_slope(ratios, ratios) == pytest.approx(1.0)
    assert leakage_slope(ratios, [0.5] * 5) == pytest.approx(0.0)
    assert leakage_slope(ratios, [0.3 + 0.25 * r for r in ratios]) == pytest.approx(0.25)
    with pytest.raises(DataError, match="two distinct"):
        leakage_slope([0.5, 0.5], [0.1, 0.2])


def synthetic_table(slopes_by_seed, defense="rebalance", setting="decoy~0.5"):
    """Per-repeat estimates on exact lines (one slope per seed) and utilities."""
    estimates, utility = [], []
    for seed, slope in enumerate(slopes_by_seed):
        for ratio in (0.1, 0.5, 0.9):
            for name, line, acc in (
                (defense, 0.5 + slope * (ratio - 0.5), 0.80),
                ("none", ratio, 0.83),
            ):
                for repeat in range(2):
                    estimates.append(
                        dict(
                            defense=name,
                            setting=setting if name != "none" else "none",
                            generator="tabddpm",
                            attack="column",
                            true_ratio=ratio,
                            n_queries=100,
                            seed=seed,
                            repeat=repeat,
                            estimate=line,
                        )
                    )
                utility.append(
                    dict(
                        defense=name,
                        setting=setting if name != "none" else "none",
                        generator="tabddpm",
                        true_ratio=ratio,
                        seed=seed,
                        accuracy_logreg=acc,
                        accuracy_hgb=acc - 0.01,
                    )
                )
    return pd.DataFrame(estimates), pd.DataFrame(utility)


def test_defense_table_gaps_and_leakage_over_seeds():
    estimates, utility = synthetic_table([0.0, 0.1, 0.2])
    table = defense_table(estimates, utility)
    assert list(table.columns) == DEFENSE_COLUMNS
    assert list(table["defense"].unique()) == ["none", "rebalance"]
    defended = table[table["defense"] == "rebalance"]
    assert defended["accuracy_gap_logreg"].to_numpy() == pytest.approx(0.03)
    assert table.loc[table["defense"] == "none", "accuracy_gap_hgb"].eq(0).all()
    leakage = leakage_table(table).set_index("defense")
    assert list(leakage.reset_index().columns) == LEAKAGE_COLUMNS
    assert leakage.loc["none", "slope"] == pytest.approx(1.0)
    row = leakage.loc["rebalance"]
    assert row["slope"] == pytest.approx(0.1) and row["n_seeds"] == 3
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(3)
    assert row["slope_ci_low"] == pytest.approx(0.1 - half)
    assert row["slope_ci_high"] == pytest.approx(0.1 + half)


def test_dp_sgd_rows_carry_their_privacy_budget_split():
    estimates, utility = synthetic_table([0.0, 0.1], defense="dp_sgd", setting="epsilon~1")
    keys = ["defense", "setting", "generator", "true_ratio", "seed"]
    privacy = utility.loc[utility["defense"] == "dp_sgd", keys].assign(
        epsilon=1.0, delta=1e-5, epsilon_preprocessing=0.1, epsilon_training=0.9
    )
    table = defense_table(estimates, utility, privacy)
    assert list(table.columns) == DEFENSE_COLUMNS
    private = table[table["defense"] == "dp_sgd"]
    assert (private["epsilon_preprocessing"] + private["epsilon_training"] == 1.0).all()
    assert table.loc[table["defense"] == "none", PRIVACY_COLUMNS].isna().all().all()
    leakage = leakage_table(table).set_index("defense")
    assert list(leakage.reset_index().columns) == LEAKAGE_COLUMNS
    assert leakage.loc["dp_sgd", "epsilon_training"] == pytest.approx(0.9)
    assert math.isnan(leakage.loc["none", "epsilon"])
    with pytest.raises(DataError, match="no privacy record for"):
        defense_table(estimates, utility, privacy.iloc[1:])


def test_one_seed_leaves_the_interval_empty():
    table = defense_table(*synthetic_table([0.4]))
    row = leakage_table(table).set_index("defense").loc["rebalance"]
    assert row["slope"] == pytest.approx(0.4)
    assert math.isnan(row["slope_ci_low"]) and math.isnan(row["slope_ci_high"])


def test_defense_table_needs_the_undefended_utility():
    estimates, utility = synthetic_table([0.0])
    with pytest.raises(DataError, match="no undefended"):
        defense_table(
            estimates[estimates["defense"] != "none"], utility[utility["defense"] != "none"]
        )


# -- settings -------------------------------------------------------------------------------------
SETTINGS = dict(methods=["dp_sgd"], generators=["tabddpm"], decoy=0.5)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"methods": ["shuffle"]}, "unknown defense 'shuffle'"),
        ({"epsilons": [1e-40]}, r"defense.pia.epsilons\[0\]': 1e-40 needs"),
    ],
)
def test_settings_that_do_not_fit_the_sweep_are_named(change, match):
    with pytest.raises(ConfigError, match=match):
        check_defense_settings({**SETTINGS, **change})


def test_skipped_defenses_follow_the_table_with_their_reason():
    from diffshare.defenses.pia_report import with_skipped

    estimates, utility = synthetic_table([0.0])
    table = defense_table(estimates, utility)
    reason = "decoy_sampling draws from a saved model, and x is sample-only (never saved)"
    both = with_skipped(table, [["decoy_sampling", "decoy~0.5", "x", reason]], DEFENSE_COLUMNS)
    assert list(both.columns) == DEFENSE_COLUMNS and len(both) == len(table) + 1
    assert (both["skipped"].iloc[:-1] == "").all() and both["skipped"].iloc[-1] == reason
    assert both.iloc[-1][["estimate_mean", "accuracy_logreg"]].isna().all()
    assert with_skipped(table, [], DEFENSE_COLUMNS).equals(table)
