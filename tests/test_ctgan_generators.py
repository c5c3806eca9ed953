"""CTGAN and TVAE (ctgan package) behind the shared-model interface."""

import pandas as pd
import pytest

from conftest import REPO
from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.errors import ConfigError, DataError
from diffshare.generators import load_generator
from diffshare.generators.ctgan import CtganGenerator


@pytest.fixture(scope="module")
def german(catalogue):
    train, _, schema = prepare(DatasetSpec.from_config("german", catalogue["german"], REPO))
    return train, schema


@pytest.mark.parametrize("kind", ["ctgan", "tvae"])
def test_samples_keep_the_training_columns_and_dtypes(german, kind, tmp_path):
    train, schema = german
    model = CtganGenerator(kind, {"epochs": 2, "batch_size": 100}, seed=0, device="cpu")
    samples = model.fit(train, schema).sample(300, seed=1)
    assert list(samples.columns) == list(train.columns) and len(samples) == 300
    assert (samples.dtypes == train.dtypes).all()  # same category sets, integer numerics
    for column in schema.categorical:
        assert set(samples[column].astype(str)) <= set(schema.categories[column])
    assert not samples.isna().any().any()
    # Saved and loaded through the registry's loader: the same seed gives the same rows.
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.pt"]
    again = load_generator(tmp_path, kind, device="cpu").sample(300, seed=1)
    pd.testing.assert_frame_equal(again, samples)
    assert not again.equals(model.sample(300, seed=2))
    # Training is seeded too: a second fit gives the same model.
    twin = CtganGenerator(kind, {"epochs": 2, "batch_size": 100}, seed=0, device="cpu")
    pd.testing.assert_frame_equal(twin.fit(train, schema).sample(300, seed=1), samples)


def test_unknown_kind_and_parameter_are_named(german):
    train, schema = german
    with pytest.raises(ConfigError, match="unknown ctgan generator 'gan'"):
        CtganGenerator("gan")
    with pytest.raises(ConfigError, match="generator 'tvae': invalid parameter"):
        CtganGenerator("tvae", {"epoch": 1}, device="cpu").fit(train, schema)


def test_loader_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(DataError, match="lacks config.json"):
        load_generator(tmp_path, "ctgan")
    (tmp_path / "config.json").write_text('{"format": "other"}')
    with pytest.raises(DataError, match="names format 'other'"):
        load_generator(tmp_path, "ctgan")
