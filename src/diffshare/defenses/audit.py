"""The receiver's audit of a shared model's samples against a small trusted reference of real rows.

Fairness poisoning raises the association of the sensitive attribute S with the label Y in the
sharer's subset (the sharer holds I(X;Y) fixed), so the samples' 2x2 (s, y) table is the
cheapest fingerprint. The audit reports, for the samples:

- ``mi_sy``: the plug-in mutual information I(S;Y) of the (s, y) table, in nats;
- ``dp_gap``: the label's demographic-parity gap P(y=1 | s=1) - P(y=1 | s=0) (signed: positive
  when the privileged group has the higher positive rate);

each with a seeded percentile bootstrap interval, and the same two statistics of the reference.
Two tests compare the samples with the reference:

- the **association test** (:func:`association_test`): a two-sided Wald z test that the samples'
  demographic-parity gap equals the reference's. The two samples are independent, so the
  difference of the gaps has variance ``sum p_g (1 - p_g) / n_g`` over the four groups (two per
  table); the proportions are Agresti-Caffo adjusted (one positive and one negative added to each
  group), which keeps the test close to its nominal level at small counts and defines it when a
  group's rate is 0 or 1 (Agresti and Caffo 2000). At the audit's sizes (a 500-row reference, of
  which on Adult about 160 rows are in the unprivileged group, against thousands of samples) each
  group holds well over ten positives and negatives, where the normal approximation of a
  difference of proportions is accurate; ``tests/test_audit.py`` checks the false-alarm rate on
  independent draws.
- the **distribution test** (:func:`classifier_two_sample_test`): a classifier two-sample test
  (Lopez-Paz and Oquab 2017). Equal numbers of sample and reference rows (the larger set is
  subsampled, seeded) are labelled by origin and split in half; a gradient-boosted classifier
  trained on one half predicts the other. Under the null (one distribution) a held-out row's
  origin is independent of the classifier's prediction, so the number of correct held-out
  predictions is Binomial(n, 1/2); the p-value is the one-sided binomial tail. It sees every
  column, so an attack that leaves S-Y alone is not invisible, but it also sees the shared
  model's own imperfections: on a real generator it rejects unpoisoned models too (measure it,
  the summary reports each test's rejection rate apart).

``flagged`` combines the chosen tests with Bonferroni's correction: a model is flagged when any
test's p-value is at most ``level / n_tests``, so that when the samples are distributed as the
reference the chance of a false alarm is at most ``level``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from diffshare.attacks.fpa.information import mutual_information_from_counts
from diffshare.errors import ConfigError, DataError

#: The tests the audit can run, in the order of its columns.
TESTS = ("association", "distribution")
#: The column holding each test's p-value.
P_VALUE = {"association": "association_p_value", "distribution": "c2st_p_value"}

#: Leading columns of results/audit/{dataset}.csv (after attack, alpha, seed), in order.
AUDIT_COLUMNS = [
    "n_samples",
    "n_reference",
    "mi_sy",
    "mi_sy_ci_low",
    "mi_sy_ci_high",
    "mi_sy_reference",
    "dp_gap",
    "dp_gap_ci_low",
    "dp_gap_ci_high",
    "dp_gap_reference",
    "association_z",
    "association_p_value",
    "c2st_accuracy",
    "c2st_n_test",
    "c2st_p_value",
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


def association_test(samples: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Two-sided Wald z test that two independent (2, 2) tables have equal demographic-parity
    gaps, with Agresti-Caffo adjusted proportions (one positive and one negative added to each
    group). Returns ``(z, p_value)``; z > 0 when the first table's gap is the larger."""
    gaps, variances = [], []
    for counts in (samples, reference):
        counts = np.asarray(counts, dtype=float)
        n = counts.sum(axis=1) + 2.0
        rates = (counts[:, 1] + 1.0) / n
        gaps.append(rates[1] - rates[0])
        variances.append(float(np.sum(rates * (1 - rates) / n)))
    z = (gaps[0] - gaps[1]) / np.sqrt(variances[0] + variances[1])
    return float(z), float(2 * stats.norm.sf(abs(z)))


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
    """The audit's tests, checked: a non-empty list of names from :data:`TESTS`."""
    tests = list(tests)
    unknown = [t for t in tests if t not in TESTS]
    if unknown or not tests:
        raise ConfigError(f"defense.audit.tests: {tests!r}; choose one or more of {list(TESTS)}")
    return tests


def audit_samples(
    samples: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    s_samples: Any,
    y_samples: Any,
    s_reference: Any,
    y_reference: Any,
    level: float = 0.05,
    tests: Sequence[str] = TESTS,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    classifier: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Audit a shared model's ``samples`` against the receiver's trusted ``reference`` rows.

    ``s_*`` and ``y_*`` are the 0/1 sensitive attribute (1 = privileged) and label (1 = positive)
    of each table's rows. Returns one flat record with the columns of :data:`AUDIT_COLUMNS`
    (statistics in nats or rates; the p-value of a test left out of ``tests`` is NaN and does not
    count towards ``flagged``, which is ``any p <= level / len(tests)``)."""
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
    record: dict[str, Any] = {"n_samples": len(samples), "n_reference": len(reference)}
    for offset, name in enumerate(STATISTICS):
        record[name] = STATISTICS[name](counts)
        low, high = bootstrap_interval(
            counts, name, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed + offset
        )
        record[f"{name}_ci_low"], record[f"{name}_ci_high"] = low, high
        record[f"{name}_reference"] = STATISTICS[name](reference_counts)
    record["association_z"], record["association_p_value"] = (np.nan, np.nan)
    if "association" in tests:
        z, p = association_test(counts, reference_counts)
        record["association_z"], record["association_p_value"] = z, p
    record.update(c2st_accuracy=np.nan, c2st_n_test=0, c2st_p_value=np.nan)
    if "distribution" in tests:
        record.update(classifier_two_sample_test(samples, reference, seed=seed, params=classifier))
    p_values = [record[P_VALUE[test]] for test in tests]
    record["flagged"] = bool(min(p_values) <= level / len(tests))
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


def audit_summary(
    table: pd.DataFrame, tests: Sequence[str] = TESTS, level: float = 0.05
) -> pd.DataFrame:
    """Per attack and alpha (and dataset, when the table has one) over seeds: ``n_seeds``,
    ``flag_rate`` (the detection rate; on the ``none`` models the false-alarm rate), and each
    test's own rejection rate at its Bonferroni level (``association_reject_rate``,
    ``c2st_reject_rate``; NaN for a test not run), with the mean of the statistics."""
    if table.empty:
        raise DataError("the audit table is empty")
    tests = check_tests(tests)
    threshold = level / len(tests)
    frame = table.copy()
    for name in ("association", "c2st"):
        p = frame[f"{name}_p_value"]
        frame[f"{name}_reject"] = (p <= threshold).where(p.notna())
    keys = [c for c in ("dataset", "attack", "alpha") if c in frame.columns]
    grouped = frame.groupby(keys, sort=True)
    summary = grouped.agg(
        n_seeds=("seed", "nunique"),
        flag_rate=("flagged", "mean"),
        association_reject_rate=("association_reject", "mean"),
        c2st_reject_rate=("c2st_reject", "mean"),
        mi_sy_mean=("mi_sy", "mean"),
        dp_gap_mean=("dp_gap", "mean"),
        dp_gap_reference_mean=("dp_gap_reference", "mean"),
        c2st_accuracy_mean=("c2st_accuracy", "mean"),
    ).reset_index()
    summary["flag_rate"] = summary["flag_rate"].astype(float)
    return summary
