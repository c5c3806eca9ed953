"""The receiver's property discriminator, whatever the kind of data.

- :class:`Discriminator`: the protocol a discriminator meets (scikit-learn's classifier
  interface): a tabular pipeline, the image CNN, or a classifier on CLIP features.
- :class:`DiscriminatorSettings`: which classifier, its parameters and the held-out share of the
  auxiliary rows; the same shape for both tracks.
- :class:`PropertyDiscriminator`: a discriminator with its settings and the inputs it reads.
- :func:`discriminate`: fit on part of the auxiliary rows, measure the true- and false-positive
  rates on the rest (:func:`discriminator_rates`), label the samples.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from diffshare.errors import ConfigError, DataError

log = logging.getLogger(__name__)


class Discriminator(Protocol):
    """A property discriminator: ``fit`` on inputs ``X`` (rows of whatever the classifier reads:
    a table, images, features) and 0/1 labels ``y`` (n,); ``predict_proba`` gives (n, 2)
    probabilities of the classes 0 and 1, ``predict`` the hard 0/1 labels (n,)."""

    def fit(self, X: Any, y: np.ndarray) -> Discriminator: ...

    def predict_proba(self, X: Any) -> np.ndarray: ...

    def predict(self, X: Any) -> np.ndarray: ...


@dataclass(frozen=True)
class DiscriminatorSettings:
    """The discriminator's ``classifier`` (a name its track knows), the keyword ``params`` of
    that classifier, and the share of the auxiliary rows held out to measure its rates."""

    classifier: str
    params: Mapping[str, Any] = field(default_factory=dict)
    holdout: float = 0.5

    @classmethod
    def from_config(
        cls, entry: Mapping[str, Any], classifiers: Sequence[str], where: str = "discriminator"
    ) -> DiscriminatorSettings:
        """Settings from ``{classifier, params, holdout}`` (``params`` and ``holdout`` optional);
        :class:`ConfigError` naming the key of ``where`` whose value is not allowed."""
        unknown = sorted(set(entry) - {"classifier", "params", "holdout"})
        if unknown:
            raise ConfigError(
                f"{where} has unknown keys {unknown}; it takes classifier, params, holdout"
            )
        if entry.get("classifier") not in classifiers:
            raise ConfigError(
                f"{where}.classifier must be one of {list(classifiers)}, "
                f"got {entry.get('classifier')!r}"
            )
        params = entry.get("params") or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"{where}.params must be a mapping, got {params!r}")
        holdout = float(entry.get("holdout", 0.5))
        if not 0.0 < holdout < 1.0:
            raise ConfigError(f"{where}.holdout must be in (0, 1), got {holdout}")
        return cls(str(entry["classifier"]), dict(params), holdout)


@dataclass(frozen=True)
class PropertyDiscriminator:
    """An unfitted discriminator ``model`` with its ``settings`` and what it reads: its inputs of
    the receiver's ``auxiliary`` rows (a table or an array, n_aux rows), their property
    ``truth`` (0/1, shape (n_aux,)) and its inputs of the ``samples`` (n rows)."""

    model: Discriminator
    settings: DiscriminatorSettings
    auxiliary: Any
    truth: np.ndarray
    samples: Any


def discriminator_rates(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """True- and false-positive rates of hard predictions against the truth (both 0/1)."""
    truth = np.asarray(truth).astype(bool)
    predicted = np.asarray(predicted).astype(bool)
    if truth.all() or not truth.any():
        raise DataError(
            "the held-out auxiliary rows must hold rows with and without the property to "
            f"measure the discriminator's rates ({int(truth.sum())} of {len(truth)} have it)"
        )
    return float(predicted[truth].mean()), float(predicted[~truth].mean())


def discriminate(
    model: Discriminator,
    auxiliary: Any,
    truth: np.ndarray,
    samples: Any,
    *,
    name: str,
    holdout: float,
    seed: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit ``model`` on part of the ``auxiliary`` rows, rate it on the rest, label the samples.

    ``auxiliary``: the discriminator's inputs of the receiver's auxiliary rows (a table or an
    array, n_aux rows); ``truth``: their property, 0/1 of shape (n_aux,); ``samples``: its inputs
    of the samples (n rows). The auxiliary rows are split stratified on ``truth`` with
    ``seed``, ``holdout`` of them held out. Returns the hard 0/1 labels of the samples (int8,
    shape (n,)) and a record: the TPR and FPR on the held-out rows, the row counts, the auxiliary
    share and the seconds.
    """
    truth = np.asarray(truth)
    values = set(np.unique(truth).tolist())
    if not values <= {0, 1}:
        raise DataError(
            f"the auxiliary rows' property must be 0/1, got the values {sorted(values)}"
        )
    counts = np.bincount(truth.astype(np.int64), minlength=2)
    if counts.min() < 2:
        raise DataError(
            f"discriminator {name!r} needs at least two auxiliary rows with and two without the "
            f"property to be fitted and rated ({counts[1]} of {len(truth)} have it)"
        )
    start = time.perf_counter()
    fit_rows, held_rows = train_test_split(
        np.arange(len(truth)), test_size=holdout, random_state=seed, stratify=truth
    )
    model.fit(_rows(auxiliary, fit_rows), truth[fit_rows])
    tpr, fpr = discriminator_rates(truth[held_rows], model.predict(_rows(auxiliary, held_rows)))
    log.info(
        "discriminator %s: TPR %.4f, FPR %.4f on %d held-out rows", name, tpr, fpr, len(held_rows)
    )
    predicted = np.asarray(model.predict(samples), dtype=np.int8)
    record = {
        "discriminator": name,
        "tpr": tpr,
        "fpr": fpr,
        "n_auxiliary_fit": int(len(fit_rows)),
        "n_auxiliary_holdout": int(len(held_rows)),
        "auxiliary_ratio": float(np.mean(truth)),
        "seconds": time.perf_counter() - start,
    }
    return predicted, record


def _rows(inputs: Any, rows: np.ndarray) -> Any:
    """The ``rows`` (positions) of a table or an array."""
    return inputs.iloc[rows] if isinstance(inputs, pd.DataFrame) else inputs[rows]
