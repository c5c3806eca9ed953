"""End-to-end DP for the dp_sgd defense: the public domain, the Laplace releases of the quantiles
and label counts, the budget split, and what a DP model stores for neighbouring tables."""

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.numpy import load_file

from conftest import REPO
from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.errors import ConfigError, DataError
from diffshare.generators.dp_preprocessing import (
    NOISE_OS_ENTROPY,
    NOISE_SEEDED,
    NumericBounds,
    PublicDomain,
    fit_private_preprocessing,
    histogram,
    histogram_edges,
    histogram_quantiles,
    laplace_mechanism,
    noisy_label_counts,
    private_histograms,
    split_budget,
)
from diffshare.generators.dp_training import fit_private
from diffshare.generators.tabddpm import TabularDiffusion, TabularDiffusionConfig
from diffshare.generators.tabular_layout import ColumnLayout

TINY = dict(hidden_dims=[32, 32], embedding_dim=16, num_timesteps=10, batch_size=64)
PREPROCESSING = dict(epsilon=0.5, bins=32, n_quantiles=100, seed=3)
REPRODUCIBLE = dict(reproducible_noise=True)


# tiny networks on one torch thread (tests/conftest.py: one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def adult(catalogue):
    entry = {**catalogue["adult"], "max_rows": {"train": 1500, "test": 300}}
    train, _, schema = prepare(DatasetSpec.from_config("adult", entry, REPO))
    return train.iloc[:400].copy(), schema


@pytest.fixture(scope="module")
def domain(catalogue):
    return PublicDomain.from_config("adult", catalogue["adult"]["domain"])


def changed(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its first row's values changed (within the domain): a neighbour by
    replacement, which is two add/remove steps."""
    other = table.copy()
    first = other.index[0]
    other.loc[first, "age"] = 90 if other.loc[first, "age"] != 90 else 17
    other.loc[first, "capital_gain"] = 99999
    flipped = ">50K" if other.loc[first, "income"] == "<=50K" else "<=50K"
    other.loc[first, "income"] = flipped
    other.loc[first, "workclass"] = "Federal-gov"
    return other


def without_layout_counts(layout: dict) -> dict:
    return {key: value for key, value in layout.items() if key != "label_counts"}


# -- (a) neighbouring tables --------------------------------------------------------------------
@pytest.mark.parametrize("neighbour, steps", [("removed", 1), ("changed", 2)])
def test_neighbouring_tables_differ_only_in_the_noised_releases(adult, domain, neighbour, steps):
    table, schema = adult
    other = table.iloc[1:] if neighbour == "removed" else changed(table)
    # The same noise for both (the reproducible path, experiments only), to compare the counts.
    first = fit_private_preprocessing(table, schema, domain, **PREPROCESSING, **REPRODUCIBLE)
    second = fit_private_preprocessing(other, schema, domain, **PREPROCESSING, **REPRODUCIBLE)
    assert first.record["noise"] == NOISE_SEEDED
    # Everything stored but the noised quantities is the same.
    assert without_layout_counts(asdict(first.layout)) == without_layout_counts(
        asdict(second.layout)
    )
    assert np.array_equal(first.quantiles.references_, second.quantiles.references_)
    assert first.quantiles.quantiles_.shape == second.quantiles.quantiles_.shape
    assert first.record == second.record
    assert len(first.histograms) == len(schema.numeric) + 1
    for a, b, noisy_a, noisy_b in zip(
        first.histograms, second.histograms, first.noisy, second.noisy, strict=True
    ):
        assert (a.release, a.column) == (b.release, b.column)
        if a.edges is not None:
            assert np.array_equal(a.edges, b.edges)
        # Pre-noise counts move by at most the sensitivity per add/remove step ...
        assert np.abs(a.counts - b.counts).sum() <= 1.0 * steps
        # ... and the same seed draws the same noise.
        assert np.allclose(noisy_a - a.counts, noisy_b - b.counts)
    pairs = zip(first.histograms, second.histograms, strict=True)
    assert any((a.counts != b.counts).any() for a, b in pairs)  # the neighbour is another table


def test_neighbouring_dp_models_store_the_same_file_layout(adult, domain, tmp_path):
    table, schema = adult
    stored = []
    for name, rows in (("first", table), ("second", changed(table))):
        model = TabularDiffusion(TabularDiffusionConfig(**TINY), seed=0)
        fit_private(
            model, rows, schema, domain=domain, target_epsilon=5.0, epochs=1, accountant="rdp"
        )
        model.save(tmp_path / name)
        config = json.loads((tmp_path / name / "config.json").read_text())
        weights = load_file(str(tmp_path / name / "model.safetensors"))
        with np.load(tmp_path / name / "transforms.npz") as transforms:
            stored.append((config, weights, dict(transforms)))
    (config_a, weights_a, transforms_a), (config_b, weights_b, transforms_b) = stored
    # config.json: the same but for the noised label counts (the only count it holds).
    assert config_a["layout"]["category_counts"] == {}
    config_a["layout"].pop("label_counts"), config_b["layout"].pop("label_counts")
    assert config_a == config_b
    assert np.array_equal(transforms_a["references"], transforms_b["references"])
    assert transforms_a["quantiles"].shape == transforms_b["quantiles"].shape
    assert {k: v.shape for k, v in weights_a.items()} == {k: v.shape for k, v in weights_b.items()}


def test_noise_is_drawn_from_the_os_unless_reproducible(adult, domain):
    # The model's seed is stored (config.json): noise seeded by it could be regenerated and
    # subtracted. By default two fits of the same table at the same seed draw different noise.
    table, schema = adult
    fits = [fit_private_preprocessing(table, schema, domain, **PREPROCESSING) for _ in range(2)]
    assert [f.record["noise"] for f in fits] == [NOISE_OS_ENTROPY] * 2
    for a, b in zip(fits[0].noisy, fits[1].noisy, strict=True):
        assert not np.allclose(a, b)
    assert not np.allclose(fits[0].quantiles.quantiles_, fits[1].quantiles.quantiles_)
    # reproducible_noise (experiments only) draws the same noise again, and says so.
    fits = [
        fit_private_preprocessing(table, schema, domain, **PREPROCESSING, **REPRODUCIBLE)
        for _ in range(2)
    ]
    assert [f.record["noise"] for f in fits] == [NOISE_SEEDED] * 2
    for a, b in zip(fits[0].noisy, fits[1].noisy, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("reproducible", [False, True])
def test_dp_sgd_noise_is_drawn_from_the_os_unless_reproducible(adult, domain, reproducible):
    table, schema = adult
    weights, records = [], []
    for _ in range(2):
        model = TabularDiffusion(TabularDiffusionConfig(**TINY), seed=0)
        records.append(
            fit_private(
                model,
                table.iloc[:200],
                schema,
                domain=domain,
                target_epsilon=5.0,
                epochs=1,
                accountant="rdp",
                reproducible_noise=reproducible,
            )
        )
        weights.append([p.detach().clone() for p in model.denoiser_.parameters()])
    # privacy.json (the record) says where the noise came from.
    expected = NOISE_SEEDED if reproducible else NOISE_OS_ENTROPY
    assert [r["noise"] for r in records] == [expected] * 2
    assert [r["preprocessing"]["noise"] for r in records] == [expected] * 2
    same = all(torch.equal(a, b) for a, b in zip(*weights, strict=True))
    assert same == reproducible


# -- (b) the budget ------------------------------------------------------------------------------
@pytest.mark.parametrize("epsilon, share", [(1.0, 0.1), (10.0, 0.1), (0.3, 0.25), (7.0, 0.5)])
def test_the_budget_split_adds_up(adult, domain, epsilon, share):
    budget = split_budget(epsilon, share)
    assert budget["epsilon_preprocessing"] + budget["epsilon_training"] == pytest.approx(
        epsilon, rel=1e-12
    )
    assert budget["epsilon_preprocessing"] == pytest.approx(share * epsilon)
    table, schema = adult
    settings = {**PREPROCESSING, "epsilon": budget["epsilon_preprocessing"]}
    record = fit_private_preprocessing(table, schema, domain, **settings).record
    releases = record["releases"]
    assert len(releases) == len(schema.numeric) + 1  # each numeric column, then the label
    assert sum(r["epsilon"] for r in releases) == pytest.approx(budget["epsilon_preprocessing"])
    assert all(r["scale"] == pytest.approx(r["sensitivity"] / r["epsilon"]) for r in releases)
    assert record["mechanism"] == "laplace" and record["neighbouring"] == "add/remove one row"


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1])
def test_a_share_outside_zero_one_is_named(share):
    with pytest.raises(ConfigError, match=f"preprocessing_epsilon_share must be in .*{share}"):
        split_budget(1.0, share)


# -- (c) the mechanism ---------------------------------------------------------------------------
@pytest.mark.parametrize("epsilon, sensitivity", [(0.5, 1.0), (2.0, 1.0), (1.0, 3.0)])
def test_laplace_noise_has_scale_sensitivity_over_epsilon(epsilon, sensitivity):
    rng = np.random.default_rng(0)
    counts = np.full(50_000, 7.0)
    noise = laplace_mechanism(counts, epsilon, rng, sensitivity) - counts
    scale = sensitivity / epsilon
    # Laplace(b): mean absolute deviation b, standard deviation b * sqrt(2).
    assert np.abs(noise).mean() == pytest.approx(scale, rel=0.03)
    assert noise.std() == pytest.approx(scale * np.sqrt(2), rel=0.03)
    assert abs(np.median(noise)) < 0.03 * scale


def test_laplace_mechanism_refuses_a_non_positive_epsilon():
    with pytest.raises(ConfigError, match="epsilon; got 0"):
        laplace_mechanism(np.zeros(3), 0, np.random.default_rng(0))


@pytest.mark.parametrize(
    "bounds, integer",
    [
        (NumericBounds(17, 90), True),
        (NumericBounds(0, 99999, "log"), True),
        (NumericBounds(12285, 1490400), True),
        (NumericBounds(-3.5, 2.25), False),
        (NumericBounds(0.0, 1e4, "log"), False),
    ],
)
def test_quantiles_are_monotone_and_within_the_bounds(bounds, integer):
    edges = histogram_edges(bounds, 32, integer)
    assert np.all(np.diff(edges) > 0)
    references = np.linspace(0, 1, 200)
    rng = np.random.default_rng(1)
    for noisy in [
        rng.laplace(0, 20, len(edges) - 1),  # mostly noise, negative counts included
        -np.ones(len(edges) - 1),  # nothing left after clipping: uniform
        np.eye(len(edges) - 1)[3] * 100 + rng.laplace(0, 1, len(edges) - 1),  # a spike
        np.zeros(len(edges) - 1),
    ]:
        q = histogram_quantiles(noisy, edges, references, bounds)
        assert q.shape == references.shape
        assert np.all(np.diff(q) >= 0)
        assert q.min() >= bounds.low and q.max() <= bounds.high


def test_noiseless_quantiles_follow_the_data():
    bounds = NumericBounds(17, 90)
    values = np.random.default_rng(2).integers(17, 91, 5000)
    edges = histogram_edges(bounds, 100, integer=True)
    assert len(edges) == 90 - 17 + 2  # one bin per age
    q = histogram_quantiles(histogram(values, edges), edges, np.array([0.25, 0.5, 0.75]), bounds)
    assert q == pytest.approx(np.percentile(values, [25, 50, 75]), abs=1.0)


def test_histogram_bins_come_from_the_public_bounds_only():
    # A log-scaled integer column keeps its spike at the lower bound in a bin of its own.
    edges = histogram_edges(NumericBounds(0, 99999, "log"), 32, integer=True)
    assert edges[:2].tolist() == [-0.5, 0.5] and edges[-1] == 99999.5
    counts = histogram(np.array([0, 0, 0, 99999, 5000]), edges)
    assert counts[0] == 3 and counts[-1] == 1 and counts.sum() == 5
    # A continuous column: equal widths; the upper bound falls in the last bin.
    edges = histogram_edges(NumericBounds(0.0, 1.0), 4, integer=False)
    assert edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert histogram(np.array([0.0, 1.0]), edges).tolist() == [1, 0, 0, 1]
    with pytest.raises(ConfigError, match="preprocessing_bins must be at least 2; got 1"):
        histogram_edges(NumericBounds(0.0, 1.0), 1, integer=False)


def test_noisy_label_counts_are_rounded_and_clipped():
    assert noisy_label_counts(np.array([-3.2, 10.6])) == [0, 11]
    assert noisy_label_counts(np.array([-3.2, -0.1])) == [1, 1]  # nothing left: uniform


# -- (d) the public domain -----------------------------------------------------------------------
def test_domain_categories_without_a_private_row_are_generated(adult, domain):
    table, schema = adult
    table = table[table["workclass"] != "Without-pay"]
    assert "Never-worked" not in set(table["workclass"])
    pre = fit_private_preprocessing(table, schema, domain, **PREPROCESSING)
    layout = pre.layout
    assert set(layout.categories["workclass"]) == set(domain.categories["workclass"])
    assert {"Never-worked", "Without-pay"} <= set(layout.categories["workclass"])
    position = layout.categorical.index("workclass")
    assert layout.num_classes[position] == len(domain.categories["workclass"])
    assert layout.label_categories == sorted(domain.categories["income"])
    # Samples carry the domain's category sets.
    x_num, codes, y = layout.encode(pre.table, pre.quantiles, "cpu")
    decoded = layout.decode(x_num.numpy(), codes.numpy(), y.numpy(), pre.quantiles)
    assert "Never-worked" in decoded["workclass"].cat.categories


def test_a_private_value_outside_the_domain_is_named(adult, domain):
    table, schema = adult
    other = table.copy()
    other["workclass"] = other["workclass"].cat.add_categories(["Space-agency"])
    other.loc[other.index[5], "workclass"] = "Space-agency"
    with pytest.raises(DataError, match="column 'workclass' holds 'Space-agency'"):
        fit_private_preprocessing(other, schema, domain, **PREPROCESSING)
    other = table.copy()
    other.loc[other.index[5], "age"] = 120
    with pytest.raises(DataError, match=r"column 'age' holds 120.*\[17, 90\]"):
        fit_private_preprocessing(other, schema, domain, **PREPROCESSING)


def test_a_dataset_without_a_domain_is_refused_naming_it_and_the_key(adult, catalogue):
    with pytest.raises(ConfigError, match=r"dataset 'mine' .*'datasets\.mine\.domain'"):
        PublicDomain.from_config("mine", None)
    table, schema = adult
    entry = {**catalogue["adult"]["domain"]}
    entry["numeric"] = {k: v for k, v in entry["numeric"].items() if k != "fnlwgt"}
    partial = PublicDomain.from_config("adult", entry)
    with pytest.raises(ConfigError, match=r"'datasets\.adult\.domain\.numeric\.fnlwgt' is missing"):
        fit_private_preprocessing(table, schema, partial, **PREPROCESSING)
    with pytest.raises(ConfigError, match=r"datasets\.adult\.domain\.numeric\.age: needs finite"):
        PublicDomain.from_config("adult", {"numeric": {"age": {"low": 90, "high": 17}}})


@pytest.mark.parametrize("name", ["adult", "german", "compas"])
def test_every_shipped_dataset_declares_a_domain_its_rows_fit(catalogue, name):
    train, test, schema = prepare(DatasetSpec.from_config(name, catalogue[name], REPO))
    domain = PublicDomain.from_config(name, catalogue[name]["domain"])
    conformed = domain.conform(pd.concat([train, test]), schema)  # raises on a value outside
    for column, categories in schema.categories.items():
        assert set(categories) <= set(domain.categories[column]), column
        assert list(conformed[column].cat.categories) == sorted(domain.categories[column])


# -- (e) non-private training is unchanged --------------------------------------------------------
def test_non_private_training_still_drops_absent_categories(adult, domain):
    table, schema = adult
    table = table[table["workclass"] != "Without-pay"]
    layout = ColumnLayout.from_table(table, schema)
    position = layout.categorical.index("workclass")
    present = set(table["workclass"].astype(str))
    assert layout.num_classes[position] == len(present)
    assert set(np.array(layout.categories["workclass"])[layout.present("workclass")]) == present
    assert layout.label_counts == [int(n) for n in table["income"].value_counts(sort=False)]
    model = TabularDiffusion(TabularDiffusionConfig(steps=2, **TINY), seed=0).fit(table, schema)
    assert model.layout_.num_classes == layout.num_classes
    # Quantiles are the rows' own, as many as rows (at most n_quantiles).
    references = model.quantiles_.references_
    assert len(references) == len(table)
    exact = np.nanpercentile(table[schema.numeric].to_numpy(float), references * 100, axis=0)
    assert model.quantiles_.quantiles_ == pytest.approx(exact)
    # The private table's histograms would hold those rows; the DP layout ignores them.
    assert private_histograms(table, schema, domain, 32)[-1].counts.sum() == len(table)
