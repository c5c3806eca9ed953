"""MINE for the fairness poisoning attack. All values are in nats (the torch-free parts, plug-in
I(S;Y) and the Donsker-Varadhan running sums, are in :mod:`~diffshare.attacks.fpa.information`).

- :class:`MineEstimator`: I(X;Y) for high-dimensional X and a binary label Y with MINE (Belghazi et
  al. 2018): a statistics network T(x, y) trained to maximise the Donsker-Varadhan bound
  I >= E_joint[T] - log E_marginal[exp T], with the moving-average gradient correction. Once T is
  trained, :meth:`MineEstimator.row_terms` gives per-row values from which the bound of any subset
  follows from running sums (see
  :class:`~diffshare.attacks.fpa.information.DonskerVaradhanSums`).
- :func:`mine_terms`: MINE trained once on a pool, its per-row terms T(x, 0), T(x, 1) and the
  pool's I(X;Y) and I(S;Y): what the greedy selection (:mod:`~diffshare.attacks.fpa.selection`)
  scores candidates with.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from diffshare.attacks.fpa.information import (
    DonskerVaradhanSums,
    discrete_mutual_information,
    mi_xy_of,
)
from diffshare.errors import DataError

log = logging.getLogger(__name__)


class StatisticsNetwork(nn.Module):
    """T(x, y): the concatenation [x, y] through ReLU layers to one value. Input (batch, d + 1)."""

    def __init__(self, d_x: int, hidden_dims: Sequence[int] = (100, 20)):
        super().__init__()
        layers: list[nn.Module] = []
        width = d_x + 1
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, y[:, None].to(x.dtype)], dim=1)).squeeze(1)


class MineEstimator:
    """MINE estimate of I(X;Y) for a binary label Y, in nats.

    ``fit(x, y)`` trains the statistics network on (x, y) with x of shape (n, d) (encoded
    features) and y of shape (n,) in {0, 1}; ``estimate(x, y)`` evaluates the DV bound of any set
    with the trained network; ``row_terms(x, y)`` returns the per-row values (t, e0, e1).
    Defaults are the config schema's (``fpa.mine``); the authors trained with Adam at 1e-4.
    """

    def __init__(
        self,
        hidden_dims: Sequence[int] = (100, 20),
        learning_rate: float = 1e-3,
        batch_size: int = 64,
        steps: int = 5000,
        moving_average_rate: float = 0.01,
        seed: int = 0,
    ):
        self.hidden_dims = tuple(hidden_dims)
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.steps = steps
        self.moving_average_rate = moving_average_rate
        self.seed = seed

    @staticmethod
    def _check(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y)
        if x.ndim != 2 or y.shape != (x.shape[0],):
            raise DataError(
                f"MINE needs x of shape (n, d) and y of shape (n,), got {x.shape}, {y.shape}"
            )
        if not set(np.unique(y).tolist()) <= {0, 1}:
            raise DataError(
                f"MINE needs a binary label y in {{0, 1}}, got values {np.unique(y)[:5]}"
            )
        if not np.isfinite(x).all():
            raise DataError("MINE input x holds non-finite values")
        return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def fit(self, x: np.ndarray, y: np.ndarray) -> MineEstimator:
        xt, yt = self._check(x, y)
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        self.network_ = StatisticsNetwork(xt.shape[1], self.hidden_dims)
        optimizer = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate)
        p1 = float(yt.float().mean())
        moving_average = None
        n = xt.shape[0]
        for step in range(self.steps):
            index = torch.randint(0, n, (self.batch_size,), generator=generator)
            xb, yb = xt[index], yt[index]
            marginal_y = (torch.rand(self.batch_size, generator=generator) < p1).long()
            t_joint = self.network_(xb, yb)
            exp_marginal = torch.exp(self.network_(xb, marginal_y)).mean()
            if moving_average is None:
                moving_average = exp_marginal.detach()
            else:
                rate = self.moving_average_rate
                moving_average = (1 - rate) * moving_average + rate * exp_marginal.detach()
            # Gradient of log E[e^T] with the biased minibatch denominator replaced by its
            # moving average (Belghazi et al. 2018, section 3.2).
            loss = -(t_joint.mean() - exp_marginal / moving_average)
            if not torch.isfinite(loss):
                raise DataError(f"MINE training diverged at step {step + 1}")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if (step + 1) % 1000 == 0:
                log.info("MINE step %d/%d", step + 1, self.steps)
        return self

    @torch.no_grad()
    def row_terms(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-row (T(x_i, y_i), exp T(x_i, 0), exp T(x_i, 1)), each of shape (n,)."""
        xt, yt = self._check(x, y)
        zeros = torch.zeros_like(yt)
        t0 = self.network_(xt, zeros).double()
        t1 = self.network_(xt, zeros + 1).double()
        t_own = torch.where(yt == 1, t1, t0)
        return t_own.numpy(), torch.exp(t0).numpy(), torch.exp(t1).numpy()

    def estimate(self, x: np.ndarray, y: np.ndarray) -> float:
        """The DV bound of the set (x, y) under the trained network, in nats."""
        t, e0, e1 = self.row_terms(x, y)
        return DonskerVaradhanSums.of(t, e0, e1, np.asarray(y)).value()


def mine_terms(
    x: np.ndarray, y: np.ndarray, s: np.ndarray, *, seed: int, **mine: Any
) -> tuple[np.ndarray, dict[str, Any]]:
    """MINE on features ``x`` (n, d) and binary labels ``y`` (n,), any kind of data.

    Returns the per-row terms, shape (n, 2): T(x_i, 0) and T(x_i, 1) of the trained statistics
    network, and a record with the pool's I(X;Y) (DV bound) and I(S;Y) of the groups ``s``, in
    nats. ``mine``: the settings of :class:`MineEstimator`.
    """
    start = time.perf_counter()
    y = np.asarray(y).astype(np.int64)
    estimator = MineEstimator(seed=seed, **mine).fit(x, y)
    _, e0, e1 = estimator.row_terms(x, y)
    terms = np.column_stack([np.log(e0), np.log(e1)])
    record = {
        "mi_xy_pool": mi_xy_of(terms, y),
        "mi_sy_pool": discrete_mutual_information(s, y),
        "n_pool": int(len(x)),
        "n_features": int(x.shape[1]),
        "seconds": time.perf_counter() - start,
    }
    return terms, record
