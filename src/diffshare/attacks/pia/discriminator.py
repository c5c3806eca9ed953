"""The receiver's property discriminator: its true- and false-positive rates on held-out rows."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from diffshare.errors import DataError

log = logging.getLogger(__name__)


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


def discriminator_record(
    name: str,
    truth: np.ndarray,
    fit_rows: np.ndarray,
    held_rows: np.ndarray,
    held_predicted: np.ndarray,
    start: float,
) -> dict[str, Any]:
    """TPR and FPR of a property discriminator on the held-out auxiliary rows, with the row
    counts, the auxiliary share and the seconds since ``start`` (logged too)."""
    tpr, fpr = discriminator_rates(truth[held_rows], held_predicted)
    log.info(
        "discriminator %s: TPR %.4f, FPR %.4f on %d held-out rows", name, tpr, fpr, len(held_rows)
    )
    return {
        "tpr": tpr,
        "fpr": fpr,
        "n_auxiliary_fit": int(len(fit_rows)),
        "n_auxiliary_holdout": int(len(held_rows)),
        "auxiliary_ratio": float(np.mean(truth)),
        "seconds": time.perf_counter() - start,
    }
