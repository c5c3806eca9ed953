"""The receiver's audit and mitigations on the image track.

The audit (:func:`diffshare.defenses.audit.audit_samples`), the mitigation core
(:func:`diffshare.defenses.mitigation.fit_and_predict`) and the tables
(:mod:`diffshare.defenses.fpa_report`) are the tabular ones. What differs on images is how the
receiver reads s and y off the samples, what the two-sample test looks at, and the receiver
it fits:

- **y** is the label each sample was drawn for: the FPA receiver asks the shared model for
  images of each class, balanced over y (:func:`diffshare.generators.image_sampling.sample_images`),
  so y is known without reading it. The poisoning shows up in what the model draws for each y:
  the colour (s) that comes with the label.
- **s** is read from the pixels (:func:`read_sensitive`). Where the dataset's s is a pixel rule
  (Colored MNIST: the colour, :func:`read_colour`) the rule reads it; otherwise the receiver
  trains a sensitive-attribute classifier, the paper's CNN, on its trusted reference images
  (:func:`classifier_reader`). The reference's s is read the same way as the samples' (for the
  classifier: out of fold), so that both tables of the audit carry the same reading errors.
- the **two-sample test** sees the images average-pooled to 8 x 8 pixels per channel
  (:func:`pixel_features`: 192 values for an RGB image, in [0, 1]), through the same
  classifier two-sample test as the tables (gradient boosting, ``defense.audit.classifier``).
  Pooled pixels need nothing trained: a feature network would have to be trained on data the
  receiver holds, that is on its few hundred reference images (the image track's feature CNN
  is trained on the sharer's pool, which the receiver does not hold). At 8 x 8 the colour and
  the rough shape of a digit remain, which is where a poisoning of Colored MNIST lives, with
  few enough features for the test's few hundred training rows.
- the **receiver** is the CNN of ``image.receiver`` with per-image weights
  (:meth:`~diffshare.receivers.cnn.CnnClassifier.fit`'s ``sample_weight``), so reweighing and
  fairlearn's exponentiated gradient (which refits it ``max_iter`` times) wrap it as they wrap
  the table classifiers; the threshold optimizer post-processes its scores (``prefit``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from diffshare.data.images import ImageSet
from diffshare.defenses.audit import TESTS, audit_samples, binary
from diffshare.defenses.mitigation import check_mitigation, fit_and_predict, predictions_table
from diffshare.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: How the receiver reads s off the images: ``auto`` (the dataset's pixel rule where it has one,
#: else the classifier), ``colour`` (Colored MNIST's rule), ``classifier`` (a CNN trained on the
#: reference images).
SENSITIVE_READERS = ("auto", "colour", "classifier")
#: The catalogue sources whose s is a rule on the pixels, and that rule.
PIXEL_RULES = {"cmnist": "colour"}
#: Side of the average-pooled image the two-sample test reads (pixels per side).
PIXEL_GRID = 8


def sensitive_reader(reader: str, source: str) -> str:
    """The reader of s for a dataset of catalogue ``source``: ``reader`` itself, or for
    ``auto`` the source's pixel rule (:data:`PIXEL_RULES`) where it has one, else
    ``classifier``."""
    if reader not in SENSITIVE_READERS:
        raise ConfigError(
            f"defense.audit.image_sensitive: {reader!r}; choose one of {list(SENSITIVE_READERS)}"
        )
    if reader == "auto":
        return PIXEL_RULES.get(source, "classifier")
    return reader


# -- reading s ---------------------------------------------------------------------------------


def read_colour(images: np.ndarray) -> tuple[np.ndarray, int]:
    """Colored MNIST's s from uint8 RGB ``images`` (n, h, w, 3): 1 (red) where the red channel
    carries more ink (the sum of its values) than the green, else 0 (green). Returns s as int8
    (n,) and the number of images whose red and green ink are equal (read as 0; a blank image
    has no colour)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DataError(
            f"the colour reader needs RGB images (n, h, w, 3), got shape {images.shape}"
        )
    ink = images[..., :2].astype(np.int64).sum(axis=(1, 2))  # (n, 2): red, green
    s = (ink[:, 0] > ink[:, 1]).astype(np.int8)
    return s, int((ink[:, 0] == ink[:, 1]).sum())


def classifier_reader(
    reference: ImageSet,
    samples: np.ndarray,
    *,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
) -> tuple[np.ndarray, np.ndarray, float]:
    """s read by the paper's CNN (``params`` of :class:`~diffshare.receivers.cnn.CnnClassifier`)
    trained on the ``reference`` images' own s, two-fold: the reference is split in two halves
    (seeded), a CNN is trained on each, each half is read by the CNN trained on the other, and
    the ``samples`` (uint8 images) by the mean of the two CNNs' probabilities.

    Returns ``(s_samples, s_reference, accuracy)``: int8 arrays, and the share of reference
    images read right (out of fold), the reader's accuracy on real images."""
    from diffshare.receivers.cnn import CnnClassifier

    truth = binary(_attribute(reference, "s", "the reference"), "the reference: s")
    order = np.random.default_rng(seed).permutation(len(reference))
    folds = [np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2 :])]
    s_reference = np.zeros(len(reference), dtype=np.int8)
    sample_probability = np.zeros(len(samples))
    for fold, (train, held_out) in enumerate([folds, folds[::-1]]):
        try:
            model = CnnClassifier(seed=seed + fold, device=device, **(params or {}))
        except TypeError as error:
            raise ConfigError(f"image.receiver: invalid parameter of the CNN: {error}") from error
        model.fit(reference.images[train], truth[train])
        positive = list(model.classes_).index(1)
        s_reference[held_out] = model.predict_proba(reference.images[held_out])[:, positive] >= 0.5
        sample_probability += model.predict_proba(samples)[:, positive] / 2
    accuracy = float(np.mean(s_reference == truth))
    return (sample_probability >= 0.5).astype(np.int8), s_reference, accuracy


def read_sensitive(
    reader: str,
    samples: ImageSet,
    reference: ImageSet | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """s of the ``samples`` and of the ``reference`` as the receiver reads them with
    ``reader`` (``colour`` or ``classifier``; see :func:`sensitive_reader`), and a record:
    ``s_reader``, ``s_reader_accuracy`` (share of the reference's images whose s is read
    right; NaN without a reference) and ``s_ambiguous`` (samples the colour rule could not
    tell apart, read as 0). The classifier needs the ``reference``; the colour rule reads the
    reference too where one is given, and returns None for it otherwise."""
    record: dict[str, Any] = {"s_reader": reader, "s_reader_accuracy": np.nan, "s_ambiguous": 0}
    if reader == "colour":
        s_samples, record["s_ambiguous"] = read_colour(samples.images)
        s_reference = None
        if reference is not None:
            s_reference, _ = read_colour(reference.images)
            truth = _attribute(reference, "s", "the reference")
            record["s_reader_accuracy"] = float(np.mean(s_reference == truth))
    elif reader == "classifier":
        if reference is None:
            raise DataError("the sensitive-attribute classifier is trained on the reference")
        s_samples, s_reference, accuracy = classifier_reader(
            reference, samples.images, params=params, seed=seed, device=device
        )
        record["s_reader_accuracy"] = accuracy
    else:
        raise ConfigError(f"unknown reader of s {reader!r}; choose colour or classifier")
    log.info(
        "s read by %s: %d of %d samples privileged; %s of the reference read right",
        reader,
        int(s_samples.sum()),
        len(s_samples),
        record["s_reader_accuracy"],
    )
    return s_samples, s_reference, record


def _attribute(images: ImageSet, name: str, what: str) -> np.ndarray:
    if name not in images.attributes:
        raise DataError(
            f"{what} carries no attribute {name!r} (it has {sorted(images.attributes)})"
        )
    return images.attributes[name]


def sample_labels(samples: ImageSet) -> np.ndarray:
    """The 0/1 label each sample was drawn for (``y``), int8 (n,): the FPA sweep's samples are
    conditional; an unconditional set has none, which stops with :class:`DataError`."""
    if "y" not in samples.attributes:
        raise DataError(
            "the samples carry no label y: the audit and the mitigations read the FPA sweep's "
            "class-conditional samples, drawn for each y"
        )
    return binary(samples.attributes["y"], "samples: y")


# -- the audit ---------------------------------------------------------------------------------


def pixel_features(images: np.ndarray, grid: int = PIXEL_GRID) -> pd.DataFrame:
    """uint8 ``images`` (n, h, w, c) average-pooled to ``grid`` x ``grid`` per channel, in
    [0, 1], as a table of n rows and ``grid * grid * c`` float columns ``c{channel}_{row}_{col}``
    (the two-sample test's view of an image)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise DataError(f"images must be (n, h, w, c), got shape {images.shape}")
    n, height, width, channels = images.shape
    if height % grid or width % grid:
        raise DataError(f"images of {height} x {width} pixels do not pool to {grid} x {grid}")
    pooled = images.reshape(n, grid, height // grid, grid, width // grid, channels)
    pooled = pooled.mean(axis=(2, 4), dtype=np.float64) / 255.0  # (n, grid, grid, c)
    values = pooled.transpose(0, 3, 1, 2).reshape(n, -1)
    columns = [f"c{c}_{r}_{k}" for c in range(channels) for r in range(grid) for k in range(grid)]
    return pd.DataFrame(values, columns=columns)


def audit_images(
    samples: ImageSet,
    reference: ImageSet,
    *,
    reader: str,
    reader_params: Mapping[str, Any] | None = None,
    train_rows: int | None = None,
    level: float = 0.05,
    tests: Sequence[str] = TESTS,
    tolerance: float = 0.0,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    classifier: Mapping[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
) -> dict[str, Any]:
    """The audit of a shared image model's (class-conditional) ``samples`` against the
    receiver's trusted ``reference`` images: :func:`~diffshare.defenses.audit.audit_samples` on
    the (s, y) of each set (s read by ``reader``, :func:`read_sensitive`; y the label drawn for,
    and the reference's own) and their pooled pixels (:func:`pixel_features`); ``train_rows``: the
    images the shared model was trained on (image.fpa.subset_size in the workflow). Returns its
    record (:data:`~diffshare.defenses.audit.AUDIT_COLUMNS`) followed by ``s_reader``,
    ``s_reader_accuracy`` and ``s_ambiguous``."""
    y_samples = sample_labels(samples)
    y_reference = binary(_attribute(reference, "y", "the reference"), "the reference: y")
    s_samples, s_reference, record = read_sensitive(
        reader, samples, reference, params=reader_params, seed=seed, device=device
    )
    audit = audit_samples(
        pixel_features(samples.images),
        pixel_features(reference.images),
        s_samples=s_samples,
        y_samples=y_samples,
        s_reference=s_reference,
        y_reference=y_reference,
        train_rows=train_rows,
        level=level,
        tests=tests,
        tolerance=tolerance,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        classifier=classifier,
        seed=seed,
    )
    return {**audit, **record}


# -- the mitigations ---------------------------------------------------------------------------


class CnnReceiver(ClassifierMixin, BaseEstimator):
    """The receiver's CNN (:class:`~diffshare.receivers.cnn.CnnClassifier` with ``params``) as a
    scikit-learn estimator, so that fairlearn can clone it (exponentiated gradient) and check
    that it is fitted (the threshold optimizer's ``prefit``). ``fit(images, labels,
    sample_weight=None)`` on uint8 images (n, h, w, c)."""

    def __init__(
        self, params: Mapping[str, Any] | None = None, *, seed: int = 0, device: str = "auto"
    ):
        self.params = params
        self.seed = seed
        self.device = device

    def fit(self, X: np.ndarray, y: Any, sample_weight: Any = None) -> CnnReceiver:
        from diffshare.receivers.cnn import CnnClassifier

        try:
            model = CnnClassifier(seed=self.seed, device=self.device, **dict(self.params or {}))
        except TypeError as error:
            raise ConfigError(f"image.receiver: invalid parameter of the CNN: {error}") from error
        self.cnn_ = model.fit(X, np.asarray(y), sample_weight=sample_weight)
        self.classes_ = model.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, n_classes), float64 (as scikit-learn's classifiers give)."""
        check_is_fitted(self)
        return self.cnn_.predict_proba(X).astype(np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.cnn_.predict(X)


def mitigated_image_predictions(
    mitigation: str,
    train: ImageSet,
    test: ImageSet,
    s_train: np.ndarray,
    *,
    params: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
) -> pd.DataFrame:
    """The receiver's CNN (``params`` of ``image.receiver``) trained on the shared model's
    samples ``train`` (y: the label drawn for; ``s_train``: s as the receiver reads it,
    :func:`read_sensitive`) under ``mitigation``
    (:func:`~diffshare.defenses.mitigation.fit_and_predict`), predicting the real ``test``
    images (their own y and s). Returns the predictions table of every receiver
    (``y_true, y_pred, y_score, s``)."""
    check_mitigation(mitigation)
    y_train = sample_labels(train)
    s_train = binary(s_train, "samples: s")
    if len(s_train) != len(train):
        raise DataError(f"{len(s_train)} values of s for {len(train)} samples")
    if len(np.unique(y_train)) < 2:
        raise DataError(
            f"the samples hold only one label value ({int(y_train[0])}); "
            "a classifier cannot be trained on them"
        )
    y_test = binary(_attribute(test, "y", "the test set"), "test set: y")
    s_test = binary(_attribute(test, "s", "the test set"), "test set: s")
    y_pred, score = fit_and_predict(
        mitigation,
        CnnReceiver(params, seed=seed, device=device),
        train.images,
        y_train,
        s_train,
        test.images,
        s_test,
        sample_weight_name="sample_weight",
        settings=settings,
        seed=seed,
    )
    return predictions_table(y_test.astype(np.int64), y_pred, score, s_test.astype(np.int64))
