"""Image sets prepared from an entry of the image catalogue (image_datasets)."""

import numpy as np
import pytest
import yaml

from conftest import REPO
from diffshare.data.image_catalogue import prepare_images
from diffshare.errors import ConfigError, DataError

CATALOGUE = yaml.safe_load((REPO / "config/datasets.yaml").read_text())["image_datasets"]


@pytest.fixture(scope="module")
def cmnist():
    return prepare_images("cmnist", CATALOGUE["cmnist"], REPO)


@pytest.fixture(scope="module")
def mnist():
    return prepare_images("mnist", CATALOGUE["mnist"], REPO)


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
    entry = CATALOGUE
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
