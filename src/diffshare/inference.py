"""Property inference on anything: a table or an image set of samples, with or without the
receiver's auxiliary data, outside the workflow (``diffshare infer``).

:func:`infer_property` runs the workflow's estimator (:func:`diffshare.tracks.tabular.
estimate_property` or :func:`diffshare.tracks.image.estimate_property`, so the same samples, seed
and settings give the same estimates) and :func:`summarize` turns its per-repeat estimates into
one row per attack: the mean estimate and a t interval over the repeats' disjoint query
batches. That interval is **sampling noise only**: it says how much another draw of as many
samples from the same model would move the estimate, not how far the model's own share (or a
discriminator's bias) is from the share in the data it was trained on.

A user's table comes without our dataset catalogue, so :func:`infer_schema` derives the column
roles from the data: numeric columns are features as numbers, every other column a categorical
feature, and the property column the discriminator's label.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from diffshare.attacks.pia.bounds import hoeffding_eps
from diffshare.attacks.pia.estimate import check_sample_count
from diffshare.attacks.pia.property import Property
from diffshare.data.images import ImageSet, resize
from diffshare.data.schema import TableSchema
from diffshare.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Columns of ``diffshare infer``'s output, in order (``abs_error``, ``true_share`` only with a
#: true share; ``tpr``, ``fpr`` are the discriminator's held-out rates, on its attacks' rows).
COLUMNS = [
    "property",
    "attack",
    "estimate",
    "ci_low",
    "ci_high",
    "hoeffding_eps",
    "n_queries",
    "repeats",
    "true_share",
    "abs_error",
    "tpr",
    "fpr",
]
#: Columns a calibrated run adds: the rows of each shadow set, and the seconds the shadows of
#: that family took (training, sampling, attacking).
CALIBRATION_COLUMNS = ["shadow_rows", "calibration_seconds"]
#: The settings of a shadow model of each built-in table family: the workflow's PIA defaults
#: (tabddpm at pia.generator_steps, CTGAN and TVAE at generator.ctgan/tvae); plugins their own.
SHADOW_SETTINGS = {
    "tabddpm": {"steps": 1500},
    "ctgan": {"epochs": 300, "batch_size": 500},
    "tvae": {"epochs": 300, "batch_size": 500},
}
TABLE_ATTACKS = ("column", "aux", "aux_corrected")
IMAGE_ATTACKS = ("aux", "aux_corrected")


def parse_property(text: str) -> Property:
    """``column=value`` as a :class:`Property`; :class:`ConfigError` naming the text."""
    column, sep, value = str(text).partition("=")
    if not sep or not column.strip() or not value.strip():
        raise ConfigError(f"--property {text!r} must be COLUMN=VALUE, e.g. sex=Female")
    return Property(column.strip(), value.strip())


def default_attacks(modality: str, prop: Property, samples: Any, has_auxiliary: bool) -> list:
    """The attacks that can run: ``column`` where the samples carry the property column,
    ``aux`` and ``aux_corrected`` with auxiliary data."""
    attacks = []
    if modality == "table" and prop.column in samples.columns:
        attacks.append("column")
    if has_auxiliary:
        attacks += ["aux", "aux_corrected"]
    if not attacks:
        raise DataError(
            f"no attack can run: the samples have no column {prop.column!r} and no auxiliary "
            "data (--aux) was given to train a discriminator on"
        )
    return attacks


def infer_schema(
    samples: pd.DataFrame, auxiliary: pd.DataFrame | None, prop: Property
) -> TableSchema:
    """The roles of a user's columns: those the samples (and the auxiliary table) share, numeric
    ones as numbers, the others categorical with the categories a pandas categorical declares
    (a table written by diffshare) or those the rows hold, sorted; the property column is the
    label (and, for the schema's sake, the sensitive attribute)."""
    columns = [c for c in samples.columns if auxiliary is None or c in auxiliary.columns]
    if prop.column not in columns and auxiliary is not None and prop.column in auxiliary.columns:
        columns.append(prop.column)
    tables = [t for t in (samples, auxiliary) if t is not None]
    numeric, categorical, categories = [], [], {}
    for column in columns:
        present = [t[column] for t in tables if column in t.columns]
        if (
            column != prop.column
            and all(pd.api.types.is_numeric_dtype(v) for v in present)
            and not any(isinstance(v.dtype, pd.CategoricalDtype) for v in present)
        ):
            numeric.append(column)
            continue
        declared = next(
            (
                list(map(str, v.cat.categories))
                for v in present
                if isinstance(v.dtype, pd.CategoricalDtype)
            ),
            None,
        )
        observed = sorted(set().union(*(set(v.astype(str).unique()) for v in present)))
        if declared is not None:
            declared += [v for v in observed if v not in declared]
        categories[column] = declared if declared is not None else observed
        if column != prop.column:
            categorical.append(column)
    return TableSchema(
        numeric=numeric,
        categorical=categorical,
        label=prop.column,
        positive=prop.value,
        sensitive=prop.column,
        privileged=prop.value,
        categories=categories,
    )


def check_property(prop: Property, tables: dict[str, Any]) -> None:
    """:class:`DataError` unless ``prop.value`` occurs in ``prop.column`` of some table (named
    by role in ``tables``), naming the values it holds."""
    present = {k: t for k, t in tables.items() if t is not None}
    if not any(prop.column in table.columns for table in present.values()):
        columns = sorted(set().union(*(map(str, t.columns) for t in present.values())))
        raise DataError(
            f"{' and '.join(present)} hold no property column {prop.column!r}; their columns "
            f"are {columns}"
        )
    values: set[str] = set()
    for table in present.values():
        if prop.column in table.columns:
            values |= set(table[prop.column].astype(str).str.strip().unique())
    if prop.value not in values:
        shown = sorted(values)[:20]
        raise DataError(
            f"the property value {prop.value!r} occurs in column {prop.column!r} of neither "
            f"{' nor '.join(tables)}; the values there are {shown}"
        )


def infer_property(
    samples: pd.DataFrame | ImageSet,
    prop: Property,
    *,
    auxiliary: pd.DataFrame | ImageSet | None = None,
    attacks: Sequence[str] | None = None,
    queries: int = 1000,
    repeats: int = 10,
    seed: int = 0,
    classifier: str | None = None,
    params: dict[str, Any] | None = None,
    holdout: float = 0.5,
    schema: TableSchema | None = None,
    device: str = "auto",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every attack's estimates of the share of ``prop`` in the data behind ``samples``: the
    per-repeat table of :func:`diffshare.attacks.pia.estimate.estimate_property` (columns
    ``attack, n_queries, repeat, estimate``) and its record (the discriminator's rates).

    Tables: ``schema`` (the prepared dataset's, as the workflow passes) or one derived from the
    data (:func:`infer_schema`); ``classifier`` one of logreg, hgb (default), mlp. Images: the
    auxiliary set (required) labels the property in its attribute ``prop.column``; the samples
    are resized to its size; ``classifier`` cnn (default)."""
    image = isinstance(samples, ImageSet)
    # before a discriminator is trained for nothing
    hint = "; lower --queries or --repeats, or draw more samples"
    check_sample_count(len(samples), queries, repeats, hint)
    if image:
        return _infer_images(
            samples, prop, auxiliary, attacks, queries, repeats, seed, classifier, params,
            holdout, device,
        )  # fmt: skip
    from diffshare.tracks import tabular

    if auxiliary is not None and prop.column not in auxiliary.columns:
        raise DataError(
            f"the auxiliary table has no property column {prop.column!r}; it has "
            f"{list(auxiliary.columns)}"
        )
    check_property(prop, {"the samples": samples, "the auxiliary table": auxiliary})
    attacks = list(attacks or default_attacks("table", prop, samples, auxiliary is not None))
    _check_attacks(attacks, TABLE_ATTACKS, auxiliary is not None)
    if "column" in attacks and prop.column not in samples.columns:
        raise DataError(
            f"the column attack reads the samples' column {prop.column!r}, which they lack; "
            f"their columns are {list(samples.columns)}"
        )
    schema = schema or infer_schema(samples, auxiliary, prop)
    discriminator = {"classifier": classifier or "hgb", "params": params or {}, "holdout": holdout}
    return tabular.estimate_property(
        samples,
        auxiliary if auxiliary is not None else samples.iloc[:0],
        prop,
        schema=schema,
        attacks=attacks,
        queries=[queries],
        repeats=repeats,
        discriminator=discriminator,
        seed=seed,
    )


def _check_attacks(attacks: Sequence[str], supported: Sequence[str], has_auxiliary: bool) -> None:
    unknown = [a for a in attacks if a not in supported]
    if unknown:
        raise ConfigError(f"unknown attacks {unknown}; choose from {list(supported)}")
    needing = [a for a in attacks if a in ("aux", "aux_corrected")]
    if needing and not has_auxiliary:
        raise ConfigError(
            f"the attacks {needing} train a discriminator on the receiver's labelled auxiliary "
            "data: give it with --aux"
        )


def _infer_images(
    samples: ImageSet,
    prop: Property,
    auxiliary: ImageSet | None,
    attacks: Sequence[str] | None,
    queries: int,
    repeats: int,
    seed: int,
    classifier: str | None,
    params: dict[str, Any] | None,
    holdout: float,
    device: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from diffshare.tracks import image

    if auxiliary is None:
        raise ConfigError(
            "property inference on images needs the receiver's labelled auxiliary images "
            "(--aux: a .npz set or a folder with labels.csv) to train its discriminator"
        )
    if prop.column not in auxiliary.attributes:
        raise DataError(
            f"the auxiliary images have no attribute {prop.column!r} (they have "
            f"{sorted(auxiliary.attributes)}); a folder gives them in labels.csv"
        )
    table = pd.DataFrame({prop.column: auxiliary.attributes[prop.column]})
    check_property(prop, {"the auxiliary images": table})
    attacks = list(attacks or IMAGE_ATTACKS)
    _check_attacks(attacks, IMAGE_ATTACKS, True)
    size = auxiliary.images.shape[1:3]
    if samples.images.shape[-1] != auxiliary.images.shape[-1]:
        raise DataError(
            f"the samples have {samples.images.shape[-1]} channels and the auxiliary images "
            f"{auxiliary.images.shape[-1]}: give both in colour or both in grey"
        )
    if samples.images.shape[1:3] != size:
        if size[0] != size[1]:
            raise DataError(f"auxiliary images must be square to resize samples to, got {size}")
        samples = ImageSet(resize(samples.images, size[0]), samples.attributes)
    discriminator = {"classifier": classifier or "cnn", "params": params or {}, "holdout": holdout}
    return image.estimate_property(
        samples,
        auxiliary,
        prop,
        attacks=attacks,
        queries=[queries],
        repeats=repeats,
        discriminator=discriminator,
        seed=seed,
        device=device,
    )


def summarize(
    estimates: pd.DataFrame,
    record: dict[str, Any],
    prop: Property,
    *,
    delta: float = 0.05,
    level: float = 0.95,
    true_share: float | None = None,
) -> pd.DataFrame:
    """One row per attack and query count (:data:`COLUMNS`): the mean of the repeats'
    estimates, its t interval at ``level`` over the repeats, clipped to [0, 1] (sampling noise
    only; empty with one repeat), Hoeffding's eps at ``delta``, and the error against
    ``true_share`` when given."""
    from diffshare.reporting.summary import t_interval

    if true_share is not None and not 0.0 <= true_share <= 1.0:
        raise ConfigError(f"--true-share must be in [0, 1], got {true_share}")
    rows = []
    for (attack, n), group in estimates.groupby(["attack", "n_queries"], sort=False):
        values = group.sort_values("repeat")["estimate"].to_numpy(dtype=np.float64)
        mean, _, low, high = t_interval(values, level)
        low, high = max(low, 0.0), min(high, 1.0)  # a share; NaN (one repeat) stays NaN
        discriminated = attack in ("aux", "aux_corrected")
        rows.append(
            {
                "property": f"{prop.column}={prop.value}",
                "attack": attack,
                "estimate": mean,
                "ci_low": low,
                "ci_high": high,
                "hoeffding_eps": hoeffding_eps(int(n), delta),
                "n_queries": int(n),
                "repeats": len(values),
                "true_share": true_share,
                "abs_error": abs(mean - true_share) if true_share is not None else None,
                "tpr": record.get("tpr") if discriminated else None,
                "fpr": record.get("fpr") if discriminated else None,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def calibrate_inference(
    estimates: pd.DataFrame,
    prop: Property,
    auxiliary: pd.DataFrame,
    *,
    families: Sequence[str],
    label: str,
    shares: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
    attack: str | None = None,
    queries: int = 1000,
    repeats: int = 10,
    seed: int = 0,
    delta: float = 0.05,
    max_rows: int | None = None,
    schema: TableSchema | None = None,
    progress: Any = None,
) -> pd.DataFrame:
    """Calibrated rows (:data:`COLUMNS` plus :data:`CALIBRATION_COLUMNS`) for a table's raw
    ``estimates`` (of :func:`infer_property`): per family, shadow models trained on the
    receiver's ``auxiliary`` rows at each of ``shares`` (as the sharer trains, with ``label`` as
    the model's label), attacked alike, fitted
    (:func:`~diffshare.attacks.pia.calibration.fit_calibration`) and inverted for the mean of
    the target's repeats: an estimate and a ``1 - delta`` prediction interval (``ci_low``,
    ``ci_high``). With more than one family, a last row ``calibrated (any family)`` spans
    them all: the honest answer when the family is unknown.

    ``attack``: the raw attack calibrated (``column`` where the estimates have it, else
    ``aux``); ``max_rows``: the shadows' size cap (default: as large as the auxiliary rows allow
    at every share)."""
    import time

    from diffshare.attacks.pia.calibration import check_grid, fit_calibration, shadow_size
    from diffshare.attacks.pia.property import ratio_rows
    from diffshare.generators import make_generator

    if not families:
        raise ConfigError("calibration needs at least one generator family (--calibrate)")
    if label not in auxiliary.columns:
        raise DataError(
            f"--label {label!r} is not a column of the auxiliary table; it has "
            f"{list(auxiliary.columns)}"
        )
    if label == prop.column:
        raise ConfigError(f"--label {label!r} is the property's column; name the model's label")
    available = list(dict.fromkeys(estimates["attack"]))
    attack = attack or ("column" if "column" in available else "aux")
    if attack not in available:
        raise ConfigError(f"cannot calibrate attack {attack!r}: the estimates hold {available}")
    shares = check_grid(shares, "--shares")
    has = prop.indicator(auxiliary, "the auxiliary table")
    size = shadow_size(has, shares, max_rows or len(auxiliary))
    values = sorted(map(str, auxiliary[label].astype(str).unique()))
    train_schema = infer_schema(auxiliary, None, Property(label, values[-1]))
    estimate_schema = schema or infer_schema(auxiliary, None, prop)
    raw = estimates[estimates["attack"] == attack]
    n = int(raw["n_queries"].max())
    raw_mean = float(raw[raw["n_queries"] == n]["estimate"].mean())
    rows, intervals = [], []
    for family in families:
        start = time.perf_counter()
        shadows = []
        for share in shares:
            if progress:
                progress(f"calibrating on {family}: shadow at share {share:g} ({size} rows)")
            picked = ratio_rows(has, share, size, seed, what=f"property {prop}")
            model = make_generator(family, SHADOW_SETTINGS.get(family, {}), seed=seed)
            model.fit(auxiliary.iloc[picked].reset_index(drop=True), train_schema)
            drawn = model.sample(n * repeats, seed=seed)
            shadow, _ = infer_property(
                drawn, prop, auxiliary=auxiliary, attacks=[attack], queries=n,
                repeats=repeats, seed=seed, schema=estimate_schema,
            )  # fmt: skip
            shadows.append(shadow.assign(true_ratio=float(has[picked].mean())))
        calibration = fit_calibration(pd.concat(shadows, ignore_index=True), attack)
        estimate, low, high = calibration.interval(raw_mean, n, delta, repeats=repeats)
        intervals.append((estimate, low, high))
        rows.append(
            _calibrated_row(
                f"calibrated ({family})",
                prop,
                estimate,
                low,
                high,
                n,
                repeats,
                delta,
                size,
                time.perf_counter() - start,
            )  # fmt: skip
        )
    if len(families) > 1:
        lows, highs = [i[1] for i in intervals], [i[2] for i in intervals]
        estimate = float(np.median([i[0] for i in intervals]))
        seconds = sum(r["calibration_seconds"] for r in rows)
        rows.append(
            _calibrated_row(
                "calibrated (any family)",
                prop,
                estimate,
                min(lows),
                max(highs),
                n,
                repeats,
                delta,
                size,
                seconds,
            )  # fmt: skip
        )
    return pd.DataFrame(rows, columns=COLUMNS + CALIBRATION_COLUMNS)


def _calibrated_row(
    attack: str,
    prop: Property,
    estimate: float,
    low: float,
    high: float,
    n: int,
    repeats: int,
    delta: float,
    size: int,
    seconds: float,
) -> dict[str, Any]:
    return {
        "property": f"{prop.column}={prop.value}",
        "attack": attack,
        "estimate": estimate,
        "ci_low": low,
        "ci_high": high,
        "hoeffding_eps": hoeffding_eps(n, delta),
        "n_queries": n,
        "repeats": repeats,
        "shadow_rows": size,
        "calibration_seconds": seconds,
    }
