"""Differentially private preprocessing of the tabular diffusion model (the ``dp_sgd`` defense).

DP-SGD (:mod:`.dp_training`) bounds what the denoiser's weights say about a row. The model
stores more than its weights: its column layout (category sets, label counts) in
``config.json`` and its numeric quantiles in ``transforms.npz``. Under ``dp_sgd`` these come from
here, so that everything the model stores is covered by one (epsilon, delta):

- category sets (and the label's) are the dataset's declared :class:`PublicDomain`
  (``datasets.<name>.domain`` in ``config/datasets.yaml``), never the categories the private rows
  hold: a category without a private row is generated all the same, and a private value outside
  the domain stops the run, named;
- each numeric column's quantiles are read off a histogram of the private column over bins fixed
  by the column's public bounds (:func:`histogram_edges`), released with Laplace noise
  (:func:`laplace_mechanism`) and post-processed into monotone quantiles within the bounds
  (:func:`histogram_quantiles`);
- the label counts (the class frequencies samples are drawn with) are a Laplace-noised
  histogram over the public label set, rounded and clipped at 0 (:func:`noisy_label_counts`).

Neighbouring tables differ by adding or removing one row, the relation Opacus's accountant uses
(so the row count is treated as public, as Opacus does). One row moves one count of each
histogram by one: L1 sensitivity 1 per histogram. Each histogram is released with
``epsilon / (number of histograms)`` (pure epsilon-DP by sequential composition over the
histograms, which are all of the same rows); rounding, clipping and the quantiles are
post-processing. :func:`split_budget` splits a total epsilon between these releases and DP-SGD,
at DP-SGD's delta (basic composition: the epsilons add up).

What else the model stores is public: its hyperparameters and seed, the column order and which
numeric columns are integers (the prepared table's dtypes, which
:func:`~diffshare.data.tabular.prepare` sets from the whole published files), and the number of
quantiles (the configured one, not capped by the row count as non-private training caps it).

The noise is drawn from ``numpy``'s generator seeded from the operating system's entropy
(:func:`noise_rng`), a seed that is never stored: anyone holding the model could otherwise
regenerate the noise from the seed ``config.json`` stores and subtract it, recovering the exact
histograms. ``reproducible_noise=True`` seeds it from the model's seed instead, for reproducible
experiments only: such a release is not DP (the record says ``"noise": "seeded ..."``). Even
so, floating-point Laplace sampling is known to leak through its low-order bits (Mironov 2012):
this module measures the defense, it is not a hardened implementation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from diffshare.data.schema import TableSchema
from diffshare.errors import ConfigError, DataError
from diffshare.generators.tabular_layout import ColumnLayout
from diffshare.generators.transforms import QuantileNormal

#: The mechanism of every preprocessing release, and the neighbouring relation it is DP under.
MECHANISM = "laplace"
NEIGHBOURING = "add/remove one row"
#: How a numeric column's bins are spaced between its public bounds.
SCALES = ("linear", "log")
#: L1 sensitivity of a histogram of one row per count: one row moves one count by one.
HISTOGRAM_SENSITIVITY = 1.0
#: Mixed with the model's seed to seed the preprocessing noise when it is reproducible
#: (DP-SGD's noise then uses seed + 1).
_NOISE_STREAM = 0xD9_0E_5E
#: The record's ``noise``: drawn from the operating system's entropy (never stored), or seeded
#: by the model's stored seed (``reproducible_noise``), which voids the guarantee.
NOISE_OS_ENTROPY = "os_entropy"
NOISE_SEEDED = "seeded (reproducible_noise: true; not a privacy guarantee)"


def noise_source(reproducible_noise: bool) -> str:
    """The ``noise`` entry of a record: :data:`NOISE_SEEDED` or :data:`NOISE_OS_ENTROPY`."""
    return NOISE_SEEDED if reproducible_noise else NOISE_OS_ENTROPY


def noise_rng(seed: int, reproducible_noise: bool) -> np.random.Generator:
    """The generator of the Laplace noise: seeded from ``seed`` (mixed with a stream of its
    own) when ``reproducible_noise``, for experiments only; else from fresh operating-system
    entropy, which is neither returned nor stored."""
    if reproducible_noise:
        return np.random.default_rng([int(seed), _NOISE_STREAM])
    return np.random.default_rng(np.random.SeedSequence())  # OS entropy, never stored


@dataclass(frozen=True)
class NumericBounds:
    """Public bounds ``[low, high]`` of a numeric column and how its histogram bins are spaced:
    ``linear`` (equal widths) or ``log`` (widths growing geometrically with the distance from
    ``low``, for heavy-tailed amounts with a spike at ``low``, such as capital gains)."""

    low: float
    high: float
    scale: str = "linear"


@dataclass(frozen=True)
class PublicDomain:
    """A dataset's declared public domain (``datasets.<name>.domain``): each categorical
    column's (and the label's) category set, and each numeric column's bounds. Values are those
    of the prepared table, after ``recode``, ``derive`` and the handling of missing values."""

    dataset: str
    categories: dict[str, list[str]] = field(default_factory=dict)
    numeric: dict[str, NumericBounds] = field(default_factory=dict)

    @classmethod
    def from_config(cls, dataset: str, domain: Mapping[str, Any] | None) -> PublicDomain:
        """The domain of catalogue entry ``dataset`` from its ``domain`` mapping (``None``
        when the entry declares none, which :class:`ConfigError` names)."""
        key = f"datasets.{dataset}.domain"
        if not domain:
            raise ConfigError(
                f"dataset {dataset!r} declares no public domain: dp_sgd takes every categorical "
                f"column's category set and every numeric column's bounds from the catalogue key "
                f"{key!r} (never from the private rows); add it to config/datasets.yaml"
            )
        categories: dict[str, list[str]] = {}
        for column, values in (domain.get("categories") or {}).items():
            values = [str(v) for v in (values or [])]
            duplicated = sorted({v for v in values if values.count(v) > 1})
            if not values or duplicated:
                raise ConfigError(
                    f"{key}.categories.{column} must list distinct categories; got {values!r}"
                )
            categories[str(column)] = values
        numeric: dict[str, NumericBounds] = {}
        for column, bounds in (domain.get("numeric") or {}).items():
            where = f"{key}.numeric.{column}"
            if not isinstance(bounds, Mapping) or not {"low", "high"} <= set(bounds):
                raise ConfigError(f"{where} needs 'low' and 'high'; got {bounds!r}")
            try:
                low, high = float(bounds["low"]), float(bounds["high"])
            except (TypeError, ValueError) as error:
                raise ConfigError(
                    f"{where}: bounds must be numbers; got {dict(bounds)!r}"
                ) from error
            scale = str(bounds.get("scale", "linear"))
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ConfigError(f"{where}: needs finite low < high; got [{low}, {high}]")
            if scale not in SCALES:
                raise ConfigError(f"{where}.scale must be one of {list(SCALES)}; got {scale!r}")
            numeric[str(column)] = NumericBounds(low, high, scale)
        return cls(dataset=dataset, categories=categories, numeric=numeric)

    def check_schema(self, schema: TableSchema) -> None:
        """Raise :class:`ConfigError` naming the key to add unless the domain declares every
        categorical column and the label of ``schema`` (with its positive value) and bounds for
        every numeric column."""
        key = f"datasets.{self.dataset}.domain"
        missing = [
            f"{key}.categories.{c}"
            for c in [*schema.categorical, schema.label]
            if c not in self.categories
        ]
        missing += [f"{key}.numeric.{c}" for c in schema.numeric if c not in self.numeric]
        if missing:
            raise ConfigError(
                f"dataset {self.dataset!r}: dp_sgd needs the public domain of every column, and "
                f"{', '.join(repr(m) for m in missing)} {'is' if len(missing) == 1 else 'are'} "
                "missing"
            )
        if schema.positive not in self.categories[schema.label]:
            raise ConfigError(
                f"{key}.categories.{schema.label} lacks the label's positive value "
                f"{schema.positive!r}: {self.categories[schema.label]}"
            )

    def conform(self, table: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
        """``table`` with every categorical column (and the label) recoded to its domain's
        category set, sorted as :func:`~diffshare.data.tabular.prepare` sorts categories.
        Raises :class:`DataError` naming the column and value when a row holds a category
        outside the domain or a number outside its bounds."""
        self.check_schema(schema)
        key = f"datasets.{self.dataset}.domain"
        table = table.copy()
        for column in [*schema.categorical, schema.label]:
            if not isinstance(table[column].dtype, pd.CategoricalDtype):
                raise DataError(
                    f"training column {column!r} must be categorical (a prepared table)"
                )
            declared = self.categories[column]
            values = table[column].astype(str)
            outside = sorted(set(values) - set(declared))
            if outside:
                raise DataError(
                    f"column {column!r} holds {outside[0]!r}, outside its public domain "
                    f"{key}.categories.{column} = {declared}"
                    + (f" (and {len(outside) - 1} more)" if len(outside) > 1 else "")
                )
            table[column] = pd.Categorical(values, categories=sorted(declared))
        for column in schema.numeric:
            bounds = self.numeric[column]
            values = table[column].to_numpy(dtype=np.float64)
            outside = (values < bounds.low) | (values > bounds.high)
            if outside.any():
                raise DataError(
                    f"column {column!r} holds {values[outside][0]:g}, outside its public bounds "
                    f"{key}.numeric.{column} = [{bounds.low:g}, {bounds.high:g}]"
                )
        return table


def split_budget(epsilon: float, preprocessing_share: float) -> dict[str, float]:
    """``epsilon`` split into ``epsilon_preprocessing`` (``preprocessing_share`` of it, for the
    Laplace releases) and ``epsilon_training`` (the rest, for DP-SGD at the same delta); the
    two add up to ``epsilon`` (basic composition)."""
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ConfigError(f"epsilon must be a positive number; got {epsilon!r}")
    if not 0.0 < preprocessing_share < 1.0:
        raise ConfigError(
            f"preprocessing_epsilon_share must be in (0, 1); got {preprocessing_share!r}"
        )
    preprocessing = float(epsilon) * float(preprocessing_share)
    return {
        "epsilon": float(epsilon),
        "epsilon_preprocessing": preprocessing,
        "epsilon_training": float(epsilon) - preprocessing,
    }


# -- the mechanism ---------------------------------------------------------------------------
def histogram_edges(bounds: NumericBounds, bins: int, integer: bool) -> np.ndarray:
    """Bin edges, shape (n_bins + 1,), increasing, fixed by the public ``bounds`` alone.

    ``integer`` columns: one bin per integer when the bounds hold at most ``bins`` integers,
    else ``bins`` bins whose edges are moved to half-integers (merged where they meet), from
    ``low - 0.5`` to ``high + 0.5``; other columns: ``bins`` bins from ``low`` to ``high``.
    ``bounds.scale``: equal widths (``linear``) or geometric in the distance from the lower
    edge (``log``, edges ``start + expm1(t * log1p(stop - start))``)."""
    if int(bins) < 2:
        raise ConfigError(f"preprocessing_bins must be at least 2; got {bins!r}")
    if integer:
        low, high = math.ceil(bounds.low), math.floor(bounds.high)
        if high < low:
            raise ConfigError(f"integer bounds [{bounds.low}, {bounds.high}] hold no integer")
        if high - low + 1 <= int(bins):
            return np.arange(low - 0.5, high + 1.0, 1.0)
        start, stop = low - 0.5, high + 0.5
    else:
        start, stop = float(bounds.low), float(bounds.high)
    t = np.linspace(0.0, 1.0, int(bins) + 1)
    if bounds.scale == "log":
        edges = start + np.expm1(t * np.log1p(stop - start))
    else:
        edges = start + t * (stop - start)
    inner = edges[1:-1]
    if integer:
        inner = np.floor(inner) + 0.5
    inner = inner[(inner > start) & (inner < stop)]
    return np.unique(np.concatenate([[start], inner, [stop]]))


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts (int64, shape (n_bins,)) of ``values`` in the bins ``[edges[i], edges[i + 1])``,
    the last bin closed; a value outside the edges is a :class:`DataError`."""
    values = np.asarray(values, dtype=np.float64)
    if values.size and (values.min() < edges[0] or values.max() > edges[-1]):
        raise DataError(f"values outside the histogram's range [{edges[0]}, {edges[-1]}]")
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(index, minlength=len(edges) - 1).astype(np.int64)


def laplace_mechanism(
    counts: np.ndarray,
    epsilon: float,
    rng: np.random.Generator,
    sensitivity: float = HISTOGRAM_SENSITIVITY,
) -> np.ndarray:
    """``counts`` plus independent Laplace noise of scale ``sensitivity / epsilon`` (float64,
    same shape): epsilon-DP for a query whose L1 sensitivity is ``sensitivity``."""
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ConfigError(f"Laplace mechanism needs a positive epsilon; got {epsilon!r}")
    counts = np.asarray(counts, dtype=np.float64)
    return counts + rng.laplace(0.0, sensitivity / epsilon, size=counts.shape)


def histogram_quantiles(
    noisy: np.ndarray, edges: np.ndarray, references: np.ndarray, bounds: NumericBounds
) -> np.ndarray:
    """Quantiles at the probabilities ``references`` of a noisy histogram over ``edges``:
    counts clipped at 0 (all zero: uniform), the CDF linear within each bin, the result
    non-decreasing and within ``[bounds.low, bounds.high]``. Post-processing only."""
    mass = np.clip(np.asarray(noisy, dtype=np.float64), 0.0, None)
    if not mass.sum() > 0:
        mass = np.ones_like(mass)
    cdf = np.concatenate([[0.0], np.cumsum(mass)])
    cdf = cdf / cdf[-1]
    p = np.asarray(references, dtype=np.float64)
    # The first edge whose CDF reaches p (for p = 0: the first bin with mass), then linear
    # interpolation within the bin before it.
    k = np.where(p > 0, np.searchsorted(cdf, p, side="left"), np.searchsorted(cdf, 0.0, "right"))
    k = np.clip(k, 1, len(edges) - 1)
    below, above = cdf[k - 1], cdf[k]
    width = above - below
    inside = (p - below) / np.where(width > 0, width, 1.0)
    fraction = np.clip(np.where(width > 0, inside, 0.0), 0.0, 1.0)
    quantiles = edges[k - 1] + fraction * (edges[k] - edges[k - 1])
    return np.maximum.accumulate(np.clip(quantiles, bounds.low, bounds.high))


def noisy_label_counts(noisy: np.ndarray) -> list[int]:
    """Released label counts: noisy counts rounded and clipped at 0 (all zero: one each), so
    that sampling draws labels with the normalised counts. Post-processing only."""
    counts = np.clip(np.round(np.asarray(noisy, dtype=np.float64)), 0, None).astype(np.int64)
    if counts.sum() == 0:
        counts = np.ones_like(counts)
    return [int(n) for n in counts]


# -- the preprocessing of a private table ----------------------------------------------------
@dataclass(frozen=True)
class Histogram:
    """One release: the pre-noise counts of a column over its public bins (``edges``; none for
    the label, whose bins are its categories)."""

    release: str  # "quantiles" or "label_counts"
    column: str
    counts: np.ndarray
    edges: np.ndarray | None = None


def private_histograms(
    table: pd.DataFrame, schema: TableSchema, domain: PublicDomain, bins: int
) -> list[Histogram]:
    """The pre-noise histograms of a table conformed to ``domain``
    (:meth:`PublicDomain.conform`): one per numeric column over :func:`histogram_edges`, then
    the label's over its public categories. Each changes by at most one count (L1 1) when one
    row is added or removed."""
    releases = []
    for column in schema.numeric:
        integer = pd.api.types.is_integer_dtype(table[column].dtype)
        edges = histogram_edges(domain.numeric[column], bins, integer)
        releases.append(
            Histogram("quantiles", column, histogram(table[column].to_numpy(), edges), edges)
        )
    codes = table[schema.label].cat.codes.to_numpy()
    n_labels = len(table[schema.label].cat.categories)
    releases.append(Histogram("label_counts", schema.label, np.bincount(codes, minlength=n_labels)))
    return releases


@dataclass
class PrivatePreprocessing:
    """What :func:`fit_private_preprocessing` gives: the model's ``layout`` and ``quantiles``,
    the ``table`` conformed to the domain (what DP-SGD trains on), the pre-noise
    ``histograms`` and their ``noisy`` releases (in memory only, for tests), and the ``record``
    for ``privacy.json``."""

    layout: ColumnLayout
    quantiles: QuantileNormal | None
    table: pd.DataFrame
    histograms: list[Histogram]
    noisy: list[np.ndarray]
    record: dict[str, Any]


def fit_private_preprocessing(
    table: pd.DataFrame,
    schema: TableSchema,
    domain: PublicDomain,
    *,
    epsilon: float,
    bins: int,
    n_quantiles: int,
    seed: int,
    reproducible_noise: bool = False,
) -> PrivatePreprocessing:
    """The layout and quantiles of the tabular diffusion model for a private ``table``, with
    ``epsilon`` spent (pure DP, add/remove one row) on the numeric columns' quantiles and the
    label counts, ``epsilon / (numeric columns + 1)`` each; category sets and bounds come from
    ``domain``. ``n_quantiles`` quantiles per column (not capped by the row count, which
    would depend on the table). The noise comes from the operating system's entropy, or, with
    ``reproducible_noise`` (experiments only: not DP, since the model stores its seed), from
    ``seed``; the record's ``noise`` says which."""
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ConfigError(f"preprocessing epsilon must be positive; got {epsilon!r}")
    if int(n_quantiles) < 2:
        raise ConfigError(f"n_quantiles must be at least 2; got {n_quantiles!r}")
    schema.check_table(table, "training table")
    conformed = domain.conform(table, schema)
    histograms = private_histograms(conformed, schema, domain, bins)
    per_release = float(epsilon) / len(histograms)
    scale = HISTOGRAM_SENSITIVITY / per_release
    rng = noise_rng(seed, reproducible_noise)
    noisy = [laplace_mechanism(h.counts, per_release, rng) for h in histograms]

    references = np.linspace(0.0, 1.0, int(n_quantiles))
    quantiles = None
    if schema.numeric:
        quantiles = QuantileNormal(int(n_quantiles))
        quantiles.references_ = references
        quantiles.quantiles_ = np.stack(
            [
                histogram_quantiles(values, h.edges, references, domain.numeric[h.column])
                for h, values in zip(histograms[:-1], noisy[:-1], strict=True)
            ],
            axis=1,
        )
    layout = ColumnLayout(
        numeric=list(schema.numeric),
        integer=[pd.api.types.is_integer_dtype(table[c].dtype) for c in schema.numeric],
        categorical=list(schema.categorical),
        categories={c: list(conformed[c].cat.categories) for c in schema.categorical},
        label=schema.label,
        label_categories=list(conformed[schema.label].cat.categories),
        label_counts=noisy_label_counts(noisy[-1]),
        columns=[c for c in table.columns if c in schema.columns],
        category_counts={},  # every category of the domain is generated
    )
    record = {
        "mechanism": MECHANISM,
        "neighbouring": NEIGHBOURING,
        "composition": "sequential over the histograms (pure epsilon-DP)",
        "epsilon": float(epsilon),
        "noise": noise_source(reproducible_noise),
        "domain": f"datasets.{domain.dataset}.domain",
        "releases": [
            {
                "release": h.release,
                "column": h.column,
                "epsilon": per_release,
                "sensitivity": HISTOGRAM_SENSITIVITY,
                "scale": scale,
                "bins": int(len(h.counts)),
            }
            for h in histograms
        ],
    }
    return PrivatePreprocessing(layout, quantiles, conformed, histograms, noisy, record)
