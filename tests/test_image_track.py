"""The image track's stage functions on the bundled digits and on tiny models."""

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from diffshare.attacks.pia.property import Property
from diffshare.config import check_config
from diffshare.data.images import ImageSet
from diffshare.errors import ConfigError, DataError
from diffshare.evaluation.fairness import evaluate
from diffshare.generators.sngan import Sngan
from diffshare.tracks.image import (
    estimate_image_property,
    image_features,
    image_mine_terms,
    image_sharer_set,
    load_image_generator,
    prepare_images,
    receiver_predictions,
    sample_images,
    select_images,
    train_image_generator,
)

CATALOGUE = yaml.safe_load((REPO / "config/datasets.yaml").read_text())
TINY_DIFFUSION = {
    "base_channels": 8,
    "channel_mults": [1, 1],
    "norm_num_groups": 4,
    "attention_levels": [],
    "layers_per_block": 1,
    "steps": 2,
    "batch_size": 4,
}
TINY_SNGAN = {"steps": 2, "batch_size": 4, "latent": 8, "width": 8}
SAMPLERS = {"ddpm": {"name": "ddim", "steps": 2}, "edm": {"name": "euler", "steps": 2}}


@pytest.fixture(scope="module")
def cmnist():
    return prepare_images("cmnist", CATALOGUE["image_datasets"]["cmnist"], REPO)


@pytest.fixture(scope="module")
def mnist():
    return prepare_images("mnist", CATALOGUE["image_datasets"]["mnist"], REPO)


def test_bundled_digits_are_split_and_labelled(mnist, cmnist):
    train, test, summary = mnist
    assert (len(train), len(test)) == (4000, 1000)
    assert summary["num_classes"] == 2 and summary["channels"] == 1
    assert np.array_equal(train.attributes["y"], (train.attributes["digit"] >= 5).astype(int))
    assert "s" not in train.attributes
    colour_train, colour_test, colour_summary = cmnist
    assert colour_train.images.shape == (4000, 32, 32, 3) and len(colour_test) == 1000
    assert np.array_equal(colour_train.attributes["digit"], train.attributes["digit"])
    assert set(np.unique(colour_train.attributes["s"])) == {0, 1}
    assert 0.45 < colour_summary["s_share_train"] < 0.55
    # s = red: the red channel carries the digit exactly where s = 1
    red = colour_train.images[..., 0].reshape(len(colour_train), -1).max(axis=1) > 0
    assert np.array_equal(red, colour_train.attributes["s"] == 1)


def test_image_entries_are_checked():
    entry = CATALOGUE["image_datasets"]
    with pytest.raises(ConfigError, match=r"image_datasets.celeba.folder is not set"):
        prepare_images("celeba", entry["celeba"], REPO)
    with pytest.raises(ConfigError, match="source must be one of"):
        prepare_images("x", {**entry["mnist"], "source": "svhn"}, REPO)
    with pytest.raises(
        ConfigError, match=r"image_datasets.mnist.sensitive: .* no attribute 'gender'"
    ):
        prepare_images("mnist", {**entry["mnist"], "sensitive": "gender"}, REPO)
    with pytest.raises(DataError, match="is not a folder"):
        prepare_images("mnist", {**entry["mnist"], "folder": "no/such/folder"}, REPO)
    limited, _, _ = prepare_images("mnist", {**entry["mnist"], "max_images": {"train": 50}}, REPO)
    assert len(limited) == 50


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
    bad["pia"]["properties"]["mnist"] = {"column": "colour", "value": 1}
    with pytest.raises(ConfigError, match=r"pia.properties.mnist.*no attribute 'colour'"):
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
    terms, record = image_mine_terms(features, pool, seed=0, steps=20, batch_size=64)
    assert list(terms.columns) == ["t0", "t1"] and len(terms) == 600
    assert record["n_pool"] == 600 and record["n_features"] == 6
    with pytest.raises(DataError, match="5 feature rows for a pool of 600"):
        image_mine_terms(features[:5], pool, seed=0, steps=1)
    # Terms of a statistics network that has learnt y from x: T(x, y) high for the own label.
    y = pool.attributes["y"]
    terms = pd.DataFrame({"t0": np.where(y == 0, 0.6, -0.6), "t1": np.where(y == 1, 0.6, -0.6)})
    terms += rng.normal(scale=0.3, size=terms.shape)
    settings = {"subset_size": 200, "seed": 0, "tolerance": 0.1}
    _, _, none = select_images("none", pool, terms, alpha=0.0, **settings)
    subset, rows, poisoned = select_images("mi_greedy", pool, terms, alpha=0.5, **settings)
    assert len(subset) == 200 and list(rows.index) == sorted(rows.index, key=list(rows.index).index)
    assert poisoned["mi_sy_after"] > none["mi_sy_after"] + 0.05
    assert (
        abs(poisoned["mi_xy_after"] - poisoned["mi_xy_target"]) <= 2 * poisoned["mi_xy_tolerance"]
    )
    flipped, rows, record = select_images("label_flip", pool, terms, alpha=0.5, **settings)
    changed = flipped.attributes["y"] != flipped.attributes["y_original"]
    assert changed.sum() == rows["flipped"].sum() == record["flipped"] > 0
    # flipped rows take y := s
    assert np.array_equal(flipped.attributes["y"][changed], flipped.attributes["s"][changed])
    grey = ImageSet(pool.images[..., :1], {"y": pool.attributes["y"]})
    with pytest.raises(ConfigError, match="sensitive attribute"):
        select_images("none", grey, terms, alpha=0.0, **settings)


def test_sharer_set_has_the_exact_share_of_zeros(mnist):
    train, _, _ = mnist
    prop = Property("digit", "0")
    subset, record = image_sharer_set(train, prop, ratio=0.9, size=400, seed=3)
    assert len(subset) == 400 and np.sum(subset.attributes["digit"] == 0) == 360
    assert record["true_ratio"] == 0.9 and 0.09 < record["pool_ratio"] < 0.11
    with pytest.raises(DataError, match="needs 450"):
        image_sharer_set(train, prop, ratio=0.9, size=500, seed=3)


@pytest.mark.parametrize("family", ["ddpm", "edm", "sngan"])
def test_generators_train_save_load_and_sample(family, mnist, tmp_path):
    train, _, _ = mnist
    images = train.subset(np.arange(0, 4000, 125))
    model = train_image_generator(
        family, images, num_classes=2, diffusion=TINY_DIFFUSION, sngan=TINY_SNGAN, seed=0,
        device="cpu",
    )  # fmt: skip
    model.save(tmp_path / "model")
    loaded = load_image_generator(tmp_path / "model", device="cpu")
    assert type(loaded) is type(model)
    first, record = sample_images(loaded, 6, conditional=False, samplers=SAMPLERS, seed=1)
    again, _ = sample_images(loaded, 6, conditional=False, samplers=SAMPLERS, seed=1)
    assert first.images.shape == (6, 32, 32, 1) and first.images.dtype == np.uint8
    assert np.array_equal(first.images, again.images) and "y" not in first.attributes
    assert record["n"] == 6 and record["images_per_second"] > 0
    if family == "sngan":
        with pytest.raises(ConfigError, match="unconditional"):
            sample_images(loaded, 4, conditional=True, samplers=SAMPLERS, seed=0)
        assert not any(p.suffix in (".pt", ".pkl", ".bin") for p in (tmp_path / "model").iterdir())
    else:
        labelled, _ = sample_images(loaded, 6, conditional=True, samplers=SAMPLERS, seed=1)
        assert sorted(labelled.attributes["y"].tolist()) == [0, 0, 0, 1, 1, 1]
        with pytest.raises(ConfigError, match=f"image.samplers.{family}.name"):
            wrong = {family: {"name": "euler" if family == "ddpm" else "ddim", "steps": 2}}
            sample_images(loaded, 2, conditional=False, samplers=wrong, seed=0)


def test_sngan_reloads_to_the_same_samples(mnist, tmp_path):
    train, _, _ = mnist
    gan = Sngan(**TINY_SNGAN, device="cpu").fit(train.images[::250])
    gan.save(tmp_path)
    assert np.array_equal(gan.sample(5, seed=2), Sngan.load(tmp_path, "cpu").sample(5, seed=2))
    (tmp_path / "config.json").write_text('{"format": "other"}')
    with pytest.raises(DataError, match="describes no image generator"):
        load_image_generator(tmp_path)


def test_receiver_learns_the_digits_and_is_scored_with_fairlearn(cmnist):
    train, test, _ = cmnist
    predictions = receiver_predictions(
        train.subset(np.arange(0, 4000, 2)),
        test,
        cnn={"epochs": 3, "batch_size": 32},
        seed=0,
        device="cpu",
    )
    assert list(predictions.columns) == ["y_true", "y_pred", "y_score", "s"]
    metrics = evaluate(predictions)
    assert metrics["accuracy"] > 0.85  # colour is independent of y: a fair, accurate receiver
    assert metrics["dp_difference"] < 0.1


def test_cnn_features_separate_the_labels(cmnist):
    train, test, _ = cmnist
    pool, other, record = image_features(
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
    samples, _ = image_sharer_set(train, prop, ratio=0.3, size=400, seed=0)
    estimates, record = estimate_image_property(
        ImageSet(samples.images),
        test,
        prop,
        attacks=["aux", "aux_corrected"],
        queries=[100, 200],
        repeats=2,
        cnn={"epochs": 4, "batch_size": 64},
        seed=0,
        device="cpu",
    )
    assert len(estimates) == 2 * 2 * 2
    assert record["tpr"] > 0.8 and record["fpr"] < 0.1
    corrected = estimates[estimates["attack"] == "aux_corrected"]["estimate"]
    assert corrected.mean() == pytest.approx(0.3, abs=0.08)
    with pytest.raises(ConfigError, match="zero_shot attack needs CLIP"):
        estimate_image_property(
            samples, test, prop, attacks=["zero_shot"], queries=[10], repeats=1, cnn={}
        )
    with pytest.raises(ConfigError, match="unknown image PIA attacks"):
        estimate_image_property(
            samples, test, prop, attacks=["column"], queries=[10], repeats=1, cnn={}
        )


def test_attribute_table_matches_images(mnist):
    train, _, _ = mnist
    table = pd.DataFrame(train.attributes)
    assert len(table) == len(train) and {"digit", "y"} <= set(table.columns)
