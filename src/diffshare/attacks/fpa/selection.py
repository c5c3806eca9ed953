"""The sharer's training subset: random, label-flipped, or greedily poisoned (fairness poisoning).

Greedy mutual-information selection (Luo et al., "Exploring Privacy and Fairness Risks in Sharing
Diffusion Models: An Adversarial Perspective", IEEE TIFS 2024, arXiv:2402.18607): raise I(S;Y) of
the subset while keeping its I(X;Y) within ``tolerance`` of the pool's. Unlike the authors' code,
which re-trains MINE on the whole growing subset for 100 random candidates per cell and slot, every
candidate here is scored exactly in O(1) from per-row values of one trained statistics network
(:class:`~diffshare.attacks.fpa.information.DonskerVaradhanSums`), so all candidates can be scored.

Everything here reads arrays: groups ``s`` and labels ``y`` (0/1, shape (n,)) and the MINE row
terms (n, 2) of :func:`~diffshare.attacks.fpa.mine.mine_terms`, whatever the kind of data.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diffshare.attacks.fpa.information import (
    DonskerVaradhanSums,
    discrete_mutual_information,
    mi_xy_of,
    mutual_information_from_counts,
)
from diffshare.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass
class Selection:
    """Chosen pool positions (in order of selection) and, for label flipping, their labels."""

    rows: np.ndarray
    labels: np.ndarray
    info: dict = field(default_factory=dict)


def _check_pool(s: np.ndarray, y: np.ndarray, subset_size: int, alpha: float) -> None:
    if s.shape != y.shape or s.ndim != 1:
        raise DataError(f"s and y must be 1-d arrays of one length, got {s.shape}, {y.shape}")
    if not (set(np.unique(s).tolist()) <= {0, 1} and set(np.unique(y).tolist()) <= {0, 1}):
        raise DataError("s and y must be binary (0/1)")
    if not 0.0 <= alpha <= 1.0:
        raise DataError(f"alpha must be in [0, 1], got {alpha}")
    if not 1 <= subset_size <= len(s):
        raise DataError(f"subset_size must be in [1, {len(s)}] (the pool), got {subset_size}")


def random_subset(s, y, subset_size: int, seed: int = 0) -> Selection:
    """A uniformly random subset of ``subset_size`` rows (the no-attack baseline)."""
    s, y = np.asarray(s), np.asarray(y)
    _check_pool(s, y, subset_size, 0.0)
    rows = np.random.default_rng(seed).choice(len(s), size=subset_size, replace=False)
    return Selection(rows=rows, labels=y[rows].copy())


def label_flip(s, y, subset_size: int, alpha: float, seed: int = 0) -> Selection:
    """The baseline attack: a random subset whose last ``round(alpha * subset_size)`` rows get
    the label y := s."""
    s, y = np.asarray(s), np.asarray(y)
    _check_pool(s, y, subset_size, alpha)
    selection = random_subset(s, y, subset_size, seed)
    n_poison = int(round(alpha * subset_size))
    labels = selection.labels.copy()
    if n_poison:
        labels[-n_poison:] = s[selection.rows[-n_poison:]]
    selection.labels = labels
    selection.info = {"flipped": int(np.sum(labels != y[selection.rows]))}
    return selection


CELLS = [(0, 0), (0, 1), (1, 0), (1, 1)]


def cells_by_gain(counts: np.ndarray) -> list[tuple[int, int]]:
    """The four (s, y) cells, ordered by I(S;Y) after adding one row of that cell (highest
    first); ``counts`` is the subset's 2x2 contingency table (s rows, y columns)."""
    gains = []
    for a, b in CELLS:
        counts[a, b] += 1
        gains.append(mutual_information_from_counts(counts))
        counts[a, b] -= 1
    return [CELLS[i] for i in np.argsort(gains, kind="stable")[::-1]]


def _counts(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    counts = np.zeros((2, 2))
    np.add.at(counts, (s, y), 1.0)
    return counts


def greedy_mutual_information(
    s,
    y,
    row_terms: tuple[np.ndarray, np.ndarray, np.ndarray],
    subset_size: int,
    alpha: float,
    *,
    tolerance: float,
    target: float,
    seed: int = 0,
    candidates_per_cell: int | None = None,
    max_base_draws: int = 100,
) -> Selection:
    """Greedy fairness-poisoning subset of the pool (s, y).

    ``row_terms`` are (t, e0, e1) of every pool row from a trained
    :class:`~diffshare.attacks.fpa.mine.MineEstimator`; ``target`` is the pool's I(X;Y) and
    ``tolerance`` the allowed deviation (both in nats). A random base of
    ``subset_size - round(alpha * subset_size)`` rows within tolerance is drawn (up to
    ``max_base_draws`` tries), then each remaining slot takes, from the (s, y) cell whose row
    raises I(S;Y) most, the unused row that keeps I(X;Y) closest to ``target``; a cell whose best
    row falls outside the tolerance gives way to the next cell; if none is acceptable, the
    closest row of all cells is taken. ``candidates_per_cell`` limits the rows scored per cell
    and slot to a random sample, as the authors' code did (None: score all).
    """
    s, y = np.asarray(s, dtype=np.int64), np.asarray(y, dtype=np.int64)
    _check_pool(s, y, subset_size, alpha)
    t, e0, e1 = (np.asarray(v, dtype=np.float64) for v in row_terms)
    if not (len(t) == len(e0) == len(e1) == len(s)):
        raise DataError("row_terms must hold one value per pool row")
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    n_poison = int(round(alpha * subset_size))
    n_base = subset_size - n_poison

    draw = 0
    while True:
        draw += 1
        base = rng.choice(len(s), size=n_base, replace=False)
        sums = DonskerVaradhanSums.of(t[base], e0[base], e1[base], y[base])
        if n_base == 0 or abs(sums.value() - target) <= tolerance:
            break
        if draw == max_base_draws:
            raise DataError(
                f"no random base of {n_base} rows had I(X;Y) within {tolerance:.4f} nats of "
                f"{target:.4f} in {max_base_draws} draws"
            )
    used = np.zeros(len(s), dtype=bool)
    used[base] = True
    counts = _counts(s[base], y[base])
    cell_rows = {cell: np.flatnonzero((s == cell[0]) & (y == cell[1])) for cell in CELLS}
    chosen, accepted_within = [], 0
    for _ in range(n_poison):
        best_overall = None
        picked = None
        for cell in cells_by_gain(counts):
            candidates = cell_rows[cell][~used[cell_rows[cell]]]
            if len(candidates) == 0:
                continue
            if candidates_per_cell is not None and len(candidates) > candidates_per_cell:
                candidates = rng.choice(candidates, size=candidates_per_cell, replace=False)
            distance = np.abs(
                sums.with_rows(t[candidates], e0[candidates], e1[candidates], y[candidates])
                - target
            )
            best = int(np.argmin(distance))
            if best_overall is None or distance[best] < best_overall[0]:
                best_overall = (float(distance[best]), int(candidates[best]))
            if distance[best] <= tolerance:
                picked = int(candidates[best])
                accepted_within += 1
                break
        if picked is None:
            if best_overall is None:
                raise DataError("the pool ran out of unused rows")
            picked = best_overall[1]
        used[picked] = True
        counts[s[picked], y[picked]] += 1
        sums.add(t[picked], e0[picked], e1[picked], y[picked])
        chosen.append(picked)
    rows = np.concatenate([base, np.asarray(chosen, dtype=np.int64)])
    info = {
        "base_draws": draw,
        "within_tolerance": accepted_within,
        "seconds": time.perf_counter() - start,
        "mi_xy": sums.value(),
    }
    return Selection(rows=rows, labels=y[rows].copy(), info=info)


ATTACKS = ("none", "label_flip", "mi_greedy")


def select_rows(
    attack: str,
    s: np.ndarray,
    y: np.ndarray,
    terms: np.ndarray,
    *,
    subset_size: int,
    alpha: float,
    seed: int,
    tolerance: float,
    candidates_per_cell: int | None = None,
) -> tuple[Selection, dict[str, Any]]:
    """The sharer's subset of a pool for ``attack``.

    The pool is given as sensitive groups ``s`` and labels ``y`` (both 0/1, shape (n,)) and MINE
    row ``terms`` (n, 2) (T(x, 0), T(x, 1), from :func:`~diffshare.attacks.fpa.mine.mine_terms`).
    Returns the selection (pool positions and their, possibly flipped, labels) and a record of
    I(S;Y) and I(X;Y) before and after (nats), the target and tolerance (``tolerance`` is a
    fraction of the pool's |I(X;Y)|: a bound that MINE estimates slightly below zero still leaves
    a usable tolerance) and the seconds.
    """
    if attack not in ATTACKS:
        raise ConfigError(f"unknown attack {attack!r}; choose one of {list(ATTACKS)}")
    if attack == "none" and alpha != 0:
        raise ConfigError(f"attack 'none' is stored with alpha 0, got alpha {alpha}")
    s, y = np.asarray(s, dtype=np.int64), np.asarray(y, dtype=np.int64)
    terms = np.asarray(terms, dtype=np.float64)
    if terms.shape != (len(y), 2):
        raise DataError(
            f"MINE row terms of shape {terms.shape} for a pool of {len(y)} rows; "
            f"expected ({len(y)}, 2)"
        )
    target = mi_xy_of(terms, y)
    start = time.perf_counter()
    selection: Selection
    if attack == "none":
        selection = random_subset(s, y, subset_size, seed)
    elif attack == "label_flip":
        selection = label_flip(s, y, subset_size, alpha, seed)
    else:
        t0, t1 = terms[:, 0], terms[:, 1]
        selection = greedy_mutual_information(
            s,
            y,
            (np.where(y == 1, t1, t0), np.exp(t0), np.exp(t1)),
            subset_size,
            alpha,
            tolerance=tolerance * abs(target),
            target=target,
            seed=seed,
            candidates_per_cell=candidates_per_cell,
        )
    seconds = time.perf_counter() - start
    flipped = selection.labels != y[selection.rows]
    record = {
        "attack": attack,
        "alpha": alpha,
        "seed": seed,
        "subset_size": subset_size,
        "mi_sy_before": discrete_mutual_information(s, y),
        "mi_sy_after": discrete_mutual_information(s[selection.rows], selection.labels),
        "mi_xy_before": target,
        "mi_xy_after": mi_xy_of(terms[selection.rows], selection.labels),
        "mi_xy_target": target,
        "mi_xy_tolerance": tolerance * abs(target),
        "flipped": int(flipped.sum()),
        "seconds": seconds,
        **{k: v for k, v in selection.info.items() if k not in ("seconds", "mi_xy", "flipped")},
    }
    return selection, record
