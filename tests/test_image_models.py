"""The receiver's CNN on real digits, and the SNGAN baseline on CPU."""

import numpy as np
import pytest

from conftest import REPO
from diffshare.data.images import read_mnist_csv
from diffshare.errors import DataError
from diffshare.generators.sngan import Sngan
from diffshare.receivers.cnn import CnnClassifier


@pytest.fixture(scope="module")
def digits():
    return read_mnist_csv(REPO / "resources/data/mnist/mnist_5k.csv.gz")


def test_cnn_learns_digits(digits):
    # 4,000 digits to train, 1,000 to test, 3 epochs: far above chance (0.1).
    order = np.random.default_rng(0).permutation(len(digits))
    train, test = digits.subset(order[:4000]), digits.subset(order[4000:])
    model = CnnClassifier(epochs=3, device="cpu").fit(train.images, train.attributes["digit"])
    accuracy = (model.predict(test.images) == test.attributes["digit"]).mean()
    assert accuracy > 0.85, accuracy
    probabilities = model.predict_proba(test.images[:5])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.features(test.images[:5]).shape == (5, 128)


def test_cnn_needs_two_classes(digits):
    with pytest.raises(DataError, match="at least two classes"):
        CnnClassifier(epochs=1, device="cpu").fit(digits.images[:4], np.zeros(4))


def test_sngan_trains_and_samples(digits):
    gan = Sngan(steps=3, batch_size=8, width=8, latent=16, device="cpu").fit(digits.images[:64])
    images = gan.sample(10, seed=1)
    assert images.shape == (10, 32, 32, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, gan.sample(10, seed=1))
    with pytest.raises(DataError, match="32x32"):
        Sngan(steps=1, device="cpu").fit(np.zeros((2, 16, 16, 1), dtype=np.uint8))
