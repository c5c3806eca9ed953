"""The receiver's audit of a shared model's samples against a small trusted reference of real rows.

Fairness poisoning raises the association of the sensitive attribute S with the label Y in the
sharer's subset (the sharer holds I(X;Y) fixed), so the samples' 2x2 (s, y) table is the
cheapest fingerprint. The audit reports, for the samples:

- ``mi_sy``: the plug-in mutual information I(S;Y) of the (s, y) table, in nats;
- ``dp_gap``: the label's demographic-parity gap P(y=1 | s=1) - P(y=1 | s=0) (signed: positive
  when the privileged group has the higher positive rate);

each with a seeded percentile bootstrap interval, and the same two statistics of the reference.

**The verdict.** ``flagged`` is one test, the **association test** (:func:`association_test`):
one-sided, that the samples' demographic-parity gap is larger in magnitude than an honest
model's would be. Its statistic is the excess ``|gap(samples)| - |gap(reference)|`` (less a
``tolerance``, 0 by default), over the standard error of what an honest model's excess varies
by. The gaps are the plain ones (``dp_gap``, unbiased); the variances use Agresti-Caffo
adjusted proportions (one positive and one negative added to each group; Agresti and Caffo
2000), which defines them when a group's rate is 0 or 1. (Adjusting the gaps too would bias the
excess: the adjustment pulls the reference's small unprivileged group towards 1/2 more than the
thousands of samples, and a one-sided test pays for that bias in false alarms.) The null variance
is the sum of three binomial terms, each ``sum_g p_g (1 - p_g) / n_g`` over the two groups g of
s:

- the reference's sampling noise (its own rates and group sizes);
- the samples' sampling noise (their own rates and group sizes);
- the **training rows' noise**: an honest model learns its training rows' gap, which differs
  from the population's by the sampling noise of ``train_rows`` rows. Its group sizes are
  ``train_rows`` times the reference's group shares, its rates the reference's. Leaving it out
  treats the model as if it had learnt the population itself: at a large reference (thousands
  of rows against a 6,000-row training set) the one-sided test then fires on honest models far
  more often than its level (``tests/test_audit.py`` simulates both).

Why one-sided: poisoning *raises* the association (that is its purpose), while an honest model
may weaken it (a Gaussian copula smooths S-Y towards independence): a two-sided test flags the
weakening as loudly as the poisoning. Why the magnitude: on the image track the greedy
selection raises I(S;Y) in whichever direction the seed's pool offers, so the signed gap of a
poisoned model can fall below the reference's; a larger ``|gap|`` is the unfairness a receiver's
classifier inherits whatever its sign. Under the null (``|gap|`` no larger than the reference's,
plus ``tolerance``) the excess's distribution depends on how far the common gap lies from 0;
the p-value is the largest over the distances that a ``1 - 1e-9`` interval around the
reference's gap allows, plus 1e-9 (:func:`excess_p_value`: the least favourable case, after
Berger and Boos 1994), which is the one-sided normal tail when the gap is clearly away from 0
(Adult's) and stays at or below ``level`` near 0 too, where the plain normal tail would not.
``flagged`` is ``association_p_value <= level``.

**The distribution test** (:func:`classifier_two_sample_test`) is reported apart, as
``distribution_shift`` (``c2st_p_value <= level``), and never sets ``flagged``: a classifier
two-sample test (Lopez-Paz and Oquab 2017) of the whole table. Equal numbers of sample and
reference rows (the larger set is subsampled, seeded) are labelled by origin and split in half;
a gradient-boosted classifier trained on one half predicts the other, and the p-value is the
one-sided binomial tail of its held-out hits against 1/2. It tests "the samples are distributed
as real rows", which no real generator's samples are: with a large enough reference it rejects
every honest model (its power grows with the reference while the generator's imperfection
stays), so it cannot mean poisoning. It still tells a receiver that the samples differ from real
rows in some column, which a poisoning that leaves S-Y alone would also do.

Not covered: a family that honestly *raises* the gap (its own systematic distortion) is flagged
like a poisoned one; ``tolerance`` lets the receiver allow a known rise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from diffshare.attacks.fpa.information import mutual_information_from_counts
from diffshare.errors import ConfigError, DataError

#: The tests the audit can run, in the order of its columns: ``association`` sets ``flagged``
#: (always run), ``distribution`` sets ``distribution_shift`` (optional).
TESTS = ("association", "distribution")

#: Leading columns of results/audit/{dataset}.csv (after attack, alpha, seed), in order.
AUDIT_COLUMNS = [
    "n_samples",
    "n_reference",
    "train_rows",
    "train_rows_assumed",
    "mi_sy",
    "mi_sy_ci_low",
    "mi_sy_ci_high",
    "mi_sy_reference",
    "dp_gap",
    "dp_gap_ci_low",
    "dp_gap_ci_high",
    "dp_gap_reference",
    "association_excess",
    "association_se",
    "association_z",
    "association_p_value",
    "c2st_accuracy",
    "c2st_n_test",
    "c2st_p_value",
    "distribution_shift",
    "flagged",
]

#: Settings of the distribution test's classifier (scikit-learn's HistGradientBoostingClassifier).
DEFAULT_C2ST = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 15}


# -- the (s, y) table --------------------------------------------------------------------------


def binary(values: Any, name: str) -> np.ndarray:
    """``values`` as an int8 0/1 array of shape (n,); :class:`DataError` naming ``name`` unless
    every value is 0 or 1."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.isin(array, (0, 1)).all():
        found = sorted({str(v) for v in np.unique(array)})[:10]
        raise DataError(f"{name} must hold only 0 and 1, found {found}")
    return array.astype(np.int8)


def sy_table(s: Any, y: Any, *, what: str = "table") -> np.ndarray:
    """Counts of the (s, y) cells, shape (2, 2), ``[s, y]``. Raises :class:`DataError` when a
    group of s has fewer than two rows (its positive rate would be undefined or degenerate)."""
    s, y = binary(s, f"{what}: s"), binary(y, f"{what}: y")
    if len(s) != len(y):
        raise DataError(f"{what}: s has {len(s)} values but y has {len(y)}")
    counts = np.zeros((2, 2), dtype=np.int64)
    np.add.at(counts, (s, y), 1)
    for group in (0, 1):
        if counts[group].sum() < 2:
            raise DataError(
                f"{what} holds {counts[group].sum()} row(s) of group s={group}; the audit needs "
                "at least two rows of each group"
            )
    return counts


def mutual_information(counts: np.ndarray) -> float:
    """Plug-in I(S;Y) in nats of a (2, 2) count table (0 log 0 = 0; rounding below 0 clipped)."""
    return max(0.0, mutual_information_from_counts(counts))


def dp_gap(counts: np.ndarray) -> float:
    """The label's demographic-parity gap P(y=1 | s=1) - P(y=1 | s=0) of a (2, 2) table."""
    counts = np.asarray(counts, dtype=float)
    rates = counts[:, 1] / counts.sum(axis=1)
    return float(rates[1] - rates[0])


STATISTICS = {"mi_sy": mutual_information, "dp_gap": dp_gap}


def bootstrap_interval(
    counts: np.ndarray, statistic: str, *, n_bootstrap: int, confidence: float, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (``mi_sy`` or ``dp_gap``) of a (2, 2) table.

    Resampling rows with replacement is resampling the four cell counts from a multinomial with
    the observed shares, which is what this does (seeded by ``seed``). A draw that leaves a group
    empty has no ``dp_gap`` and is left out."""
    if statistic not in STATISTICS:
        raise ConfigError(f"unknown statistic {statistic!r}; choose one of {list(STATISTICS)}")
    if n_bootstrap < 1:
        raise ConfigError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    counts = np.asarray(counts)
    total = int(counts.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(total, counts.ravel() / total, size=n_bootstrap).reshape(-1, 2, 2)
    draws = draws[(draws.sum(axis=2) > 0).all(axis=1)]
    values = np.array([STATISTICS[statistic](draw) for draw in draws])
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def _adjusted(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Agresti-Caffo adjusted positive rates and group sizes of a (2, 2) table (one positive and
    one negative added to each group)."""
    counts = np.asarray(counts, dtype=float)
    n = counts.sum(axis=1) + 2.0
    return (counts[:, 1] + 1.0) / n, n


def check_train_rows(train_rows: Any, what: str = "train_rows") -> int:
    """``train_rows`` as a positive int; :class:`ConfigError` naming the value otherwise (0, a
    negative number, a fraction, text, a boolean)."""
    if isinstance(train_rows, bool | np.bool_):
        raise ConfigError(f"{what} must be a positive whole number of rows, got {train_rows!r}")
    try:
        number = float(train_rows)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number == int(number) and number >= 1):
        raise ConfigError(f"{what} must be a positive whole number of rows, got {train_rows!r}")
    return int(number)


def association_variances(
    samples: np.ndarray, reference: np.ndarray, train_rows: float
) -> dict[str, float]:
    """The three binomial variances of an honest model's demographic-parity gap excess (see the
    module's docstring): ``samples`` and ``reference`` (each table's own adjusted rates at its
    group sizes) and ``training`` (the reference's adjusted rates at ``train_rows`` times the
    reference's group shares; 0 when ``train_rows`` is infinite)."""
    variances = {}
    for name, counts in (("samples", samples), ("reference", reference)):
        rates, n = _adjusted(counts)
        variances[name] = float(np.sum(rates * (1 - rates) / n))
    rates, _ = _adjusted(reference)
    reference = np.asarray(reference, dtype=float)
    shares = reference.sum(axis=1) / reference.sum()
    variances["training"] = (
        0.0
        if math.isinf(train_rows)
        else float(np.sum(rates * (1 - rates) / (train_rows * shares)))
    )
    return variances


#: Standard-normal nodes of the quadrature over the reference's noise in :func:`excess_p_value`,
#: with their (normalised) weights.
_NODES = np.linspace(-9.0, 9.0, 721)
_WEIGHTS = np.exp(-(_NODES**2) / 2) / np.exp(-(_NODES**2) / 2).sum()


#: Berger and Boos's (1994) confidence level spent on the reference's gap in
#: :func:`excess_p_value`: the least favourable case is sought only among the gaps a
#: ``1 - NUISANCE_BETA`` interval around the reference's allows (about 6.1 standard errors either
#: side), and ``NUISANCE_BETA`` is added to the p-value, which is therefore never below it.
NUISANCE_BETA = 1e-9


def excess_p_value(
    excess: float,
    samples_variance: float,
    reference_variance: float,
    tolerance: float = 0.0,
    reference_gap: float | None = None,
) -> float:
    """One-sided p-value of an observed ``excess = |g_s| - |g_r| - tolerance`` of two normal gap
    estimates, ``g_s ~ N(theta_s, samples_variance)`` and ``g_r ~ N(theta_r,
    reference_variance)``, under the null ``|theta_s| <= |theta_r| + tolerance``.

    The excess's law depends on the nuisance ``m = |theta_r|``; the p-value is its upper tail at
    the least favourable m (the null's boundary ``|theta_s| = m + tolerance`` is the worst case,
    since ``|theta + noise|`` grows stochastically with ``|theta|``). Without ``reference_gap``:
    the largest over a grid of m in [0, 10 sd] and m -> infinity, where the excess is a
    difference of two normals and the tail is ``1 - Phi(excess / sd)``, sd the square root of
    the summed variances. With the observed ``reference_gap`` (Berger and Boos 1994): the
    largest over the m of its ``1 - NUISANCE_BETA`` interval, plus ``NUISANCE_BETA``, which is
    as valid and, when the gap is clearly away from 0, no more than ``NUISANCE_BETA`` above
    the normal tail. For each m the tail is a one-dimensional integral over the reference's
    noise (quadrature on 721 nodes), the samples' side in closed form."""
    a, b = float(samples_variance), float(reference_variance)
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise DataError(f"the association test needs positive variances, got {a} and {b}")
    sd = math.sqrt(a + b)
    if reference_gap is None:
        m, extra, far = np.linspace(0.0, 10.0 * sd, 81), 0.0, float(special.ndtr(-excess / sd))
    else:
        half = -float(special.ndtri(NUISANCE_BETA / 2)) * math.sqrt(b)
        low = max(0.0, abs(reference_gap) - half)
        m, extra, far = np.linspace(low, abs(reference_gap) + half, 81), NUISANCE_BETA, 0.0
    m = m[:, None]
    noise = math.sqrt(b) * _NODES[None, :]
    mean = m + tolerance
    bound = excess + tolerance + np.abs(m + noise)  # |mean + X| must reach this
    tail = special.ndtr((mean - bound) / math.sqrt(a)) + special.ndtr(
        (-bound - mean) / math.sqrt(a)
    )
    tail = np.where(bound <= 0, 1.0, tail)
    near = float((tail * _WEIGHTS).sum(axis=1).max())
    return min(1.0, max(far, near) + extra)


def association_test(
    samples: np.ndarray,
    reference: np.ndarray,
    *,
    train_rows: float,
    tolerance: float = 0.0,
) -> dict[str, float]:
    """One-sided test that the samples' demographic-parity gap is larger in magnitude than an
    honest model's trained on ``train_rows`` rows of the reference's population (``math.inf``:
    leave the training rows' noise out). ``samples`` and ``reference`` are independent (2, 2)
    tables. Returns ``association_excess`` (``|gap|`` of the samples less the reference's, plain
    rates), ``association_se`` (the square root of the null variance: samples,
    reference and training rows, :func:`association_variances`), ``association_z`` (the excess
    less ``tolerance``, over the se) and ``association_p_value`` (:func:`excess_p_value`)."""
    if isinstance(train_rows, bool) or not (isinstance(train_rows, Real) and train_rows >= 1):
        raise ConfigError(f"train_rows must be at least 1 (or inf), got {train_rows!r}")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ConfigError(f"defense.audit.tolerance must be a number >= 0, got {tolerance!r}")
    gaps = [dp_gap(counts) for counts in (samples, reference)]
    variances = association_variances(samples, reference, train_rows)
    samples_variance = variances["samples"] + variances["training"]
    se = math.sqrt(samples_variance + variances["reference"])
    excess = abs(gaps[0]) - abs(gaps[1])
    p = excess_p_value(
        excess - tolerance, samples_variance, variances["reference"], tolerance, gaps[1]
    )
    return {
        "association_excess": excess,
        "association_se": se,
        "association_z": (excess - tolerance) / se,
        "association_p_value": p,
    }


# -- the whole distribution --------------------------------------------------------------------


def _aligned_features(samples: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Both tables stacked (samples first) with every shared column numeric (float) or
    categorical over the union of both tables' values, as the classifier reads them."""
    columns = [c for c in reference.columns if c in samples.columns]
    if not columns:
        raise DataError("the samples and the reference share no column")
    stacked = pd.concat(
        [samples[columns].reset_index(drop=True), reference[columns].reset_index(drop=True)],
        ignore_index=True,
    )
    features = {}
    for column in columns:
        values = stacked[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            features[column] = values.astype(float)
            continue
        values = values.astype(str)
        categories = sorted(values.unique())
        if len(categories) > 250:  # above the classifier's bin count: read the codes as numbers
            features[column] = pd.Categorical(values, categories=categories).codes.astype(float)
        else:
            features[column] = pd.Categorical(values, categories=categories)
    table = pd.DataFrame(features)
    if table.select_dtypes("number").isna().any().any():
        raise DataError("the samples or the reference hold missing numeric values")
    return table


def classifier_two_sample_test(
    samples: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    seed: int,
    params: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Classifier two-sample test of ``samples`` against ``reference`` (tables with the same
    columns). ``n = min(len(samples), len(reference))`` rows of each (seeded subsample), half of
    each held out; a histogram gradient-boosting classifier (``params`` override
    :data:`DEFAULT_C2ST`) learns which rows are samples. Returns ``c2st_accuracy`` (held-out
    accuracy), ``c2st_n_test`` and ``c2st_p_value`` (one-sided binomial test of accuracy > 1/2).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    n = min(len(samples), len(reference))
    if n < 10:
        raise DataError(
            f"the two-sample test needs at least 10 rows of each set, got {len(samples)} samples "
            f"and {len(reference)} reference rows"
        )
    rng = np.random.default_rng(seed)
    samples = samples.iloc[np.sort(rng.choice(len(samples), n, replace=False))]
    reference = reference.iloc[np.sort(rng.choice(len(reference), n, replace=False))]
    features = _aligned_features(samples, reference)
    origin = np.r_[np.ones(n, dtype=np.int8), np.zeros(n, dtype=np.int8)]
    train_x, test_x, train_y, test_y = train_test_split(
        features, origin, test_size=0.5, stratify=origin, random_state=seed
    )
    options = {**DEFAULT_C2ST, **(params or {})}
    try:
        model = HistGradientBoostingClassifier(
            categorical_features="from_dtype", early_stopping=False, random_state=seed, **options
        )
    except TypeError as error:
        raise ConfigError(f"defense.audit.classifier: invalid parameter: {error}") from error
    model.fit(train_x, train_y)
    correct = int((model.predict(test_x) == test_y).sum())
    n_test = len(test_y)
    p_value = stats.binomtest(correct, n_test, 0.5, alternative="greater").pvalue
    return {
        "c2st_accuracy": correct / n_test,
        "c2st_n_test": n_test,
        "c2st_p_value": float(p_value),
    }


# -- the audit ---------------------------------------------------------------------------------


def check_tests(tests: Sequence[str]) -> list[str]:
    """The audit's tests, checked: a list of names from :data:`TESTS` that holds
    ``association`` (the test behind ``flagged``)."""
    tests = list(tests)
    unknown = [t for t in tests if t not in TESTS]
    if unknown or not tests:
        raise ConfigError(f"defense.audit.tests: {tests!r}; choose one or more of {list(TESTS)}")
    if "association" not in tests:
        raise ConfigError(
            f"defense.audit.tests: {tests!r} must hold association, the test behind flagged "
            "(distribution only adds the distribution_shift signal)"
        )
    return tests


def assumed_train_rows(n_samples: int, n_reference: int) -> int:
    """The training set's size when nobody says (``train_rows=None``): the smaller of the
    samples' and the reference's row counts. Smaller training sets vary more, so a guess on the
    small side widens the null and keeps false alarms rare; a model trained on fewer rows than
    both is unusual, and the real figure (``--train-rows``, the workflow's subset size) should
    be given when known."""
    return int(min(n_samples, n_reference))


def audit_samples(
    samples: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    s_samples: Any,
    y_samples: Any,
    s_reference: Any,
    y_reference: Any,
    train_rows: int | None = None,
    level: float = 0.05,
    tests: Sequence[str] = TESTS,
    tolerance: float = 0.0,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    classifier: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Audit a shared model's ``samples`` against the receiver's trusted ``reference`` rows.

    ``s_*`` and ``y_*`` are the 0/1 sensitive attribute (1 = privileged) and label (1 = positive)
    of each table's rows; ``train_rows`` the number of rows the model was trained on (None:
    :func:`assumed_train_rows`, and ``train_rows_assumed`` is True). Returns one flat record
    with the columns of :data:`AUDIT_COLUMNS`: ``flagged`` is ``association_p_value <= level``
    (:func:`association_test`); ``distribution_shift`` is ``c2st_p_value <= level``, or None
    with NaN statistics when ``distribution`` is not in ``tests``."""
    if not 0 < level < 1:
        raise ConfigError(f"defense.audit.level must be in (0, 1), got {level}")
    tests = check_tests(tests)
    counts = sy_table(s_samples, y_samples, what="samples")
    reference_counts = sy_table(s_reference, y_reference, what="reference")
    if counts.sum() != len(samples):
        raise DataError(f"samples have {len(samples)} rows but {counts.sum()} s/y values")
    if reference_counts.sum() != len(reference):
        raise DataError(
            f"reference has {len(reference)} rows but {reference_counts.sum()} s/y values"
        )
    assumed = train_rows is None
    train_rows = (
        assumed_train_rows(len(samples), len(reference))
        if assumed
        else check_train_rows(train_rows)
    )
    record: dict[str, Any] = {
        "n_samples": len(samples),
        "n_reference": len(reference),
        "train_rows": train_rows,
        "train_rows_assumed": assumed,
    }
    for offset, name in enumerate(STATISTICS):
        record[name] = STATISTICS[name](counts)
        low, high = bootstrap_interval(
            counts, name, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed + offset
        )
        record[f"{name}_ci_low"], record[f"{name}_ci_high"] = low, high
        record[f"{name}_reference"] = STATISTICS[name](reference_counts)
    record.update(
        association_test(counts, reference_counts, train_rows=train_rows, tolerance=tolerance)
    )
    record.update(c2st_accuracy=np.nan, c2st_n_test=0, c2st_p_value=np.nan)
    record["distribution_shift"] = None
    if "distribution" in tests:
        record.update(classifier_two_sample_test(samples, reference, seed=seed, params=classifier))
        record["distribution_shift"] = bool(record["c2st_p_value"] <= level)
    record["flagged"] = bool(record["association_p_value"] <= level)
    return {column: record[column] for column in AUDIT_COLUMNS}


def reference_rows(n_rows: int, size: int, *, seed: int) -> np.ndarray:
    """Positions (sorted) of the ``size`` rows the receiver holds as its trusted reference,
    drawn without replacement from ``n_rows`` (seeded)."""
    if size < 10:
        raise ConfigError(f"defense.audit.reference_size must be at least 10, got {size}")
    if size > n_rows:
        raise ConfigError(
            f"defense.audit.reference_size is {size} but the test split has only {n_rows} rows"
        )
    return np.sort(np.random.default_rng(seed).choice(n_rows, size, replace=False))


def audit_record(
    record: Mapping[str, Any], *, dataset: str, attack: str, alpha: str, seed: str
) -> dict[str, Any]:
    """One shared model's audit record as ``audit_samples`` writes it: which model (the
    workflow's wildcards, alpha as a float and seed as an integer) then the statistics, ready
    for JSON (:func:`json_record`)."""
    identity = {"dataset": dataset, "attack": attack, "alpha": float(alpha), "seed": int(seed)}
    return json_record({**identity, **record})


def json_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """An audit record ready for JSON (:func:`diffshare.storage.json_ready`): the NaN of a test
    left out of ``tests`` becomes None (null; :func:`diffshare.defenses.fpa_report.audit_table`
    reads it back as NaN)."""
    from diffshare.storage import json_ready

    return json_ready(dict(record))


# -- tables ------------------------------------------------------------------------------------


def audit_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per attack and alpha (and dataset, when the table has one) over seeds: ``n_seeds``,
    ``flag_rate`` (the association test's rejection rate: the detection rate, on the ``none``
    models the false-alarm rate), ``distribution_shift_rate`` (the two-sample test's, never a
    verdict; NaN where it did not run), with the mean of the statistics."""
    if table.empty:
        raise DataError("the audit table is empty")
    frame = table.copy()
    frame["distribution_shift"] = pd.to_numeric(
        frame["distribution_shift"].astype("boolean"), errors="raise"
    ).astype(float)
    keys = [c for c in ("dataset", "attack", "alpha") if c in frame.columns]
    grouped = frame.groupby(keys, sort=True)
    summary = grouped.agg(
        n_seeds=("seed", "nunique"),
        flag_rate=("flagged", "mean"),
        distribution_shift_rate=("distribution_shift", "mean"),
        mi_sy_mean=("mi_sy", "mean"),
        dp_gap_mean=("dp_gap", "mean"),
        dp_gap_reference_mean=("dp_gap_reference", "mean"),
        association_excess_mean=("association_excess", "mean"),
        c2st_accuracy_mean=("c2st_accuracy", "mean"),
    ).reset_index()
    summary["flag_rate"] = summary["flag_rate"].astype(float)
    return summary


def audit_table(
    samples: pd.DataFrame, reference: pd.DataFrame, schema: Any, **options: Any
) -> dict[str, Any]:
    """:func:`audit_samples` of two prepared tables described by ``schema`` (a
    :class:`~diffshare.data.schema.TableSchema`): their columns in its order, the sensitive
    attribute and label read by it; ``options`` as :func:`audit_samples` takes them. The one
    call of the workflow's job, ``diffshare``'s benchmark and tests."""
    schema.check_table(samples, "samples")
    schema.check_table(reference, "reference")
    return audit_samples(
        samples[schema.columns],
        reference[schema.columns],
        s_samples=schema.groups(samples),
        y_samples=schema.labels(samples),
        s_reference=schema.groups(reference),
        y_reference=schema.labels(reference),
        **options,
    )
