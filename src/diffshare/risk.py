"""One report of what a shared model (or a file of its samples) risks: ``diffshare check``.

:func:`check_risks` puts side by side

- **property leakage**: for every declared sensitive property, the share a receiver reads off
  the samples (:mod:`diffshare.inference`), with its sampling-noise interval;
- **the fairness audit** (:func:`diffshare.defenses.audit.audit_samples`) when a trusted
  reference of real rows and the label and sensitive columns are given;
- **record-level closeness** (:func:`diffshare.evaluation.closeness.closeness`) when the sharer
  gives its training rows and a holdout of unseen rows;
- **what the sharer's defenses would buy** (:mod:`diffshare.defenses.pia`): decoy sampling,
  replayed on the samples at hand (the served rows carry the decoy share; the receiver's
  estimates are taken again on them), and rebalancing, applied to the training rows (the share
  and the label association the model would then learn, and the rows it duplicates);

and returns one JSON-ready record, which :mod:`diffshare.reporting.risk_report` renders as a
page or as markdown. A section that cannot run says why in ``skipped``.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from diffshare.attacks.pia.estimate import UncorrectableError
from diffshare.attacks.pia.property import Property
from diffshare.data.images import ImageSet
from diffshare.errors import DataError, DiffshareError
from diffshare.inference import default_attacks, infer_property, summarize
from diffshare.inputs import binary_columns
from diffshare.storage import json_ready

log = logging.getLogger(__name__)

#: How precisely a receiver reads a share (the half-width of the interval) for each severity.
LEAKAGE_SEVERITY = ((0.05, "high"), (0.10, "medium"))
#: The attack whose estimate headlines a property, first found first: the samples' own column
#: (the share they carry, read exactly), else the corrected discriminator.
HEADLINE_ATTACKS = ("column", "aux_corrected", "aux")

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    log.info("%s", message)


def _leakage_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lines = []
    for prop in dict.fromkeys(row["property"] for row in rows):
        mine = {row["attack"]: row for row in rows if row["property"] == prop}
        attack = next(a for a in (*HEADLINE_ATTACKS, *mine) if a in mine)
        row = mine[attack]
        low, high = row["ci_low"], row["ci_high"]
        if low is None or high is None:
            severity, interval = "info", "no interval (one repeat)"
        else:
            half = (high - low) / 2
            severity = next((s for bound, s in LEAKAGE_SEVERITY if half <= bound), "low")
            interval = f"[{low:.3f}, {high:.3f}]"
        finding = f"{prop}: share {row['estimate']:.3f} {interval} ({attack} attack)"
        if row.get("abs_error") is not None:
            finding += f", {row['abs_error']:.3f} from the true share {row['true_share']:.3f}"
        lines.append({"risk": "property leakage", "finding": finding, "severity": severity})
    return lines


def _audit_summary(audit: Mapping[str, Any], level: float) -> dict[str, Any]:
    """The audit's summary line: the verdict (the one-sided association test, which alone sets
    the severity) and, apart, whether the two-sample test sees a distribution shift."""
    flagged = bool(audit["flagged"])
    finding = (
        f"{'FLAGGED' if flagged else 'passed'} at level {level:g} (one-sided test of a raised "
        f"gap): demographic-parity gap {audit['dp_gap']:.3f} in the samples, "
        f"{audit['dp_gap_reference']:.3f} in the reference"
    )
    if audit.get("train_rows_assumed"):
        finding += f", training rows assumed {audit['train_rows']} (give --training)"
    shift = audit.get("distribution_shift")
    if shift is not None:
        finding += (
            "; distribution shift (not a verdict): "
            + ("yes" if shift else "no")
            + f", two-sample p {audit['c2st_p_value']:.2g}"
        )
    return {"risk": "fairness audit", "finding": finding, "severity": "high" if flagged else "low"}


def _closeness_summary(result: Mapping[str, Any], level: float) -> dict[str, Any]:
    close = result["p_value"] <= level
    severity = ("high" if result["exact_copies"] else "medium") if close else "low"
    finding = (
        f"{result['share_closer_to_training']:.3f} of the samples are closer to a training row "
        f"than to an unseen one (0.5 if nothing is memorised; p {result['p_value']:.2g}); "
        f"{result['exact_copies']} exact copies"
    )
    return {"risk": "record-level closeness", "finding": finding, "severity": severity}


def decoy_sampling_effect(
    samples: pd.DataFrame,
    prop: Property,
    *,
    decoy: float,
    estimate: Callable[[pd.DataFrame], pd.DataFrame],
    seed: int,
) -> dict[str, Any]:
    """Decoy sampling replayed on a sample file: as many rows are served as the file can fill
    at share ``decoy`` (at most half of it), chosen by the property column so that exactly
    ``decoy`` of them have it (:func:`diffshare.defenses.pia.decoy_samples`, drawing the file's
    rows in order), and ``estimate(served)`` gives the receiver's rows on them."""
    from diffshare.defenses.pia import decoy_samples

    has = prop.indicator(samples, "the samples")
    fill = min(
        has.sum() / decoy if decoy > 0 else np.inf,
        (len(has) - has.sum()) / (1 - decoy) if decoy < 1 else np.inf,
    )
    served_n = int(min(len(samples) // 2, np.floor(fill)))
    if served_n < 2:
        raise DataError(
            f"the {len(samples)} samples hold {int(has.sum())} rows with the property: too few "
            f"to serve any at a share of {decoy}"
        )
    position = {"next": 0}

    def draw(count: int, _seed: int) -> pd.DataFrame:
        start = position["next"]
        if start >= len(samples):  # cannot happen when the fill above is right; never loop
            raise DataError(f"decoy sampling used all {len(samples)} samples")
        position["next"] = start + count
        return samples.iloc[start : start + count]

    served, record = decoy_samples(
        draw,
        lambda rows: prop.indicator(rows, "the samples"),
        n=served_n,
        decoy=decoy,
        seed=seed,
        max_draw_factor=len(samples) / served_n,
    )
    return {"served": served, "record": record, "estimates": estimate(served)}


def rebalance_effect(
    training: pd.DataFrame, prop: Property, label: str, *, decoy: float, seed: int
) -> dict[str, Any]:
    """Rebalancing applied to the sharer's ``training`` rows: the property share and the gap
    P(label = its larger value | property) - P(... | no property) before and after, and the
    share of rows that are duplicates after (:func:`diffshare.defenses.pia.rebalance_rows`)."""
    from diffshare.defenses.pia import rebalance_rows

    if label not in training.columns:
        raise DataError(f"the training table has no label column {label!r}")
    has = prop.indicator(training, "the training table")
    labels = training[label].astype(str).to_numpy()
    positive = sorted(set(labels))[-1]
    rows, record = rebalance_rows(has, labels, decoy, seed)

    def gap(h: np.ndarray, y: np.ndarray) -> float | None:
        if h.all() or not h.any():
            return None
        return float((y[h == 1] == positive).mean() - (y[h == 0] == positive).mean())

    return {
        "share_before": float(has.mean()),
        "share_after": float(has[rows].mean()),
        "label_gap_before": gap(has, labels),
        "label_gap_after": gap(has[rows], labels[rows]),
        "duplicated_share": 1.0 - len(np.unique(rows)) / len(rows),
        "record": record,
    }


@dataclass(frozen=True)
class CheckSettings:
    """How ``diffshare check`` measures: the estimates' query count, repeats, seed and property
    discriminator (None: hgb for tables, the CNN for images), the tests' ``level``, Hoeffding's
    ``delta``, the defenses' ``decoy`` share, and the torch ``device``."""

    queries: int = 1000
    repeats: int = 10
    seed: int = 0
    classifier: str | None = None
    level: float = 0.05
    delta: float = 0.05
    decoy: float = 0.5
    device: str = "auto"
    #: Families to calibrate the property estimates on (tables; :func:`calibrate_inference`),
    #: the model's label column they are trained with, their shares and size cap.
    calibrate: tuple[str, ...] = ()
    label: str | None = None
    shares: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
    shadow_rows: int | None = None


def _name(prop: Property) -> str:
    return f"{prop.column}={prop.value}"


def leakage_rows(
    samples: pd.DataFrame | ImageSet,
    prop: Property,
    auxiliary: pd.DataFrame | ImageSet | None,
    settings: CheckSettings,
    true_share: float | None,
    notes: list[str],
) -> list[dict[str, Any]]:
    """The rows of :func:`diffshare.inference.summarize` for one property, with the auxiliary
    data's own share; a discriminator no better than chance cannot be corrected, so then
    ``aux_corrected`` is left out with a note, and the other attacks reported."""
    image = isinstance(samples, ImageSet)
    options = dict(
        auxiliary=auxiliary,
        queries=settings.queries,
        repeats=settings.repeats,
        seed=settings.seed,
        classifier=settings.classifier,
        device=settings.device,
    )
    try:
        estimates, record = infer_property(samples, prop, **options)
    except UncorrectableError as error:
        notes.append(f"{_name(prop)}: aux_corrected left out: {error}")
        modality = "image" if image else "table"
        attacks = default_attacks(modality, prop, samples, auxiliary is not None)
        attacks = [a for a in attacks if a != "aux_corrected"]
        estimates, record = infer_property(samples, prop, attacks=attacks, **options)
    rows = summarize(estimates, record, prop, delta=settings.delta, true_share=true_share)
    if settings.calibrate:
        rows = pd.concat(
            [rows, calibrated_rows(estimates, samples, prop, auxiliary, settings, notes)],
            ignore_index=True,
        )
        if true_share is not None:
            rows["abs_error"] = (rows["estimate"] - true_share).abs()
            rows["true_share"] = true_share
    if auxiliary is not None and not image and prop.column in auxiliary.columns:
        rows["aux_share"] = float(prop.indicator(auxiliary, "the auxiliary table").mean())
    return rows.to_dict("records")


def calibrated_rows(
    estimates: pd.DataFrame,
    samples: pd.DataFrame | ImageSet,
    prop: Property,
    auxiliary: pd.DataFrame | ImageSet | None,
    settings: CheckSettings,
    notes: list[str],
) -> pd.DataFrame:
    """The calibrated estimates of one property (:func:`calibrate_inference`), with a note of
    their cost; a note instead where the inputs cannot calibrate."""
    from diffshare.inference import calibrate_inference

    missing = []
    if isinstance(samples, ImageSet):
        missing.append("a table (images are calibrated by the workflow)")
    if not isinstance(auxiliary, pd.DataFrame):
        missing.append("auxiliary rows (--aux)")
    if not settings.label:
        missing.append("the model's label column (--label)")
    if missing:
        notes.append(f"{_name(prop)}: not calibrated: it needs {', '.join(missing)}")
        return pd.DataFrame()
    rows = calibrate_inference(
        estimates, prop, auxiliary, families=settings.calibrate, label=settings.label,
        shares=settings.shares, queries=settings.queries, repeats=settings.repeats,
        seed=settings.seed, delta=settings.delta, max_rows=settings.shadow_rows,
    )  # fmt: skip
    spent = rows["calibration_seconds"].iloc[: len(settings.calibrate)].sum()
    notes.append(
        f"{_name(prop)}: calibrated on {', '.join(settings.calibrate)} with "
        f"{len(settings.shares)} shadow models of {int(rows['shadow_rows'].iloc[0])} rows "
        f"each per family, in {spent:.0f} s"
    )
    return rows


def audit_record(
    samples: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    label: str,
    sensitive: str,
    positive: str | None,
    privileged: str | None,
    settings: CheckSettings,
    train_rows: int | None = None,
) -> dict[str, Any]:
    """The receiver's fairness audit of ``samples`` against ``reference``
    (:func:`diffshare.defenses.audit.audit_samples`), with the label and sensitive columns;
    ``train_rows``: the sharer's training rows, when given (else the audit assumes a number and
    says so)."""
    from diffshare.defenses.audit import DEFAULT_C2ST, audit_samples

    tables = {"the samples": samples, "the reference": reference}
    y = list(binary_columns(tables, label, positive, "label").values())
    s = list(binary_columns(tables, sensitive, privileged, "sensitive").values())
    record = audit_samples(
        samples,
        reference,
        s_samples=s[0],
        y_samples=y[0],
        s_reference=s[1],
        y_reference=y[1],
        train_rows=train_rows,
        level=settings.level,
        classifier=DEFAULT_C2ST,
        seed=settings.seed,
    )
    return {**record, "label": label, "sensitive": sensitive}


def decoy_sampling_row(
    samples: pd.DataFrame,
    prop: Property,
    auxiliary: pd.DataFrame | None,
    settings: CheckSettings,
    before: float | None,
) -> dict[str, Any]:
    """The defenses row of decoy sampling replayed on ``samples``
    (:func:`decoy_sampling_effect`): the receiver's headline estimate on the served rows."""

    def estimate(served: pd.DataFrame) -> pd.DataFrame:
        found, record = infer_property(
            served,
            prop,
            auxiliary=auxiliary,
            queries=max(1, min(settings.queries, len(served) // settings.repeats)),
            repeats=settings.repeats,
            seed=settings.seed,
            classifier=settings.classifier,
        )
        return summarize(found, record, prop, delta=settings.delta)

    effect = decoy_sampling_effect(
        samples, prop, decoy=settings.decoy, estimate=estimate, seed=settings.seed
    )
    after = effect["estimates"].set_index("attack")["estimate"]
    attack = next(a for a in HEADLINE_ATTACKS if a in after.index)
    drawn, served = effect["record"]["drawn"], effect["record"]["served"]
    return {
        "property": _name(prop),
        "defense": "decoy_sampling",
        "decoy": settings.decoy,
        "estimate_before": before,
        "estimate_after": float(after[attack]),
        "cost": f"draws {drawn / served:.2f} rows per served row; needs a sampling service, "
        "not a shared model",
        "note": f"{attack} attack on {served} served rows",
    }


def rebalance_row(
    training: pd.DataFrame, prop: Property, label: str, settings: CheckSettings
) -> dict[str, Any]:
    """The defenses row of rebalancing the sharer's ``training`` rows
    (:func:`rebalance_effect`): the share a model trained on them would learn, and the cost."""
    effect = rebalance_effect(training, prop, label, decoy=settings.decoy, seed=settings.seed)
    gaps = [effect["label_gap_before"], effect["label_gap_after"]]
    shown = [f"{g:+.3f}" if g is not None else "—" for g in gaps]
    return {
        "property": _name(prop),
        "defense": "rebalance",
        "decoy": settings.decoy,
        "estimate_before": effect["share_before"],
        "estimate_after": effect["share_after"],
        "cost": f"{effect['duplicated_share']:.1%} of the training rows duplicated; the {label} "
        f"gap between the groups {shown[0]} -> {shown[1]}; retrain",
        "note": "training share before and after: a model trained on it leaks the decoy share",
    }


def check_risks(
    samples: pd.DataFrame | ImageSet,
    properties: Sequence[Property],
    *,
    inputs: Mapping[str, Any],
    auxiliary: pd.DataFrame | ImageSet | None = None,
    reference: pd.DataFrame | None = None,
    label: str | None = None,
    sensitive: str | None = None,
    positive: str | None = None,
    privileged: str | None = None,
    training: pd.DataFrame | None = None,
    holdout: pd.DataFrame | None = None,
    true_shares: Mapping[str, float] | None = None,
    settings: CheckSettings = CheckSettings(),
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """The risk record of ``samples`` (see the module's docstring; the keys are those
    :mod:`diffshare.reporting.risk_report` renders). ``inputs`` names the files, for the page.
    ``true_shares``: the property's true share by ``column=value``, where the sharer knows it."""
    from diffshare import __version__

    image = isinstance(samples, ImageSet)
    true_shares = dict(true_shares or {})
    summary: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    notes = [
        "Leakage intervals are t intervals over the repeats' disjoint query batches: sampling "
        "noise only. They do not cover the model's own distortion of the share nor a "
        "discriminator's bias, so the true share may lie outside them.",
    ]

    leakage: list[dict[str, Any]] = []
    for prop in properties:
        progress(f"property leakage: {_name(prop)}")
        share = true_shares.get(_name(prop))
        leakage += leakage_rows(samples, prop, auxiliary, settings, share, notes)
    summary += _leakage_summary(leakage)

    audit = None
    if image:
        skipped["audit"] = "the audit runs on tables (diffshare audit); these samples are images"
    elif reference is None or not label or not sensitive:
        skipped["audit"] = "give --reference with --label and --sensitive to audit fairness"
    else:
        progress("fairness audit")
        audit = audit_record(
            samples,
            reference,
            label=label,
            sensitive=sensitive,
            positive=positive,
            privileged=privileged,
            settings=settings,
            train_rows=None if training is None else len(training),
        )
        summary.append(_audit_summary(audit, settings.level))

    close = None
    if image:
        skipped["closeness"] = "closeness is measured on tables"
    elif training is None or holdout is None:
        skipped["closeness"] = "give the sharer's --training rows and unseen --holdout rows"
    else:
        from diffshare.evaluation.closeness import closeness

        progress("record-level closeness")
        close = closeness(samples, training, holdout, level=settings.level, seed=settings.seed)
        summary.append(_closeness_summary(close, settings.level))

    defenses: list[dict[str, Any]] = []
    reasons = []
    for prop in properties:
        name = _name(prop)
        mine = {row["attack"]: row["estimate"] for row in leakage if row["property"] == name}
        before = next((mine[a] for a in HEADLINE_ATTACKS if a in mine), None)
        if image or prop.column not in samples.columns:
            reasons.append(f"decoy sampling of {name}: the samples carry no {prop.column!r} column")
        else:
            progress(f"decoy sampling: {name}")
            try:
                defenses.append(decoy_sampling_row(samples, prop, auxiliary, settings, before))
            except DiffshareError as error:
                reasons.append(f"decoy sampling of {name}: {error}")
        if training is None or not label:
            reasons.append(f"rebalancing of {name}: give --training rows and their --label")
        elif prop.column not in training.columns:
            reasons.append(f"rebalancing of {name}: the training rows lack {prop.column!r}")
        else:
            progress(f"rebalancing: {name}")
            try:
                defenses.append(rebalance_row(training, prop, label, settings))
            except DiffshareError as error:
                reasons.append(f"rebalancing of {name}: {error}")
    if reasons and defenses:
        notes.append("Defenses not measured: " + "; ".join(reasons) + ".")
    elif reasons:
        skipped["defenses"] = "; ".join(reasons)

    return json_ready(
        {
            "tool": "diffshare check",
            "version": __version__,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "inputs": {
                **inputs,
                "n_samples": len(samples),
                "modality": "image" if image else "table",
            },
            "settings": {
                "properties": [_name(p) for p in properties],
                **asdict(settings),
                "classifier": settings.classifier or ("cnn" if image else "hgb"),
            },
            "summary": summary,
            "leakage": leakage,
            "audit": audit,
            "closeness": close,
            "defenses": defenses or None,
            "skipped": skipped,
            "notes": notes,
        }
    )
