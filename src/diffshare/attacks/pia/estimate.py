"""Estimates of a property's share from per-sample indicators: disjoint query batches, and the
rate correction ``(p_hat - FPR) / (TPR - FPR)``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from diffshare.errors import ConfigError, DataError

ATTACKS = ("column", "aux", "aux_corrected")


#: Attacks on images: no property column, and CLIP zero-shot when its weights are given.
IMAGE_ATTACKS = ("aux", "aux_corrected", "zero_shot")


def batch_estimates(indicator: np.ndarray, n_queries: int, repeats: int) -> np.ndarray:
    """Means of ``repeats`` disjoint, consecutive batches of ``n_queries`` values, shape
    (repeats,)."""
    values = np.asarray(indicator, dtype=np.float64)
    if n_queries < 1 or repeats < 1:
        raise ConfigError(f"query count and repeats must be positive, got {n_queries}, {repeats}")
    needed = n_queries * repeats
    if len(values) < needed:
        raise DataError(
            f"{repeats} disjoint batches of {n_queries} queries need {needed} samples, "
            f"but only {len(values)} were drawn"
        )
    return values[:needed].reshape(repeats, n_queries).mean(axis=1)


def correct(estimates: np.ndarray, tpr: float, fpr: float) -> np.ndarray:
    """``(p_hat - FPR) / (TPR - FPR)`` clipped to [0, 1]: what a discriminator with these rates
    would report on data whose true share is the result."""
    if not tpr - fpr > 0.0:
        raise DataError(
            f"the property discriminator is no better than chance (TPR {tpr:.3f} <= FPR "
            f"{fpr:.3f}); its estimate cannot be corrected"
        )
    return np.clip((np.asarray(estimates, dtype=np.float64) - fpr) / (tpr - fpr), 0.0, 1.0)


def attack_estimates(
    indicators: Mapping[str, np.ndarray],
    attacks: Sequence[str],
    queries: Sequence[int],
    repeats: int,
    rates: Mapping[str, Any],
) -> pd.DataFrame:
    """One estimate per attack, query count and repeat from per-sample property indicators
    (``indicators[attack]``; ``aux_corrected`` reads ``aux`` and corrects it with
    ``rates["tpr"]`` and ``rates["fpr"]``). Columns ``attack, n_queries, repeat, estimate``."""
    rows = []
    for attack in attacks:
        source = "aux" if attack == "aux_corrected" else attack
        if source not in indicators:
            raise DataError(f"no property indicators for attack {attack!r}")
        for n in queries:
            values = batch_estimates(indicators[source], int(n), repeats)
            if attack == "aux_corrected":
                values = correct(values, rates["tpr"], rates["fpr"])
            rows += [
                {"attack": attack, "n_queries": int(n), "repeat": r, "estimate": float(v)}
                for r, v in enumerate(values)
            ]
    return pd.DataFrame.from_records(rows)
