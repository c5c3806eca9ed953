"""The sample-quality measure: a CNN judge trained on real digits recognises held-out real digits
and not noise, blank images or scrambled digits."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from diffshare.data.image_catalogue import prepare_images
from diffshare.data.images import ImageSet
from diffshare.errors import DataError
from diffshare.evaluation.image_quality import (
    confident_share,
    judge_classes,
    quality_table,
    sample_quality,
    train_judge,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits():
    catalogue = yaml.safe_load((ROOT / "config/datasets.yaml").read_text())["image_datasets"]
    train, test, _ = prepare_images("mnist", catalogue["mnist"], ROOT)
    judge = train_judge(
        train.images[:2000], judge_classes(train, "digit")[:2000], epochs=3, device="cpu"
    )
    return judge, test.images[:500]


def test_real_digits_are_recognised_and_noise_is_not(digits):
    judge, real = digits
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=real.shape, dtype=np.uint8)
    blank = np.zeros_like(real)
    # Real strokes, scrambled: the same pixel values, no digit.
    scrambled = rng.permuted(real.reshape(len(real), -1), axis=1).reshape(real.shape)
    real_share = confident_share(judge, real)
    assert real_share > 0.6
    for fake in (noise, blank, scrambled):
        assert confident_share(judge, fake) < 0.25 * real_share
    quality = sample_quality(judge, noise, real)
    assert quality["real_confident_share"] == real_share
    assert quality["relative"] == pytest.approx(quality["confident_share"] / real_share)
    assert sample_quality(judge, real, real)["relative"] == 1.0


def test_the_table_has_a_row_per_sample_set(digits):
    judge, real = digits
    sets = [{"generator": "edm", "subset": "ratio~0.5", "seed": 0}, {"generator": "sngan"}]
    table = quality_table(judge, sets, [real[:100], real[100:150]], real)
    assert list(table["generator"]) == ["edm", "sngan"]
    assert list(table["n_samples"]) == [100, 50]
    assert table["relative"].between(0, 2).all()
    with pytest.raises(DataError, match="2 sample sets described but 1 given"):
        quality_table(judge, sets, [real], real)


def test_bad_inputs_are_named(digits):
    judge, real = digits
    with pytest.raises(DataError, match="threshold must be in"):
        confident_share(judge, real, threshold=1.5)
    with pytest.raises(DataError, match="no images"):
        confident_share(judge, real[:0])
    images = ImageSet(real[:4], {"y": np.array([0, 1, 0, 1])})
    with pytest.raises(DataError, match="no attribute 'digit'.*\\['y'\\]"):
        judge_classes(images, "digit")
    with pytest.raises(DataError, match="at least two classes"):
        train_judge(real[:4], np.zeros(4, dtype=int))
