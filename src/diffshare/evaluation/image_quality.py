"""How recognisable an image generator's samples are: the confident share of a judge.

The judge is the paper's CNN (:class:`~diffshare.receivers.cnn.CnnClassifier`) trained on real
images to tell their classes apart (the ten digits of MNIST and Colored MNIST: a finer task than
the receiver's y, so a sample must show *which* digit it is). A sample counts as recognisable when
the judge gives one class a probability of at least ``threshold`` (0.9). The measure is the share
of recognisable samples beside the same share on held-out real images, and their ratio
(``relative``: 1 when the samples are as recognisable as real images). Noise and blobs score near
0: the judge spreads its probability over several classes for them
(``tests/test_image_quality.py`` checks that real digits and noise are told apart).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from diffshare.data.images import ImageSet
from diffshare.errors import DataError
from diffshare.receivers.cnn import CnnClassifier

#: A judge's class probability above which a sample counts as recognisable.
CONFIDENCE = 0.9


def judge_classes(images: ImageSet, column: str) -> np.ndarray:
    """The classes the judge learns: attribute ``column`` of the real ``images`` (DataError
    naming it and the attributes there when it is missing)."""
    if column not in images.attributes:
        raise DataError(
            f"image.quality.classes: the images have no attribute {column!r}; they have "
            f"{sorted(images.attributes)}"
        )
    return np.asarray(images.attributes[column])


def train_judge(
    images: np.ndarray,
    classes: np.ndarray,
    *,
    epochs: int = 5,
    seed: int = 0,
    device: str = "auto",
) -> CnnClassifier:
    """The judge: the CNN trained on real uint8 ``images`` and their integer ``classes``."""
    if len(np.unique(classes)) < 2:
        raise DataError("the quality judge needs real images of at least two classes")
    judge = CnnClassifier(epochs=epochs, seed=seed, device=device)
    return judge.fit(images, classes)


def confident_share(
    judge: CnnClassifier, images: np.ndarray, threshold: float = CONFIDENCE
) -> float:
    """The share of ``images`` to which ``judge`` gives one class at least ``threshold``."""
    if not 0.0 < threshold < 1.0:
        raise DataError(f"the confidence threshold must be in (0, 1), got {threshold}")
    if len(images) == 0:
        raise DataError("no images to judge")
    return float(np.mean(judge.predict_proba(images).max(axis=1) >= threshold))


def sample_quality(
    judge: CnnClassifier,
    samples: np.ndarray,
    real: np.ndarray,
    threshold: float = CONFIDENCE,
) -> dict[str, Any]:
    """``confident_share`` of the ``samples`` and of held-out ``real`` images (never seen by the
    judge), and ``relative``, their ratio."""
    return _rows(judge, [{"threshold": threshold}], [samples], real, threshold)[0]


def quality_table(
    judge: CnnClassifier,
    sets: Sequence[Mapping[str, Any]],
    samples: Sequence[np.ndarray],
    real: np.ndarray,
    threshold: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per sample set: its description in ``sets`` (generator, subset, seed) and
    :func:`sample_quality` of its ``samples`` against the ``real`` held-out images."""
    return pd.DataFrame(_rows(judge, sets, samples, real, threshold))


def _rows(
    judge: CnnClassifier,
    sets: Sequence[Mapping[str, Any]],
    samples: Sequence[np.ndarray],
    real: np.ndarray,
    threshold: float,
) -> list[dict[str, Any]]:
    if len(sets) != len(samples):
        raise DataError(f"{len(sets)} sample sets described but {len(samples)} given")
    real_share = confident_share(judge, real, threshold)
    if real_share == 0.0:
        raise DataError("the judge is confident on no real image: it cannot rate samples")
    rows = []
    for described, images in zip(sets, samples, strict=True):
        share = confident_share(judge, images, threshold)
        rows.append(
            {
                **described,
                "n_samples": len(images),
                "confident_share": share,
                "real_confident_share": real_share,
                "relative": share / real_share,
            }
        )
    return rows
