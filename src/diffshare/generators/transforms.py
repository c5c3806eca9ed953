"""Column transforms of the tabular diffusion model, stored as plain arrays (no pickle).

:class:`QuantileNormal` maps each numeric column to a standard normal through its empirical
quantiles (as scikit-learn's ``QuantileTransformer(output_distribution="normal")``), and back.
Its whole state is two float arrays, so a receiver can load a shared model without unpickling.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from diffshare.errors import DataError

# Probabilities are clipped away from 0 and 1 so the normal scores stay finite (about +-5.2).
_EPS = 1e-7


class QuantileNormal:
    """Per-column quantile transform to N(0, 1).

    ``fit(x)`` with ``x`` of shape (n_rows, n_columns); ``transform`` and ``inverse_transform``
    keep that shape. Learned state: ``quantiles_`` (n_quantiles, n_columns) and ``references_``
    (n_quantiles,), the probabilities those quantiles belong to.
    """

    def __init__(self, n_quantiles: int = 1000):
        self.n_quantiles = n_quantiles

    def fit(self, x: np.ndarray) -> QuantileNormal:
        x = _check_matrix(x, "fit")
        n_quantiles = max(2, min(self.n_quantiles, x.shape[0]))
        self.references_ = np.linspace(0.0, 1.0, n_quantiles)
        quantiles = np.nanpercentile(x, self.references_ * 100.0, axis=0)
        # Keep quantiles non-decreasing despite floating-point noise in percentile interpolation.
        self.quantiles_ = np.maximum.accumulate(quantiles, axis=0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = _check_matrix(x, "transform", self.quantiles_.shape[1])
        out = np.empty_like(x)
        for j in range(x.shape[1]):
            q = self.quantiles_[:, j]
            # Average of the forward and backward interpolation, so that a value repeated over
            # many quantiles (a spike such as capital_gain = 0) maps to the middle of its range.
            up = np.interp(x[:, j], q, self.references_)
            down = -np.interp(-x[:, j], -q[::-1], -self.references_[::-1])
            out[:, j] = 0.5 * (up + down)
        return ndtri(np.clip(out, _EPS, 1.0 - _EPS))

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        z = _check_matrix(z, "inverse_transform", self.quantiles_.shape[1])
        p = np.clip(ndtr(z), 0.0, 1.0)
        return np.stack(
            [
                np.interp(p[:, j], self.references_, self.quantiles_[:, j])
                for j in range(z.shape[1])
            ],
            axis=1,
        )

    def state(self) -> dict[str, np.ndarray]:
        return {"quantiles": self.quantiles_, "references": self.references_}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> QuantileNormal:
        transform = cls(n_quantiles=len(state["references"]))
        transform.quantiles_ = np.asarray(state["quantiles"], dtype=np.float64)
        transform.references_ = np.asarray(state["references"], dtype=np.float64)
        return transform


def _check_matrix(x: np.ndarray, what: str, n_columns: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"QuantileNormal.{what} expects a 2-d array, got shape {x.shape}")
    if n_columns is not None and x.shape[1] != n_columns:
        raise DataError(f"QuantileNormal.{what} expects {n_columns} columns, got {x.shape[1]}")
    if not np.isfinite(x).all():
        raise DataError(f"QuantileNormal.{what} got non-finite values")
    return x
