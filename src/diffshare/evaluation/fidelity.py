"""How closely a synthetic table follows a real one, column by column."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from diffshare.data.schema import TableSchema


def column_distances(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> dict:
    """Per column: the Kolmogorov-Smirnov statistic (numeric) or the total variation distance
    between category frequencies (categorical and label). Each is in [0, 1]; 0 = same marginal.
    """
    schema.check_table(real, "real table")
    schema.check_table(synthetic, "synthetic table")
    distances: dict[str, float] = {}
    for column in schema.numeric:
        distances[column] = float(
            ks_2samp(real[column].to_numpy(float), synthetic[column].to_numpy(float)).statistic
        )
    for column in [*schema.categorical, schema.label]:
        p = real[column].astype(str).value_counts(normalize=True)
        q = synthetic[column].astype(str).value_counts(normalize=True)
        p, q = p.align(q, fill_value=0.0)
        distances[column] = float(0.5 * np.abs(p - q).sum())
    return distances


def marginal_distance(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> float:
    """Mean of :func:`column_distances` over all columns."""
    return float(np.mean(list(column_distances(real, synthetic, schema).values())))


def fidelity_record(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> dict:
    """Marginal distance, per-column distances, and the sensitive-group and positive-label shares
    of the real and synthetic tables."""
    distances = column_distances(real, synthetic, schema)
    return {
        "marginal_distance": float(np.mean(list(distances.values()))),
        "sensitive_share_real": float(schema.groups(real).mean()),
        "sensitive_share_synthetic": float(schema.groups(synthetic).mean()),
        "positive_share_real": float(schema.labels(real).mean()),
        "positive_share_synthetic": float(schema.labels(synthetic).mean()),
        "n_real": int(len(real)),
        "n_synthetic": int(len(synthetic)),
        "column_distances": distances,
    }
