"""SDV's Gaussian copula as the sample-only family gaussian_copula, on small real data."""

import pandas as pd
import pytest

from conftest import REPO
from diffshare.attacks.pia.property import Property, sharer_rows
from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.errors import ConfigError, DataError, DiffshareError
from diffshare.generators import generator_family, load_generator, make_generator

pytest.importorskip("sdv")


@pytest.fixture(scope="module")
def adult(catalogue):
    entry = {**catalogue["adult"], "max_rows": {"train": 3000, "test": 100}}
    train, _, schema = prepare(DatasetSpec.from_config("adult", entry, base_dir=REPO))
    return train, schema


def test_gaussian_copula_is_a_sample_only_non_diffusion_table_family():
    family = generator_family("gaussian_copula")
    assert (family.modality, family.diffusion, family.persistence) == (
        "table",
        False,
        "sample_only",
    )


def test_samples_keep_the_training_layout_and_are_seeded(adult):
    train, schema = adult
    # A sharer's table at an exact share, whose categoricals declare categories it has no row
    # of (the case that breaks rdt when handed pandas categoricals).
    rows, record = sharer_rows(train, Property("sex", "Female"), ratio=0.3, size=1000, seed=0)
    table = train.iloc[rows]
    assert any(table[c].value_counts().eq(0).any() for c in schema.categorical)
    model = make_generator("gaussian_copula", {}, seed=0).fit(table, schema)
    samples = model.sample(2000, seed=1)
    assert list(samples.columns) == list(table.columns)
    assert (samples.dtypes == table.dtypes).all()
    assert not samples.isna().any().any()
    pd.testing.assert_frame_equal(samples, model.sample(2000, seed=1))
    assert not samples.equals(model.sample(2000, seed=2))
    # a copula keeps each column's marginal: the share of women is read off the samples
    share = (samples["sex"] == "Female").mean()
    assert abs(share - record["true_ratio"]) < 0.05


def test_the_copula_is_never_saved(adult, tmp_path):
    train, schema = adult
    model = make_generator("gaussian_copula", {}, seed=0).fit(train.iloc[:300], schema)
    with pytest.raises(DiffshareError, match="sample-only"):
        model.save(tmp_path / "model")
    with pytest.raises(DataError, match="never saved"):
        load_generator(tmp_path, "gaussian_copula")


def test_settings_sdv_refuses_are_named(adult):
    train, schema = adult
    model = make_generator("gaussian_copula", {"default_distribution": "nope"}, seed=0)
    with pytest.raises((ConfigError, DiffshareError), match="default_distribution|nope"):
        model.fit(train.iloc[:300], schema)
