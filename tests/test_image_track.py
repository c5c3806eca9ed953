"""The image track's adapter on the bundled digits, with tiny models."""

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from diffshare.attacks.pia.property import Property
from diffshare.data.image_catalogue import prepare_images
from diffshare.data.images import ImageSet
from diffshare.errors import ConfigError, DataError
from diffshare.evaluation.fairness import evaluate
from diffshare.tracks.image import (
    estimate_property,
    extract_features,
    mine_row_terms,
    receiver_predictions,
    select,
    sharer_set,
)
from diffshare.validation import check_config

CATALOGUE = yaml.safe_load((REPO / "config/datasets.yaml").read_text())


@pytest.fixture(scope="module")
def cmnist():
    return prepare_images("cmnist", CATALOGUE["image_datasets"]["cmnist"], REPO)


@pytest.fixture(scope="module")
def mnist():
    return prepare_images("mnist", CATALOGUE["image_datasets"]["mnist"], REPO)


def test_config_checks_of_the_image_section():
    config = {
        **CATALOGUE,
        **yaml.safe_load((REPO / "config/config.yaml").read_text()),
    }
    check_config(config)
    bad = yaml.safe_load(yaml.safe_dump(config))
    bad["image"]["samplers"]["edm"]["name"] = "ddim"
    with pytest.raises(ConfigError, match=r"image.samplers.edm.name.*'ddim'"):
        check_config(bad)
    bad = yaml.safe_load(yaml.safe_dump(config))
    bad["image"]["pia"]["attacks"] = ["aux", "zero_shot"]
    with pytest.raises(ConfigError, match="zero_shot.*CLIP"):
        check_config(bad)
    bad = yaml.safe_load(yaml.safe_dump(config))
    bad["image"]["pia"]["discriminator"]["classifier"] = "clip_logreg"
    with pytest.raises(ConfigError, match="discriminator.classifier' is 'clip_logreg'.*CLIP"):
        check_config(bad)
    bad = yaml.safe_load(yaml.safe_dump(config))
    bad["image"]["pia"]["properties"]["mnist"] = {"column": "colour", "value": 1}
    with pytest.raises(ConfigError, match=r"image.pia.properties.mnist.*no attribute 'colour'"):
        check_config(bad)
    bad = yaml.safe_load(yaml.safe_dump(config))
    bad["pia"]["properties"]["mnist"] = {"column": "digit", "value": 0}  # the old key
    with pytest.raises(ConfigError, match=r"'pia.properties.mnist'.*image.pia.properties.mnist"):
        check_config(bad)
    bad = yaml.safe_load(yaml.safe_dump(config))
    bad["datasets"]["mnist"] = bad["datasets"]["adult"]
    with pytest.raises(ConfigError, match=r"\['mnist'\] are in both"):
        check_config(bad)


def test_mine_and_poisoned_selection_on_colour_digits(cmnist):
    train, _, _ = cmnist
    rng = np.random.default_rng(0)
    pool = train.subset(np.sort(rng.choice(len(train), size=600, replace=False)))
    features = rng.normal(size=(600, 6)).astype(np.float32)
    terms, record = mine_row_terms(pool, features=features, seed=0, steps=20, batch_size=64)
    assert list(terms.columns) == ["t0", "t1"] and len(terms) == 600
    assert record["n_pool"] == 600 and record["n_features"] == 6
    with pytest.raises(DataError, match="5 feature rows for a pool of 600"):
        mine_row_terms(pool, features=features[:5], seed=0, steps=1)
    # Terms of a statistics network that has learnt y from x: T(x, y) high for the own label.
    y = pool.attributes["y"]
    terms = pd.DataFrame({"t0": np.where(y == 0, 0.6, -0.6), "t1": np.where(y == 1, 0.6, -0.6)})
    terms += rng.normal(scale=0.3, size=terms.shape)
    settings = {"subset_size": 200, "seed": 0, "tolerance": 0.1}
    _, _, none = select("none", pool, terms, alpha=0.0, **settings)
    subset, rows, poisoned = select("mi_greedy", pool, terms, alpha=0.5, **settings)
    assert len(subset) == 200 and list(rows.index) == sorted(rows.index, key=list(rows.index).index)
    assert poisoned["mi_sy_after"] > none["mi_sy_after"] + 0.05
    assert (
        abs(poisoned["mi_xy_after"] - poisoned["mi_xy_target"]) <= 2 * poisoned["mi_xy_tolerance"]
    )
    flipped, rows, record = select("label_flip", pool, terms, alpha=0.5, **settings)
    changed = flipped.attributes["y"] != flipped.attributes["y_original"]
    assert changed.sum() == rows["flipped"].sum() == record["flipped"] > 0
    # flipped rows take y := s
    assert np.array_equal(flipped.attributes["y"][changed], flipped.attributes["s"][changed])
    grey = ImageSet(pool.images[..., :1], {"y": pool.attributes["y"]})
    with pytest.raises(ConfigError, match="sensitive attribute"):
        select("none", grey, terms, alpha=0.0, **settings)


def test_sharer_set_has_the_exact_share_of_zeros(mnist):
    train, _, _ = mnist
    prop = Property("digit", "0")
    subset, record = sharer_set(train, prop, ratio=0.9, size=400, seed=3)
    assert len(subset) == 400 and np.sum(subset.attributes["digit"] == 0) == 360
    assert record["true_ratio"] == 0.9 and 0.09 < record["pool_ratio"] < 0.11
    with pytest.raises(DataError, match="needs 450"):
        sharer_set(train, prop, ratio=0.9, size=500, seed=3)


def test_receiver_learns_the_digits_and_is_scored_with_fairlearn(cmnist):
    train, test, _ = cmnist
    predictions = receiver_predictions(
        train.subset(np.arange(0, 4000, 2)),
        test,
        params={"epochs": 3, "batch_size": 32},
        seed=0,
        device="cpu",
    )
    assert list(predictions.columns) == ["y_true", "y_pred", "y_score", "s"]
    metrics = evaluate(predictions)
    assert metrics["accuracy"] > 0.85  # colour is independent of y: a fair, accurate receiver
    assert metrics["dp_difference"] < 0.1


def test_cnn_features_separate_the_labels(cmnist):
    train, test, _ = cmnist
    pool, other, record = extract_features(
        train.subset(np.arange(0, 4000, 5)),
        test.subset(np.arange(0, 1000, 5)),
        cnn={"epochs": 2},
        seed=0,
    )
    assert pool.shape == (800, 128) and other.shape == (200, 128) and pool.dtype == np.float32
    assert record["extractor"] == "cnn" and record["test_accuracy"] > 0.75


def test_property_estimates_on_real_digits_with_a_known_share(mnist):
    """Samples that follow the sharer's distribution exactly (real held-out digits at a share
    of 0.3 zeros): the corrected estimate is close to 0.3."""
    train, test, _ = mnist
    prop = Property("digit", "0")
    samples, _ = sharer_set(train, prop, ratio=0.3, size=400, seed=0)
    cnn = {"classifier": "cnn", "params": {"epochs": 4, "batch_size": 64}, "holdout": 0.5}
    estimates, record = estimate_property(
        ImageSet(samples.images),
        test,
        prop,
        attacks=["aux", "aux_corrected"],
        queries=[100, 200],
        repeats=2,
        discriminator=cnn,
        seed=0,
        device="cpu",
    )
    assert len(estimates) == 2 * 2 * 2
    assert record["discriminator"] == "cnn"
    assert record["tpr"] > 0.8 and record["fpr"] < 0.1
    corrected = estimates[estimates["attack"] == "aux_corrected"]["estimate"]
    assert corrected.mean() == pytest.approx(0.3, abs=0.08)
    with pytest.raises(ConfigError, match="zero_shot attack needs CLIP"):
        estimate_property(
            samples, test, prop, attacks=["zero_shot"], queries=[10], repeats=1, discriminator=cnn
        )
    with pytest.raises(ConfigError, match="unknown image PIA attacks"):
        estimate_property(
            samples, test, prop, attacks=["column"], queries=[10], repeats=1, discriminator=cnn
        )
    with pytest.raises(ConfigError, match="clip_logreg discriminator needs CLIP weights"):
        estimate_property(
            samples, test, prop, attacks=["aux"], queries=[10], repeats=1,
            discriminator={**cnn, "classifier": "clip_logreg", "params": {}},
        )  # fmt: skip


def test_attribute_table_matches_images(mnist):
    train, _, _ = mnist
    table = pd.DataFrame(train.attributes)
    assert len(table) == len(train) and {"digit", "y"} <= set(table.columns)
