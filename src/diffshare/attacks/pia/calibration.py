"""Calibrated property inference: shadow models at known shares map a raw estimate to the share.

Hoeffding's bound covers only the sampling noise of an unbiased indicator; a generator distorts
the property's share and a discriminator errs, so raw estimates miss the bound most of the
time. The receiver can measure both on its own data: it trains *shadow* models of the suspected
family on its auxiliary rows at known shares (a grid), runs the same attack on each shadow's
samples, and fits how the raw estimate responds to the true share. Inverting that fit turns a
target's raw estimate into a calibrated estimate with a prediction interval.

The model (classical inverse regression, "calibration" in the statistician's sense):
shadow ``i`` at share ``s_i`` has raw estimates ``r_ij = a + b s_i + u_i + e_ij``, with ``u_i``
the model's own deviation (one draw per trained model) and ``e_ij`` the sampling noise of repeat
``j``. A line fitted by least squares to the shadows' mean estimates (over all their samples)
leaves residuals of variance ``sigma_m^2 = sigma_u^2 + sigma_e,full^2`` (``K - 2`` degrees of
freedom for ``K`` shadows); the repeats' spread at ``n`` queries gives ``sigma_e,n^2``. A
target's single raw estimate ``r`` at ``n`` queries then has, around ``a + b s``, the variance

    sigma_m^2 (1 + 1/K + (s - s_bar)^2 / Sxx) + sigma_e,n^2 - sigma_e,full^2

(its own model and sampling noise, plus the fitted line's uncertainty), and the ``1 - delta``
interval is every share ``s`` in [0, 1] whose prediction band (Student's t at ``K - 2`` degrees
of freedom) holds ``r``. A flat response (``b`` near 0: the family hides the property) gives a
wide interval, which is the honest answer.

Why linear: over [0, 1] a generator's distortion of a share and a discriminator's error rates
are close to affine (``aux``'s expectation is exactly ``FPR + (TPR - FPR) s``); five shadows
cannot support a more flexible fit, and conformal methods need at least ``1 / delta - 1``
exchangeable shadows (19 at delta 0.05) to give any finite interval. Shadows are limited by the
receiver's auxiliary data (:func:`shadow_size`), usually smaller than the target's training
set; whether the interval still covers is measured, not assumed (``coverage`` in
results/pia).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from diffshare.errors import ConfigError, DataError

#: The attack name of calibrated estimates in results/pia.
CALIBRATED = "calibrated"
#: Shares on which the interval is searched (step 0.0005).
_SHARES = np.linspace(0.0, 1.0, 2001)


def check_grid(grid: Sequence[float], what: str = "pia.calibration.shares") -> list[float]:
    """The shadow shares, sorted; :class:`ConfigError` naming ``what`` unless there are at least
    three distinct shares in [0, 1] (a line and its residual spread need three points)."""
    shares = sorted({float(s) for s in grid})
    bad = [s for s in shares if not 0.0 <= s <= 1.0]
    if bad:
        raise ConfigError(f"{what} must lie in [0, 1], got {bad}")
    if len(shares) < 3:
        raise ConfigError(
            f"{what} needs at least three distinct shares (a line and its spread), got {shares}"
        )
    return shares


def shadow_size(has: np.ndarray, grid: Sequence[float], cap: int) -> int:
    """The largest shadow set, at most ``cap`` rows, that the auxiliary rows (``has``: 0/1 per
    row, shape (n,)) supply at every share of ``grid``: ``round(s * size)`` rows with the
    property and the rest without. :class:`DataError` when not even ten rows fit."""
    shares = check_grid(grid)
    has = np.asarray(has).astype(bool)
    with_, without = int(has.sum()), int((~has).sum())
    size = int(cap)
    while size >= 10:
        if all(round(s * size) <= with_ and size - round(s * size) <= without for s in shares):
            return size
        size -= max(1, size // 200)
    raise DataError(
        f"the auxiliary data ({with_} rows with the property, {without} without) cannot supply "
        f"ten-row shadow sets at the shares {shares}; narrow pia.calibration.shares"
    )


@dataclass(frozen=True)
class Calibration:
    """The fitted map from a raw estimate to the share, for one attack of one family and seed.

    ``shares`` and ``means``: each shadow's true share and its mean raw estimate over all its
    samples; ``intercept`` and ``slope``: the least-squares line; ``residual_var``:
    ``sigma_m^2`` (``len(shares) - 2`` degrees of freedom); ``sampling_var``: the repeats'
    variance at each query count (``sigma_e,n^2``, keys as strings for JSON) and ``full_var``
    the variance of a shadow's mean over all its samples (``sigma_e,full^2``).
    """

    attack: str
    shares: list[float]
    means: list[float]
    intercept: float
    slope: float
    residual_var: float
    sampling_var: dict[str, float]
    full_var: float
    shadow_rows: list[int]

    @property
    def n_shadows(self) -> int:
        return len(self.shares)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> Calibration:
        return cls(**{key: entry[key] for key in cls.__dataclass_fields__})

    def interval(
        self, raw: float, n_queries: int, delta: float, repeats: int = 1
    ) -> tuple[float, float, float]:
        """The calibrated estimate of a raw estimate from ``n_queries`` samples (or the mean of
        ``repeats`` such estimates from disjoint batches) and its ``1 - delta`` prediction
        interval, all in [0, 1]."""
        key = str(int(n_queries))
        if key not in self.sampling_var:
            raise DataError(
                f"the calibration has no shadow estimates at {n_queries} queries "
                f"(it has {sorted(self.sampling_var, key=int)})"
            )
        shares = np.asarray(self.shares)
        centre = float(shares.mean())
        sxx = float(((shares - centre) ** 2).sum())
        extra = max(self.sampling_var[key] / repeats - self.full_var, 0.0)
        variance = (
            self.residual_var * (1 + 1 / self.n_shadows + (_SHARES - centre) ** 2 / sxx) + extra
        )
        t = stats.t.ppf(1 - delta / 2, self.n_shadows - 2)
        gap = np.abs(raw - self.intercept - self.slope * _SHARES)
        inside = gap <= t * np.sqrt(variance)
        if self.slope > 0:
            estimate = float(np.clip((raw - self.intercept) / self.slope, 0.0, 1.0))
        else:
            estimate = float(_SHARES[int(np.argmin(gap))])
        if not inside.any():
            # The raw estimate lies outside every prediction band: the target behaves unlike
            # every shadow. The interval shrinks to the estimate, and coverage says so.
            return estimate, estimate, estimate
        return estimate, float(_SHARES[inside].min()), float(_SHARES[inside].max())


def fit_calibration(shadows: pd.DataFrame, attack: str) -> Calibration:
    """Fit :class:`Calibration` from the shadows' raw estimates (columns ``attack, n_queries,
    repeat, estimate, true_ratio``; one shadow per ``true_ratio``, all its estimates from one
    model, ``shadow_rows`` optional per row) for ``attack``."""
    needed = {"attack", "n_queries", "repeat", "estimate", "true_ratio"}
    if not needed <= set(shadows.columns):
        missing = sorted(needed - set(shadows.columns))
        raise DataError(f"shadow estimates lack the columns {missing}")
    rows = shadows[shadows["attack"] == attack]
    if rows.empty:
        raise DataError(
            f"no shadow estimates of attack {attack!r}; they hold {sorted(set(shadows['attack']))}"
        )
    if not np.isfinite(rows["estimate"]).all():
        raise DataError(f"a shadow estimate of attack {attack!r} is not a finite number")
    largest = int(rows["n_queries"].max())
    top = rows[rows["n_queries"] == largest]
    per_shadow = top.groupby("true_ratio")["estimate"].agg(["mean", "size"]).sort_index()
    shares = per_shadow.index.to_numpy(dtype=np.float64)
    if len(shares) < 3:
        raise DataError(f"calibration needs shadows at three or more shares, got {shares.tolist()}")
    means = per_shadow["mean"].to_numpy(dtype=np.float64)
    slope, intercept = np.polyfit(shares, means, 1)
    residuals = means - (intercept + slope * shares)
    residual_var = float((residuals**2).sum() / (len(shares) - 2))
    sampling_var = {}
    for n, group in rows.groupby("n_queries"):
        spread = group.groupby("true_ratio")["estimate"].var(ddof=1).dropna()
        if spread.empty:
            raise DataError(f"the shadows have one repeat at {n} queries; calibration needs two")
        sampling_var[str(int(n))] = float(spread.mean())
    repeats = int(per_shadow["size"].min())
    sizes = (
        shadows.groupby("true_ratio")["shadow_rows"].first().astype(int).tolist()
        if "shadow_rows" in shadows.columns
        else []
    )
    return Calibration(
        attack=attack,
        shares=shares.tolist(),
        means=means.tolist(),
        intercept=float(intercept),
        slope=float(slope),
        residual_var=residual_var,
        sampling_var=sampling_var,
        full_var=sampling_var[str(largest)] / repeats,
        shadow_rows=sizes,
    )


def calibrate(estimates: pd.DataFrame, calibration: Calibration, delta: float) -> pd.DataFrame:
    """The ``calibrated`` attack's rows from a target's raw estimates (columns of
    :func:`~diffshare.attacks.pia.estimate.attack_estimates` and any keys beside them): the
    rows of ``calibration.attack``, each with its calibrated ``estimate`` and a ``lower`` and
    ``upper`` bound at ``1 - delta``."""
    if not 0.0 < delta < 1.0:
        raise ConfigError(f"delta must be in (0, 1), got {delta}")
    raw = estimates[estimates["attack"] == calibration.attack]
    if raw.empty:
        raise DataError(
            f"the target has no {calibration.attack!r} estimates to calibrate; it has "
            f"{sorted(set(estimates['attack']))}"
        )
    bounds = [
        calibration.interval(float(r), int(n), delta)
        for r, n in zip(raw["estimate"], raw["n_queries"], strict=True)
    ]
    out = raw.copy()
    out["attack"] = CALIBRATED
    out[["estimate", "lower", "upper"]] = np.asarray(bounds, dtype=np.float64)
    return out.reset_index(drop=True)


#: Columns of results/pia/calibration/{dataset}.csv, in order.
SENSITIVITY_COLUMNS = [
    "dataset",
    "generator",
    "calibrated_with",
    "n_queries",
    "seed",
    "coverage",
    "interval_width",
    "abs_error",
    "estimates",
]
#: The ``calibrated_with`` of the row that spans every family's interval.
ANY_FAMILY = "any family"


def family_sensitivity(
    estimates: pd.DataFrame,
    calibrations: Mapping[tuple[str, int], Calibration],
    delta: float,
) -> pd.DataFrame:
    """What calibrating on the wrong family costs: every target's raw estimates (columns
    ``dataset, generator, seed, true_ratio`` beside those of :func:`calibrate`) calibrated with
    every family's calibration at the same seed (``calibrations[(family, seed)]``), and with
    the span of all of them (``calibrated_with`` :data:`ANY_FAMILY`: from the lowest lower to
    the highest upper bound, the median estimate), which is the interval a receiver who does
    not know the family can state. One row per target family, calibrating family, query count
    and seed (:data:`SENSITIVITY_COLUMNS`), over its true ratios and repeats."""
    families = sorted({family for family, _ in calibrations})
    frames = []
    for (family, seed), calibration in calibrations.items():
        target = estimates[estimates["seed"] == seed]
        if target.empty:
            continue
        rows = calibrate(target, calibration, delta).assign(calibrated_with=family)
        frames.append(rows.reset_index(drop=True))
    if not frames:
        raise DataError("no target estimates share a seed with the calibrations")
    keys = ["dataset", "generator", "true_ratio", "n_queries", "seed", "repeat"]
    every = pd.concat(frames, ignore_index=True)
    if len(families) > 1:
        span = every.groupby(keys, as_index=False).agg(
            estimate=("estimate", "median"), lower=("lower", "min"), upper=("upper", "max")
        )
        every = pd.concat([every, span.assign(calibrated_with=ANY_FAMILY)], ignore_index=True)
    every["covered"] = (every["lower"] <= every["true_ratio"]) & (
        every["true_ratio"] <= every["upper"]
    )
    every["width"] = every["upper"] - every["lower"]
    every["error"] = (every["estimate"] - every["true_ratio"]).abs()
    table = every.groupby(
        ["dataset", "generator", "calibrated_with", "n_queries", "seed"], as_index=False
    ).agg(
        coverage=("covered", "mean"),
        interval_width=("width", "mean"),
        abs_error=("error", "mean"),
        estimates=("error", "size"),
    )
    return table[SENSITIVITY_COLUMNS]
