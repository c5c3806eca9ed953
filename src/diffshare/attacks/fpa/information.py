"""Mutual information without torch: what the greedy selection and the audits compute. In nats.

- :func:`discrete_mutual_information`: I(A;B) of two discrete arrays, exact plug-in estimate from
  their contingency table (:func:`mutual_information_from_counts`).
- :class:`DonskerVaradhanSums`: the Donsker-Varadhan bound of a set of rows from running sums of
  a trained statistics network's per-row values (:mod:`~diffshare.attacks.fpa.mine` trains it),
  and of the set plus any candidate row in O(1).
- :func:`mi_xy_of`: that bound for rows given their terms T(x, 0), T(x, 1) and labels.

A module of its own so that the jobs that only score rows (the selection, the classifiers' and
the audit's tables) never import torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffshare.errors import DataError


def discrete_mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(A;B) in nats of two equally long arrays of discrete values (plug-in estimate)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise DataError(f"need two non-empty 1-d arrays of one length, got {a.shape}, {b.shape}")
    _, a_codes = np.unique(a, return_inverse=True)
    _, b_codes = np.unique(b, return_inverse=True)
    counts = np.zeros((a_codes.max() + 1, b_codes.max() + 1))
    np.add.at(counts, (a_codes, b_codes), 1.0)
    return mutual_information_from_counts(counts)


def mutual_information_from_counts(counts: np.ndarray) -> float:
    """I in nats of the joint distribution given by a contingency table of counts."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise DataError("contingency table is empty")
    joint = counts / total
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])))


@dataclass
class DonskerVaradhanSums:
    """Running sums that give the DV bound of a set of rows in O(1), and of the set plus one row.

    With T fixed and per-row values t_i = T(x_i, y_i), e0_i = exp T(x_i, 0), e1_i = exp T(x_i, 1),
    the bound of a set D of n rows, n1 of them with y = 1, is
    mean(t) - log( ((n - n1) / n * sum(e0) + n1 / n * sum(e1)) / n ):
    the marginal expectation pairs every x of D with y drawn from D's label frequencies.
    """

    n: float
    n1: float
    sum_t: float
    sum_e0: float
    sum_e1: float

    @classmethod
    def of(
        cls, t: np.ndarray, e0: np.ndarray, e1: np.ndarray, y: np.ndarray
    ) -> DonskerVaradhanSums:
        return cls(
            float(len(t)), float(np.sum(y)), float(np.sum(t)), float(np.sum(e0)), float(np.sum(e1))
        )

    def value(self) -> float:
        """The DV bound of the set, in nats."""
        return float(self.with_rows(0.0, 0.0, 0.0, 0.0, count=0.0))

    def with_rows(self, t, e0, e1, y, count=1.0):
        """The bound after adding one row (arrays give one value per candidate row)."""
        n = self.n + count
        n1 = self.n1 + np.asarray(y, dtype=np.float64) * count
        marginal = (
            (n - n1) * (self.sum_e0 + np.asarray(e0) * count)
            + n1 * (self.sum_e1 + np.asarray(e1) * count)
        ) / (n * n)
        return (self.sum_t + np.asarray(t) * count) / n - np.log(marginal)

    def add(self, t: float, e0: float, e1: float, y: int) -> None:
        self.n += 1.0
        self.n1 += float(y)
        self.sum_t += float(t)
        self.sum_e0 += float(e0)
        self.sum_e1 += float(e1)


def mi_xy_of(terms: np.ndarray, labels: np.ndarray) -> float:
    """The DV bound, in nats, of rows whose terms (n, 2) (T(x, 0), T(x, 1)) carry ``labels``."""
    t0, t1 = terms[:, 0], terms[:, 1]
    labels = np.asarray(labels, dtype=np.int64)
    return DonskerVaradhanSums.of(
        np.where(labels == 1, t1, t0), np.exp(t0), np.exp(t1), labels
    ).value()
